package dev.nextgpt.runtime.clip;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.io.SafetensorsFile;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static dev.nextgpt.runtime.media.MediaFixtures.resource;
import static org.junit.jupiter.api.Assertions.*;

class ClipBpeTokenizerTest {
    private static ClipBpeTokenizer imageBind;
    private static JsonArray cases;

    @BeforeAll
    static void load() throws Exception {
        imageBind = ClipBpeTokenizer.fromBpeGz(resource("golden/imagebind/bpe/bpe_simple_vocab_16e6.txt.gz"));
        JsonObject o = JsonParser.parseString(Files.readString(resource("golden/imagebind/preprocess/tokenizer.json")))
                .getAsJsonObject();
        cases = o.getAsJsonArray("cases");
    }

    @Test
    void vocabularyLayoutMatchesImageBind() {
        assertEquals(49408, imageBind.vocabSize());
        assertEquals(49406, imageBind.startOfTextId());
        assertEquals(49407, imageBind.endOfTextId());
        assertEquals(0, imageBind.padId());
    }

    @Test
    void imageBindGoldenIdsExactly() {
        long[] expected;
        long[] expectedCopy;
        try (SafetensorsFile f = SafetensorsFile.open(resource("golden/imagebind/preprocess/tokenizer.safetensors"))) {
            expected = f.readLongs("input_ids");
            expectedCopy = f.readLongs("input_ids_nextgpt_copy");
        }
        assertEquals(9, cases.size());
        for (int r = 0; r < cases.size(); r++) {
            JsonObject c = cases.get(r).getAsJsonObject();
            String text = c.get("text").getAsString();
            List<String> pieces = new ArrayList<>();
            for (JsonElement e : c.getAsJsonArray("bpe_tokens")) {
                pieces.add(e.getAsString());
            }
            assertEquals(pieces, imageBind.pieces(text), "pieces of row " + r + ": " + text);
            long[] row = Arrays.copyOfRange(expected, r * 77, (r + 1) * 77);
            assertArrayEquals(row, imageBind.encode(text), "row " + r + ": " + text);
            long[] rowCopy = Arrays.copyOfRange(expectedCopy, r * 77, (r + 1) * 77);
            assertArrayEquals(rowCopy, imageBind.encodeDroppingEotOnOverflow(text), "nextgpt copy row " + r);
        }
    }

    @Test
    void decodeRoundTrip() {
        String text = "a photo of a bird sitting on a branch";
        assertEquals(text, imageBind.decode(imageBind.encode(text)));
        assertEquals("café naïve", imageBind.decode(imageBind.encode("Café  naïve")));
    }

    @Test
    void stableDiffusionFolderMatchesCase1() {
        ClipBpeTokenizer sd = ClipBpeTokenizer.fromFolder(resource("golden/stable-diffusion/tokenizer"));
        assertEquals(574, sd.startOfTextId());
        assertEquals(575, sd.endOfTextId());
        assertEquals(0, sd.padId());
        assertEquals(77, sd.contextLength());
        String[] prompts = {"a photograph of an astronaut riding a horse", "A  Red cube on top of a BLUE sphere, 4k!",
                "an oil painting of a cat sitting on a chair next to a window, ".repeat(6), ""};
        long[] ids;
        long[] mask;
        try (SafetensorsFile f = SafetensorsFile.open(resource("golden/stable-diffusion/cases/case1_text_encoder.safetensors"))) {
            ids = f.readLongs("input.input_ids");
            mask = f.readLongs("input.attention_mask");
        }
        for (int r = 0; r < prompts.length; r++) {
            assertArrayEquals(Arrays.copyOfRange(ids, r * 77, (r + 1) * 77), sd.encode(prompts[r]), "prompt " + r);
            assertArrayEquals(Arrays.copyOfRange(mask, r * 77, (r + 1) * 77), sd.attentionMask(prompts[r]), "mask " + r);
        }
        assertEquals(150, sd.tokenize(prompts[2]).length);
    }

    @Test
    void folderPaddingTokenFollowsConfig(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path src = resource("golden/stable-diffusion/tokenizer");
        Files.copy(src.resolve("vocab.json"), dir.resolve("vocab.json"));
        Files.copy(src.resolve("merges.txt"), dir.resolve("merges.txt"));
        Files.writeString(dir.resolve("tokenizer_config.json"),
                "{\"model_max_length\": 77, \"pad_token\": \"<|endoftext|>\"}");
        ClipBpeTokenizer sd15 = ClipBpeTokenizer.fromFolder(dir);
        assertEquals(575, sd15.padId());
        long[] ids = sd15.encode("a horse");
        assertEquals(575, ids[76]);
        assertEquals(574, ids[0]);
    }

    @Test
    void missingFilesAreTypedErrors(@org.junit.jupiter.api.io.TempDir Path dir) {
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> ClipBpeTokenizer.fromFolder(dir));
        assertTrue(e.getMessage().contains(dir.toString()));
        assertThrows(ModelFormatException.class, () -> ClipBpeTokenizer.fromBpeGz(dir.resolve("nope.txt.gz")));
    }
}
