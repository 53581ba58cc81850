package dev.nextgpt.runtime.llm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.google.gson.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;

import static dev.nextgpt.runtime.llm.LlamaGolden.*;
import static org.junit.jupiter.api.Assertions.*;

/** Golden cases 3 and 4 (greedy with KV cache) and the generation options. */
class LlamaGeneratorTest {
    static LlamaModel model;
    static LlamaTokenizer tok;
    static LlamaGenerator gen;
    static long[] prompt0;

    @BeforeAll
    static void load() {
        model = LlamaModel.load(dir());
        tok = LlamaTokenizer.load(dir());
        gen = new LlamaGenerator(model);
        prompt0 = longs(json("cases/cases.json").getAsJsonObject("case3").get("input_ids"));
    }

    @AfterAll
    static void close() {
        model.close();
        tok.close();
    }

    private static float[] flat(float[][] rows) {
        int n = rows[0].length;
        float[] out = new float[rows.length * n];
        for (int i = 0; i < rows.length; i++) {
            System.arraycopy(rows[i], 0, out, i * n, n);
        }
        return out;
    }

    @Test
    void case3GreedyWithCache() {
        JsonObject c3 = json("cases/cases.json").getAsJsonObject("case3");
        LlamaGenerator.Result r = gen.generate(new long[][] {prompt0},
                new GenerationOptions().maxNewTokens(24).collectLogits(true).collectHiddenStates(true));
        assertArrayEquals(longs(c3.get("generated_ids")), r.newTokens()[0]);
        assertArrayEquals(longs(c3.get("full_sequence")), r.sequences()[0]);
        assertEquals(LlamaGenerator.FinishReason.LENGTH, r.finishReasons()[0]);
        float[] expected = expected("case3_greedy_step_logits.safetensors", "step_logits");
        float[] actual = new float[3 * 512];
        for (int s = 0; s < 3; s++) {
            System.arraycopy(r.stepLogits()[s][0], 0, actual, s * 512, 512);
        }
        assertClose("case3 step_logits", expected, actual);
        // hidden state of generated token j = post-norm last-layer state at its position in a full forward
        try (NDManager m = NDManager.newBaseManager()) {
            long[] full = r.sequences()[0];
            LlamaModel.Output o = model.forward(ids(m, full), null, true);
            NDArray last = o.hiddenStates().get(o.hiddenStates().size() - 1);
            NDArray expectedHidden = last.get("0, {}:{}", prompt0.length, full.length);
            assertClose("case3 per-step hidden vs full forward", expectedHidden.toFloatArray(),
                    r.hiddenStates(m, 0));
        }
    }

    @Test
    void case4BatchedLeftPadded() {
        JsonObject c4 = json("cases/cases.json").getAsJsonObject("case4");
        long[][] in = longs2(c4.get("input_ids"));
        long[][] mask = longs2(c4.get("attention_mask"));
        long[][] prompts = new long[2][];
        for (int b = 0; b < 2; b++) {
            int start = 0;
            while (mask[b][start] == 0) {
                start++;
            }
            prompts[b] = Arrays.copyOfRange(in[b], start, in[b].length);
        }
        LlamaGenerator.Result r = gen.generate(prompts, new GenerationOptions().maxNewTokens(24).collectLogits(true));
        long[][] expectedIds = longs2(c4.get("generated_ids"));
        assertArrayEquals(expectedIds[0], r.newTokens()[0]);
        assertArrayEquals(expectedIds[1], r.newTokens()[1]);
        assertArrayEquals(in[0], Arrays.copyOf(r.sequences()[0], 28));
        assertEquals(LlamaGenerator.FinishReason.EOS, r.finishReasons()[0]);
        assertEquals(LlamaGenerator.FinishReason.LENGTH, r.finishReasons()[1]);
        float[] expected = expected("case4_batch_leftpad.safetensors", "step_logits");
        float[] actual = new float[3 * 2 * 512];
        for (int s = 0; s < 3; s++) {
            System.arraycopy(flat(r.stepLogits()[s]), 0, actual, s * 2 * 512, 2 * 512);
        }
        assertClose("case4 step_logits", expected, actual);
    }

    @Test
    void seededSamplingIsDeterministic() {
        GenerationOptions a = new GenerationOptions().maxNewTokens(16).sample(1.5, 0, 1.0, 42);
        long[] t1 = gen.generate(new long[][] {prompt0}, a).newTokens()[0];
        long[] t2 = gen.generate(new long[][] {prompt0},
                new GenerationOptions().maxNewTokens(16).sample(1.5, 0, 1.0, 42)).newTokens()[0];
        long[] t3 = gen.generate(new long[][] {prompt0},
                new GenerationOptions().maxNewTokens(16).sample(1.5, 0, 1.0, 7)).newTokens()[0];
        assertArrayEquals(t1, t2);
        assertFalse(Arrays.equals(t1, t3), "different seeds should give different samples");
    }

    @Test
    void topKOneAndTinyTopPEqualGreedy() {
        long[] greedy = gen.generate(new long[][] {prompt0}, new GenerationOptions().maxNewTokens(12)).newTokens()[0];
        assertArrayEquals(greedy, gen.generate(new long[][] {prompt0},
                new GenerationOptions().maxNewTokens(12).sample(1.0, 1, 1.0, 3)).newTokens()[0]);
        assertArrayEquals(greedy, gen.generate(new long[][] {prompt0},
                new GenerationOptions().maxNewTokens(12).sample(1.0, 0, 1e-6, 3)).newTokens()[0]);
    }

