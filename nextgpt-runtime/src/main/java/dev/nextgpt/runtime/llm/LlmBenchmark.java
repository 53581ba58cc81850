package dev.nextgpt.runtime.llm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.InvalidInputException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Prefill + greedy KV-cache decode timing of a LLaMA checkpoint folder (same protocol as
 * {@code /work/shared/bench/llama_ref.py bench}: 8-token warm-up, one prefill of {@code promptLen} random ids, then
 * {@code newTokens} single-token steps with argmax).
 */
public final class LlmBenchmark {
    private LlmBenchmark() {
    }

    /** Timings: prefill milliseconds, decode tokens per second, peak resident memory (VmHWM) in MiB. */
    public record Result(double prefillMs, double decodeTokS, double peakRssMb) {
        public String json() {
            return String.format(Locale.ROOT, "{\"prefill_ms\": %.2f, \"decode_tok_s\": %.2f, \"peak_rss_mb\": %.1f}",
                    prefillMs, decodeTokS, peakRssMb);
        }
    }

    public static Result run(Path modelDir, int promptLen, int newTokens) {
        if (promptLen < 1 || newTokens < 1) {
            throw new InvalidInputException("prompt length and new tokens must be >= 1");
        }
        try (LlamaModel model = LlamaModel.load(modelDir); NDManager m = NDManager.newBaseManager()) {
            SplittableRandom rnd = new SplittableRandom(1);
            long[] ids = new long[promptLen];
            for (int i = 0; i < promptLen; i++) {
                ids[i] = 3 + rnd.nextInt(model.embeddingRows() - 3);
            }
            // warm-up
            try (LlamaModel.KvCache c = model.newCache(1, 16); NDManager s = m.newSubManager()) {
                long[] w = java.util.Arrays.copyOf(ids, Math.min(8, promptLen));
                model.step(s, model.embed(s, new long[][] {w}), null, c, LlamaModel.Logits.LAST,
                        false).logits().toFloatArray();
                model.step(s, model.embed(s, new long[][] {{ids[0]}}), null, c,
                        LlamaModel.Logits.LAST, false).logits().toFloatArray();
            }
            try (LlamaModel.KvCache cache = model.newCache(1, promptLen + newTokens + 1)) {
                long t0 = System.nanoTime();
                long next;
                try (NDManager s = m.newSubManager()) {
                    NDArray x = model.embed(s, new long[][] {ids});
                    next = LlamaGenerator.argmax(model.step(s, x, null, cache, LlamaModel.Logits.LAST, false)
                            .logits().toFloatArray());
                }
                long t1 = System.nanoTime();
                for (int i = 0; i < newTokens; i++) {
                    try (NDManager s = m.newSubManager()) {
                        NDArray x = model.embed(s, new long[][] {{next}});
                        next = LlamaGenerator.argmax(model.step(s, x, null, cache, LlamaModel.Logits.LAST, false)
                                .logits().toFloatArray());
                    }
                }
                long t2 = System.nanoTime();
                return new Result((t1 - t0) / 1e6, newTokens / ((t2 - t1) / 1e9), peakRssMb());
            }
        }
    }

    /** VmHWM of this process in MiB (0 where /proc is unavailable). */
    static double peakRssMb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    String[] p = line.trim().split("\\s+");
                    return Long.parseLong(p[1]) / 1024.0;
                }
            }
        } catch (IOException | RuntimeException e) {
            return 0;
        }
        return 0;
    }

    /** {@code LlmBenchmark MODEL_DIR [PROMPT_LEN=128] [NEW_TOKENS=64]}; prints one JSON line last. */
    public static void main(String[] args) {
        if (args.length < 1) {
            System.err.println("usage: LlmBenchmark MODEL_DIR [PROMPT_LEN] [NEW_TOKENS]");
            System.exit(2);
        }
        int promptLen = args.length > 1 ? Integer.parseInt(args[1]) : 128;
        int newTokens = args.length > 2 ? Integer.parseInt(args[2]) : 64;
        System.out.println(run(Path.of(args[0]), promptLen, newTokens).json());
    }
}
