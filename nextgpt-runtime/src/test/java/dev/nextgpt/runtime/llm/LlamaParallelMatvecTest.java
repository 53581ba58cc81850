package dev.nextgpt.runtime.llm;

import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.Test;

import static dev.nextgpt.runtime.llm.LlamaGolden.dir;
import static dev.nextgpt.runtime.llm.LlamaGolden.json;
import static dev.nextgpt.runtime.llm.LlamaGolden.longs;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The two-thread row-half decode matvec gives the same logits, bit for bit, as the single linear. */
class LlamaParallelMatvecTest {

    private static LlamaModel load(String mode) {
        String old = System.getProperty(LlamaModel.PARALLEL_MATVEC_PROPERTY);
        System.setProperty(LlamaModel.PARALLEL_MATVEC_PROPERTY, mode);
        try {
            return LlamaModel.load(dir());
        } finally {
            if (old == null) {
                System.clearProperty(LlamaModel.PARALLEL_MATVEC_PROPERTY);
            } else {
                System.setProperty(LlamaModel.PARALLEL_MATVEC_PROPERTY, old);
            }
        }
    }

    /** Prefill of the case3 prompt, then 4 greedy single-token steps; all step logits concatenated. */
    private static float[] decode(LlamaModel model) {
        long[] prompt = longs(json("cases/cases.json").getAsJsonObject("case3").get("input_ids"));
        int v = model.vocabSize();
        float[] all = new float[5 * v];
        try (NDManager m = NDManager.newBaseManager(); LlamaModel.KvCache cache = model.newCache(1, 4)) {
            long[] ids = prompt;
            for (int s = 0; s < 5; s++) {
                try (NDManager sub = m.newSubManager()) {
                    float[] logits = model.step(sub, model.embed(sub, new long[][] {ids}), null, cache,
                            LlamaModel.Logits.LAST, false).logits().toFloatArray();
                    System.arraycopy(logits, 0, all, s * v, v);
                    ids = new long[] {LlamaGenerator.argmax(logits)};
                }
            }
        }
        return all;
    }

    @Test
    void splitEqualsSingleMatvecIncludingLora() {
        try (LlamaModel on = load("true"); LlamaModel off = load("false");
             LoraAdapter lora = LoraAdapter.load(dir().resolve("lora"))) {
            assertTrue(on.parallelMatvec());
            assertFalse(off.parallelMatvec());
            assertArrayEquals(decode(off), decode(on), "base model");
            for (boolean merge : new boolean[] {false, true}) {
                on.applyLora(lora, merge);
                off.applyLora(lora, merge);
                try {
                    assertArrayEquals(decode(off), decode(on), "LoRA merge=" + merge);
                } finally {
                    on.removeLora();
                    off.removeLora();
                }
            }
            assertArrayEquals(decode(off), decode(on), "after removeLora");
        }
    }

    @Test
    void badPropertyValueIsRejected() {
        Exception e = assertThrows(dev.nextgpt.InvalidInputException.class, () -> load("sometimes").close());
        assertTrue(e.getMessage().contains(LlamaModel.PARALLEL_MATVEC_PROPERTY), e.getMessage());
    }
}
