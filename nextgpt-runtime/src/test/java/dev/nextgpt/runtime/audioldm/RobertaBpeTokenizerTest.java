package dev.nextgpt.runtime.audioldm;

import dev.nextgpt.InvalidInputException;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.io.SafetensorsFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class RobertaBpeTokenizerTest {
    private static final List<String> PROMPTS = List.of("A dog barking in the rain",
            "Techno music with a strong beat", "");

    private static RobertaBpeTokenizer tokenizer() {
        return RobertaBpeTokenizer.fromFolder(AudioLdmGolden.root().resolve("tokenizer"));
    }

    @Test
    void readsSpecialTokensAndMaxLengthFromConfig() {
        RobertaBpeTokenizer tok = tokenizer();
        assertEquals(0, tok.bosTokenId());
        assertEquals(2, tok.eosTokenId());
        assertEquals(1, tok.padTokenId());
        assertEquals(3, tok.unkTokenId());
        assertEquals(512, tok.modelMaxLength());
        assertEquals(351, tok.vocabSize());
    }

    @Test
    void unpaddedIdsMatchReadme() {
        RobertaBpeTokenizer tok = tokenizer();
        assertArrayEquals(new int[] {0, 69, 287, 342, 266, 307, 271, 272, 36, 283, 2},
                tok.encodeWithSpecials(PROMPTS.get(0), 512));
        assertArrayEquals(new int[] {0, 295, 36, 338, 291, 332, 263, 292, 270, 340, 266, 319, 2},
                tok.encodeWithSpecials(PROMPTS.get(1), 512));
        assertArrayEquals(new int[] {0, 2}, tok.encodeWithSpecials("", 512));
    }

    @Test
    void paddedBatchMatchesCase1Exactly() {
        RobertaBpeTokenizer tok = tokenizer();
        try (SafetensorsFile f = AudioLdmGolden.openCase("case1_clap_text")) {
            RobertaBpeTokenizer.Encoding enc = tok.encodeBatch(PROMPTS);
            assertEquals(3, enc.batchSize());
            assertEquals(512, enc.length());
            long[] ids = f.readLongs("input_ids");
            long[] mask = f.readLongs("attention_mask");
            for (int b = 0; b < 3; b++) {
                assertArrayEquals(Arrays.copyOfRange(ids, b * 512, (b + 1) * 512), enc.inputIds()[b], "ids " + b);
                assertArrayEquals(Arrays.copyOfRange(mask, b * 512, (b + 1) * 512), enc.attentionMask()[b],
                        "mask " + b);
            }
            // The pipeline's negative prompt: "" padded to prompt_embeds.shape[1] = 512.
            RobertaBpeTokenizer.Encoding unc = tok.encodeBatch(List.of(""), 512);
            assertArrayEquals(f.readLongs("uncond_input_ids"), unc.inputIds()[0]);
            assertArrayEquals(f.readLongs("uncond_attention_mask"), unc.attentionMask()[0]);
        }
        try (SafetensorsFile f = AudioLdmGolden.openCase("case6_e2e_text")) {
            assertArrayEquals(f.readLongs("prompt_input_ids"),
                    tok.encodeBatch(List.of("A dog barking in the rain")).inputIds()[0]);
        }
    }

    @Test
    void truncatesAtTheEndKeepingEos() {
        RobertaBpeTokenizer tok = tokenizer();
        int[] full = tok.encodeWithSpecials(PROMPTS.get(1), 512);
        int[] cut = tok.encodeWithSpecials(PROMPTS.get(1), 5);
        assertArrayEquals(new int[] {0, full[1], full[2], full[3], 2}, cut);
        RobertaBpeTokenizer.Encoding enc = tok.encodeBatch(List.of(PROMPTS.get(1)), 5);
        assertArrayEquals(new long[] {1, 1, 1, 1, 1}, enc.attentionMask()[0]);
        assertThrows(InvalidInputException.class, () -> tok.encodeWithSpecials("x", 1));
    }

    @Test
    void decodeRoundTripsAndSpecialTokensInTextAreKept() {
        RobertaBpeTokenizer tok = tokenizer();
        String text = "Techno music, with ümlauts & 42 beats!";
        int[] ids = tok.tokenize(text);
        assertEquals(text, tok.decode(Arrays.stream(ids).asLongStream().toArray(), true));
        // "<s>" written in the text is the special token, not "<", "s", ">".
        int[] withSpecial = tok.tokenize("a</s>b");
        assertEquals(3, withSpecial.length, Arrays.toString(withSpecial));
        assertEquals(2, withSpecial[1]);
        // <mask> has lstrip: the space before it is absorbed.
        assertArrayEquals(tok.tokenize("a<mask>"), tok.tokenize("a <mask>"));
    }

    @Test
    void missingFilesAreReported(@TempDir Path dir) {
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> RobertaBpeTokenizer.fromFolder(dir));
        assertTrue(e.getMessage().contains("vocab.json"));
    }
}