    @Test
    void repetitionPenaltyAsHf() {
        float[] row = {2.0f, -1.0f, 0.5f, 3.0f, -4.0f};
        LlamaGenerator.applyRepetitionPenalty(row, new long[] {0, 1, 1, 4}, 2.0f);
        assertArrayEquals(new float[] {1.0f, -2.0f, 0.5f, 3.0f, -8.0f}, row);
        // in generation a strong penalty stops the greedy output from repeating tokens seen so far
        long[] greedy = gen.generate(new long[][] {prompt0}, new GenerationOptions().maxNewTokens(12)).newTokens()[0];
        long[] penalised = gen.generate(new long[][] {prompt0},
                new GenerationOptions().maxNewTokens(12).repetitionPenalty(1e6)).newTokens()[0];
        assertFalse(Arrays.equals(greedy, penalised));
    }

    @Test
    void temperatureScalesTheDistribution() {
        float[] logits = {0f, (float) Math.log(3)};
        assertEquals(0.75, frequency(logits, 1.0), 0.03);
        // T = 2 halves the logits: p(1) = sqrt(3) / (1 + sqrt(3))
        assertEquals(Math.sqrt(3) / (1 + Math.sqrt(3)), frequency(logits, 2.0), 0.03);
        assertEquals(1.0, frequency(logits, 0.01), 1e-9);
    }

    private static double frequency(float[] logits, double temperature) {
        SplittableRandom rng = new SplittableRandom(1);
        int ones = 0;
        int n = 4000;
        for (int i = 0; i < n; i++) {
            ones += LlamaGenerator.sample(logits, temperature, 0, 1.0, rng);
        }
        return ones / (double) n;
    }

    @Test
    void stopStringsAndStopIds() {
        long[] greedy = gen.generate(new long[][] {prompt0}, new GenerationOptions().maxNewTokens(24)).newTokens()[0];
        // stop id sequence: tokens 5 and 6 of the greedy output
        LlamaGenerator.Result byIds = gen.generate(new long[][] {prompt0},
                new GenerationOptions().maxNewTokens(24).stopIds(greedy[5], greedy[6]));
        int stopAt = -1;
        for (int j = 1; j < greedy.length; j++) {
            if (greedy[j - 1] == greedy[5] && greedy[j] == greedy[6]) {
                stopAt = j;
                break;
            }
        }
        assertEquals(stopAt + 1, byIds.newTokens()[0].length);
        assertEquals(LlamaGenerator.FinishReason.STOP_IDS, byIds.finishReasons()[0]);
        // stop string: the text of the first 10 tokens' last 3 characters
        String text10 = tok.decode(Arrays.copyOf(greedy, 10), true);
        String stop = text10.substring(text10.length() - 3);
        LlamaGenerator.Result byText = gen.generate(new long[][] {prompt0},
                new GenerationOptions().maxNewTokens(24).tokenizer(tok).stopString(stop));
        assertEquals(LlamaGenerator.FinishReason.STOP_STRING, byText.finishReasons()[0]);
        String got = tok.decode(byText.newTokens()[0], true);
        assertTrue(got.contains(stop));
        assertFalse(tok.decode(Arrays.copyOf(byText.newTokens()[0], byText.newTokens()[0].length - 1), true)
                .contains(stop), "stops at the first token completing the stop string");
        assertArrayEquals(Arrays.copyOf(greedy, byText.newTokens()[0].length), byText.newTokens()[0]);
    }

    @Test
    void cancellationStopsBetweenSteps() {
        AtomicBoolean cancel = new AtomicBoolean();
        int[] count = {0};
        LlamaGenerator.Result r = gen.generate(new long[][] {prompt0}, new GenerationOptions().maxNewTokens(24)
                .logitsProcessor((row, seq, logits) -> {
                    if (++count[0] == 3) {
                        cancel.set(true);
                    }
                }).cancelFlag(cancel));
        assertEquals(3, r.newTokens()[0].length);
        assertEquals(LlamaGenerator.FinishReason.CANCELLED, r.finishReasons()[0]);
    }

    @Test
    void streamingDeltasNeverSplitMultiByteCharacters() {
        // force "Hi 😀 é!" as byte-fallback tokens through the logits processor
        String target = " 😀 é!";
        byte[] bytes = target.getBytes(StandardCharsets.UTF_8);
        long[] forced = new long[bytes.length + 1];
        for (int i = 0; i < bytes.length; i++) {
            forced[i] = (bytes[i] & 0xFF) + 3;
        }
        forced[bytes.length] = 2; // EOS
        int promptLen = prompt0.length;
        List<String> deltas = new ArrayList<>();
        LlamaGenerator.Result r = gen.generate(new long[][] {prompt0}, new GenerationOptions().maxNewTokens(32)
                .tokenizer(tok).streamer((row, d) -> deltas.add(d))
                .logitsProcessor((row, seq, logits) -> {
                    int j = seq.length - promptLen;
                    Arrays.fill(logits, -1e9f);
                    logits[(int) forced[j]] = 0f;
                }));
        assertArrayEquals(forced, r.newTokens()[0]);
        for (String d : deltas) {
            assertFalse(d.contains("\uFFFD"), "delta with a broken character: " + d);
        }
        assertTrue(deltas.size() > 2, "several deltas expected: " + deltas);
        assertEquals(tok.decode(r.newTokens()[0], true), String.join("", deltas));
        assertTrue(String.join("", deltas).contains("😀"));
    }

    @Test
    void generateFromEmbedsMatchesIds() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray emb = model.embed(ids(m, prompt0));
            LlamaGenerator.Result r = gen.generateFromEmbeds(emb, null, new GenerationOptions().maxNewTokens(24));
            assertArrayEquals(longs(json("cases/cases.json").getAsJsonObject("case3").get("generated_ids")),
                    r.sequences()[0]);
        }
    }
}
