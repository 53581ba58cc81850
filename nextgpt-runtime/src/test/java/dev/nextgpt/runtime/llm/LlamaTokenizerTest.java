package dev.nextgpt.runtime.llm;

import ai.djl.ndarray.NDManager;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.nextgpt.ModelFormatException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static dev.nextgpt.runtime.llm.LlamaGolden.*;
import static org.junit.jupiter.api.Assertions.*;

/** Golden tokenizer cases and case 6 (added tokens, resized vocabulary). */
class LlamaTokenizerTest {
    static LlamaTokenizer tok;

    @BeforeAll
    static void load() {
        tok = LlamaTokenizer.load(dir());
    }

    @AfterAll
    static void close() {
        tok.close();
    }

    @Test
    void goldenTokenizerCases() {
        int n = 0;
        for (JsonElement e : json("cases/tokenizer_cases.json").getAsJsonArray("cases")) {
            JsonObject c = e.getAsJsonObject();
            String text = c.get("text").getAsString();
            long[] ids = longs(c.get("ids"));
            assertArrayEquals(ids, tok.encode(text, true), "ids of " + text);
            assertArrayEquals(Arrays.copyOfRange(ids, 1, ids.length), tok.encode(text, false), "no-BOS ids of " + text);
            assertEquals(c.get("decoded").getAsString(), tok.decode(ids, true), "decode of " + text);
            n++;
        }
        assertEquals(17, n);
        assertEquals(1, tok.bosId());
        assertEquals(2, tok.eosId());
        assertEquals(0, tok.padId());
    }

    @Test
    void longInputIsNotTruncated() {
        String text = "Hello world. ".repeat(200);
        long[] ids = tok.encode(text, true);
        assertTrue(ids.length > 1000, "ids " + ids.length);
        assertEquals(text, tok.decode(ids, true));
    }

    @Test
    void case6AddedSpecialTokensMatchOriginalIds() {
        JsonObject c6 = json("cases/case6_resized_tokens.json");
        List<String> tokens = new ArrayList<>();
        for (Map.Entry<String, JsonElement> e : c6.getAsJsonObject("added_tokens").entrySet()) {
            tokens.add(e.getKey());
        }
        try (LlamaTokenizer added = tok.withAddedTokens(tokens, true);
             LlamaTokenizer resized = LlamaTokenizer.load(dir().resolve("resized"))) {
            for (Map.Entry<String, JsonElement> e : c6.getAsJsonObject("added_tokens").entrySet()) {
                assertEquals(e.getValue().getAsInt(), added.tokenId(e.getKey()));
                assertEquals(e.getValue().getAsInt(), resized.tokenId(e.getKey()));
            }
            assertEquals(521, added.vocabSize());
            for (JsonElement e : c6.getAsJsonArray("cases")) {
                String text = e.getAsJsonObject().get("text").getAsString();
                long[] ids = longs(e.getAsJsonObject().get("input_ids"));
                assertArrayEquals(ids, added.encode(text, true), text);
                assertArrayEquals(ids, resized.encode(text, true), text);
            }
            long[] text1 = longs(c6.getAsJsonArray("cases").get(1).getAsJsonObject().get("input_ids"));
            assertEquals("<s><image_00000><image_00001>  a cat <image_00002> \n<image_00003>[IMG0]  done",
                    added.decode(text1, false));
        }
    }

    @Test
    void legacySignalTokensAreNormalAndStripWhitespace() {
        try (LlamaTokenizer legacy = tok.withLegacySignalTokens()) {
            assertEquals(512, legacy.tokenId("<Img>"));
            assertEquals(513, legacy.tokenId("</Img>"));
            assertEquals(514, legacy.tokenId("[IMG0]"));
            assertEquals(518, legacy.tokenId("[VID0]"));
            assertEquals(542, legacy.tokenId("[AUD0]"));
            assertEquals(550, legacy.vocabSize());
            long[] ids = legacy.encode("x[IMG0] [IMG1] [IMG2] [IMG3]\n###", false);
            long[] x = legacy.encode("x", false);
            long[] hashes = legacy.encode("###", false);
            long[] expected = new long[x.length + 4 + hashes.length];
            System.arraycopy(x, 0, expected, 0, x.length);
            for (int i = 0; i < 4; i++) {
                expected[x.length + i] = 514 + i;
            }
            System.arraycopy(hashes, 0, expected, x.length + 4, hashes.length);
            assertArrayEquals(expected, ids);
            assertFalse(legacy.isSpecial(514));
            assertTrue(legacy.decode(ids, true).contains("[IMG0]"), "normal tokens survive skip-special decode");
        }
        try (LlamaTokenizer current = tok.withCurrentSignalTokens()) {
            assertEquals(512, current.tokenId("<image_00>"));
            assertEquals(516, current.tokenId("<video_00>"));
            assertEquals(540, current.tokenId("<audio_00>"));
            long[] ids = current.encode("<image_00> <image_01>", false);
            assertEquals(3, ids.length, Arrays.toString(ids)); // the space is its own piece
            assertEquals(512, ids[0]);
            assertEquals(513, ids[2]);
            assertTrue(current.isSpecial(512));
            assertFalse(current.decode(ids, true).contains("<image_00>"));
        }
    }

    @Test
    void sentencePieceOnlyFolderGivesConversionHint(@TempDir Path tmp) throws Exception {
        Files.write(tmp.resolve("tokenizer.model"), new byte[] {1, 2, 3});
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> LlamaTokenizer.load(tmp));
        assertTrue(e.getMessage().contains("save_pretrained"), e.getMessage());
        assertTrue(e.getMessage().contains("tokenizer.json"), e.getMessage());
    }

    @Test
    void case6ResizedModelLogits() {
        JsonObject c6 = json("cases/case6_resized_tokens.json");
        try (LlamaModel model = LlamaModel.load(dir().resolve("resized")); NDManager m = NDManager.newBaseManager()) {
            assertEquals(521, model.vocabSize());
            assertEquals(521, model.embeddingRows());
            for (int i = 0; i < 2; i++) {
                long[] ids = longs(c6.getAsJsonArray("cases").get(i).getAsJsonObject().get("input_ids"));
                assertClose("case6 text" + i + ".logits", expected("case6_resized_logits.safetensors",
                        "text" + i + ".logits"), model.forward(ids(m, ids), null, false).logits());
            }
        }
    }
}
