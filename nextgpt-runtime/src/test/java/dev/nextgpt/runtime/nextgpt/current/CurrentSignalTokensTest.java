package dev.nextgpt.runtime.nextgpt.current;

import dev.nextgpt.runtime.nextgpt.InMemoryTensorStore;
import dev.nextgpt.runtime.nextgpt.LlamaTextTokenizer;

import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.io.CompositeTensorStore;
import dev.nextgpt.runtime.io.SafetensorsFile;
import dev.nextgpt.runtime.io.TensorStore;
import dev.nextgpt.runtime.llm.LlamaTokenizer;
import dev.nextgpt.runtime.nextgpt.Modality;
import dev.nextgpt.runtime.nextgpt.SignalTokens;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CurrentSignalTokensTest {

    @Test
    void idsSeparatorAndLayoutOnTheFixtureTokenizer() {
        try (LlamaTokenizer llama = CurrentFixtures.currentTokenizer()) {
            LlamaTextTokenizer tok = new LlamaTextTokenizer(llama);
            assertArrayEquals(new long[] {512, 513, 514, 515}, CurrentSignalTokens.signalIds(tok, Modality.IMAGE, 4));
            assertEquals(540, CurrentSignalTokens.signalIds(tok, Modality.AUDIO, 8)[0]);
            long sep = CurrentSignalTokens.separatorId(tok);
            // this legacy=True tokenizer encodes the lone space between two special tokens with its dummy prefix:
            // "▁▁" (a legacy=False Vicuna-v1.5 tokenizer gives "▁"); the id is always read from the tokenizer
            assertEquals(llama.tokenId("▁▁"), sep);
            SignalTokens st = CurrentSignalTokens.of(tok, CurrentSignalTokens.DEFAULT_COUNTS);
            assertEquals(7, st.spanLength(Modality.IMAGE));
            assertEquals(47, st.spanLength(Modality.VIDEO));
            assertEquals(15, st.spanLength(Modality.AUDIO));
            assertEquals(List.of(), CurrentSignalTokens.checkContiguousLayout(st, 512));
            assertEquals(36, CurrentSignalTokens.checkContiguousLayout(st, 32000).size());
            assertEquals(36, CurrentSignalTokens.addedTokens(CurrentSignalTokens.DEFAULT_COUNTS).size());
            assertEquals("<audio_07>", CurrentSignalTokens.addedTokens(CurrentSignalTokens.DEFAULT_COUNTS).get(35));
        }
        try (LlamaTokenizer base = LlamaTokenizer.load(CurrentFixtures.llamaDir())) {
            assertThrows(ModelFormatException.class,
                    () -> CurrentSignalTokens.signalIds(new LlamaTextTokenizer(base), Modality.IMAGE, 4));
        }
    }

    @Test
    void newRowsAreTheMeanOfOldRows() {
        float[] t = {1, 2, 3, 5, 8, 13};   // 3 rows x 2
        float[] r = CurrentSignalTokens.resizeWithMeanRows(t, 3, 2, 2);
        assertArrayEquals(new float[] {1, 2, 3, 5, 8, 13, 4, 20f / 3, 4, 20f / 3}, r, 1e-6f);
        // adapter rules: same shape -> last N rows; N rows -> all; other -> error
        float[] full = {0, 0, 0, 0, 0, 0, 7, 7, 9, 9};
        float[] a = r.clone();
        CurrentSignalTokens.overwriteNewRows(a, 5, 2, 2, full, new long[] {5, 2}, "adapter");
        assertArrayEquals(new float[] {1, 2, 3, 5, 8, 13, 7, 7, 9, 9}, a);
        float[] b = r.clone();
        CurrentSignalTokens.overwriteNewRows(b, 5, 2, 2, new float[] {6, 6, 4, 4}, new long[] {2, 2}, "adapter");
        assertArrayEquals(new float[] {1, 2, 3, 5, 8, 13, 6, 6, 4, 4}, b);
        assertThrows(ModelFormatException.class, () -> CurrentSignalTokens.overwriteNewRows(r.clone(), 5, 2, 2,
                new float[] {1, 1, 1, 1, 1, 1}, new long[] {3, 2}, "adapter"));
    }

    @Test
    void resizedFixtureCheckpointOverlay() {
        try (TensorStore base = SafetensorsFile.open(CurrentFixtures.llamaDir().resolve("model.safetensors"))) {
            InMemoryTensorStore resized = CurrentSignalTokens.resizedEmbeddings(base, 36, null);
            try (CompositeTensorStore merged = CompositeTensorStore.overriding(List.of(base, resized))) {
                assertArrayEquals(new long[] {548, 64}, merged.info("model.embed_tokens.weight").shape());
                assertArrayEquals(new long[] {548, 64}, merged.info("lm_head.weight").shape());
                float[] old = base.readFloats("lm_head.weight");
                float[] now = merged.readFloats("lm_head.weight");
                for (int d = 0; d < 64; d += 7) {
                    double mean = 0;
                    for (int row = 0; row < 512; row++) {
                        mean += old[row * 64 + d];
                    }
                    mean /= 512;
                    assertEquals(mean, now[547 * 64 + d], 1e-6);
                    assertEquals(old[100 * 64 + d], now[100 * 64 + d]);
                }
                assertTrue(merged.contains("model.layers.0.self_attn.q_proj.weight"));
            }
        }
    }
}
