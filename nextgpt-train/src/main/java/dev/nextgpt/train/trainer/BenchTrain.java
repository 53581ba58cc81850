package dev.nextgpt.train.trainer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.runtime.io.SafetensorsFile;
import dev.nextgpt.runtime.llm.LlamaConfig;
import dev.nextgpt.train.data.LegacyBatchBuilder;
import dev.nextgpt.train.data.LegacyBatchBuilder.Modality;
import dev.nextgpt.train.model.LegacyTrainingModel;
import dev.nextgpt.train.model.ParameterStore;
import dev.nextgpt.train.model.TrainingLlama;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * {@code nextgpt bench train}: training throughput and memory of one legacy stage on a random model (benchmark, not a
 * test). Runs the real {@link NextGptTrainer} loop (forward, backward, clipping, AdamW) on synthetic batches and
 * reports samples/s (median over the measured steps), peak RSS ({@code VmHWM}) and, separately, the bytes held by
 * parameters (frozen / trainable), by gradients and by optimiser state, showing frozen parts hold neither.
 */
public final class BenchTrain {

    /** Model and batch sizes. {@code seqLen} is the text length of a sample. */
    public record Size(String name, int vocab, int hidden, int intermediate, int layers, int heads, int feature,
                       int projWidth, int projLayers, int projHeads, int queries, int imageOut, int seqLen,
                       int loraRank) {
        /** The embedded demo model's sizes (LLaMA 64 × 2 layers, 550 tokens, ImageBind 16, projector 16). */
        public static final Size DEMO = new Size("demo", 550, 64, 176, 2, 4, 16, 16, 2, 4, 77, 32, 48, 8);
        /** A mid-size random model: hidden 512, 8 layers, the real 32038-token vocabulary, ImageBind 1024. */
        public static final Size MID = new Size("mid", 32038, 512, 1376, 8, 8, 1024, 512, 2, 4, 77, 768, 128, 32);

        public static Size parse(String s) {
            return switch (s.toLowerCase(Locale.ROOT)) {
                case "demo" -> DEMO;
                case "mid" -> MID;
                default -> throw new InvalidInputException("unknown bench model '" + s + "' (expected demo or mid)");
            };
        }
    }

    /** The figures of one run. */
    public record Result(String model, int stage, int batchSize, int steps, double samplesPerSecond,
                         long peakRssBytes, long frozenParameterBytes, long trainableParameterBytes,
                         long gradientBytes, long frozenGradientBytes, long optimizerStateBytes,
                         long frozenOptimizerStateBytes, double firstLoss, double lastLoss, boolean stoppedOnNaN) {
        public String json() {
            return String.format(Locale.ROOT, "{\"bench\": \"train\", \"model\": \"%s\", \"stage\": %d, \"batch\": %d,"
                            + " \"steps\": %d, \"samples_per_s\": %.3f, \"peak_rss_mb\": %.1f, \"frozen_param_mb\": %.2f,"
                            + " \"trainable_param_mb\": %.2f, \"grad_mb\": %.2f, \"frozen_grad_mb\": %.2f,"
                            + " \"optimizer_state_mb\": %.2f, \"frozen_optimizer_state_mb\": %.2f,"
                            + " \"first_loss\": %.4f, \"last_loss\": %.4f, \"stopped_on_nan\": %s}",
                    model, stage, batchSize, steps, samplesPerSecond, mb(peakRssBytes), mb(frozenParameterBytes),
                    mb(trainableParameterBytes), mb(gradientBytes), mb(frozenGradientBytes), mb(optimizerStateBytes),
                    mb(frozenOptimizerStateBytes), firstLoss, lastLoss, stoppedOnNaN);
        }

        private static double mb(long b) {
            return b / (1024.0 * 1024.0);
        }
    }

    private BenchTrain() {
    }

    /** Trains {@code warmup + steps} steps of {@code stage} (batch 2, the legacy batch) and measures the last ones. */
    public static Result run(Size size, int stage, int warmup, int steps, long seed) {
        if (stage < 1 || stage > 3) {
            throw new InvalidInputException("stage must be 1, 2 or 3, not " + stage);
        }
        if (steps < 1 || warmup < 0) {
            throw new InvalidInputException("need at least one measured step and no negative warm-up");
        }
        int batch = 2;
        Path tmp;
        try {
            tmp = Files.createTempDirectory("nextgpt-bench-train");
        } catch (IOException e) {
            throw new InvalidInputException("cannot create a temporary folder: " + e.getMessage(), e);
        }
        LlamaConfig config = llamaConfig(size);
        TrainingLlama.Lora lora = stage == 3 ? new TrainingLlama.Lora(size.loraRank(), size.loraRank(), 0.1,
                Set.of("q_proj", "k_proj", "v_proj", "o_proj"), "default") : null;
        long[] signal = {size.vocab() - 36, size.vocab() - 35, size.vocab() - 34, size.vocab() - 33};
        Modality out = stage == 1 ? Modality.TEXT : Modality.IMAGE;
        boolean media = stage == 1;
        try (NDManager m = NDManager.newBaseManager()) {
            ParameterStore store = randomWeights(m, size, stage, lora, seed);
            try (LegacyTrainingModel model = new LegacyTrainingModel(stage, store,
                    new TrainingLlama(config, LegacyTrainingModel.llmPrefix(stage), lora),
                    Map.of(Modality.IMAGE, signal), size.projHeads());
                 NextGptTrainer trainer = NextGptTrainer.builder().model(model)
                         .data(List.of(8), idx -> example(size, seed * 1000 + idx[0] * 31L + idx[1], media, out,
                                 signal))
                         .batchSize(batch).seed(seed).totalSteps(warmup + steps).learningRate(1e-4)
                         .metricsFile(tmp.resolve("metrics.jsonl")).logEvery(0).progress(null).build()) {
                NextGptTrainer.Summary summary = trainer.train();
                List<Double> rates = new ArrayList<>();
                for (String line : Files.readAllLines(tmp.resolve("metrics.jsonl"))) {
                    JsonObject o = JsonParser.parseString(line).getAsJsonObject();
                    if (o.has("samples_per_s") && o.get("step").getAsLong() > warmup) {
                        rates.add(o.get("samples_per_s").getAsDouble());
                    }
                }
                rates.sort(Comparator.naturalOrder());
                double median = rates.isEmpty() ? Double.NaN : rates.get(rates.size() / 2);
                long frozen = 0;
                long trainable = 0;
                long grads = 0;
                long frozenGrads = 0;
                for (String n : store.names()) {
                    NDArray v = store.peek(n);
                    long bytes = v.size() * v.getDataType().getNumOfBytes();
                    if (store.isTrainable(n)) {
                        trainable += bytes;
                    } else {
                        frozen += bytes;
                    }
                    if (v.hasGradient()) {
                        NDArray g = v.getGradient();
                        long gb = g.size() * g.getDataType().getNumOfBytes();
                        g.close();
                        if (store.isTrainable(n)) {
                            grads += gb;
                        } else {
                            frozenGrads += gb;
                        }
                    }
                }
                Path ck = trainer.saveCheckpoint(tmp.resolve("ck"));
                long opt = 0;
                long frozenOpt = 0;
                try (SafetensorsFile f = SafetensorsFile.open(ck.resolve("optimizer.safetensors"))) {
                    for (String n : f.names()) {
                        String param = n.substring(n.indexOf('.', "exp_avg".length()) + 1);
                        long b = f.info(n).numel() * 4L;
                        if (store.has(param) && !store.isTrainable(param)) {
                            frozenOpt += b;
                        } else {
                            opt += b;
                        }
                    }
                }
                return new Result(size.name(), stage, batch, steps, median, peakRss(), frozen, trainable, grads,
                        frozenGrads, opt, frozenOpt, summary.firstLoss(), summary.lastLoss(), summary.stoppedOnNaN());
            }
        } catch (IOException e) {
            throw new InvalidInputException("bench train: " + e.getMessage(), e);
        } finally {
            deleteTree(tmp);
        }
    }

    static LlamaConfig llamaConfig(Size s) {
        return new LlamaConfig(s.vocab(), s.hidden(), s.intermediate(), s.layers(), s.heads(), s.heads(),
                s.hidden() / s.heads(), 2048, 1e-6, new LlamaConfig.Rope("default", 10000, 1, 1, 1, 0), false, 1,
                new int[] {2}, 0, false, false);
    }

    /** Peak resident set size ({@code VmHWM} of {@code /proc/self/status}); -1 where unavailable. */
    public static long peakRss() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (l.startsWith("VmHWM:")) {
                    return Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024L;
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    /** Random weights with the original names (LLaMA N(0, 0.02²), norms 1, LoRA B zero as peft initialises it). */
    static ParameterStore randomWeights(NDManager m, Size s, int stage, TrainingLlama.Lora lora, long seed) {
        Random rnd = new Random(seed);
        ParameterStore st = new ParameterStore(m, DataType.FLOAT32);
        String p = LegacyTrainingModel.llmPrefix(stage);
        int h = s.hidden();
        put(st, m, rnd, p + "model.embed_tokens.weight", 0.02, 0, s.vocab(), h);
        put(st, m, rnd, p + "lm_head.weight", 0.02, 0, s.vocab(), h);
        put(st, m, rnd, p + "model.norm.weight", 0, 1, h);
        TrainingLlama llm = new TrainingLlama(llamaConfig(s), p, lora);
        for (int l = 0; l < s.layers(); l++) {
            String lp = p + "model.layers." + l + ".";
            put(st, m, rnd, lp + "input_layernorm.weight", 0, 1, h);
            put(st, m, rnd, lp + "post_attention_layernorm.weight", 0, 1, h);
            for (String q : new String[] {"q_proj", "k_proj", "v_proj", "o_proj"}) {
                put(st, m, rnd, lp + "self_attn." + q + ".weight", 0.02, 0, h, h);
            }
            put(st, m, rnd, lp + "mlp.gate_proj.weight", 0.02, 0, s.intermediate(), h);
            put(st, m, rnd, lp + "mlp.up_proj.weight", 0.02, 0, s.intermediate(), h);
            put(st, m, rnd, lp + "mlp.down_proj.weight", 0.02, 0, h, s.intermediate());
            if (lora != null) {
                for (String q : lora.targets()) {
                    put(st, m, rnd, llm.loraName(l, q, "A"), 0.02, 0, lora.r(), h);
                    put(st, m, rnd, llm.loraName(l, q, "B"), 0, 0, h, lora.r());
                }
            }
        }
        put(st, m, rnd, "llama_proj.weight", 0.02, 0, h, s.feature());
        put(st, m, rnd, "llama_proj.bias", 0, 0, h);
        String q = LegacyTrainingModel.projectorPrefix(Modality.IMAGE);
        int w = s.projWidth();
        put(st, m, rnd, q + "query_embs", 1, 0, 1, s.queries(), w);
        put(st, m, rnd, q + "fc.weight", 0.02, 0, w, h);
        put(st, m, rnd, q + "fc.bias", 0, 0, w);
        for (String part : new String[] {"encoder", "decoder"}) {
            for (int l = 0; l < s.projLayers(); l++) {
                String lp = q + "tfm." + part + ".layers." + l + ".";
                attention(st, m, rnd, lp + "self_attn.", w);
                if (part.equals("decoder")) {
                    attention(st, m, rnd, lp + "multihead_attn.", w);
                }
                put(st, m, rnd, lp + "linear1.weight", 0.02, 0, 4L * w, w);
                put(st, m, rnd, lp + "linear1.bias", 0, 0, 4L * w);
                put(st, m, rnd, lp + "linear2.weight", 0.02, 0, w, 4L * w);
                put(st, m, rnd, lp + "linear2.bias", 0, 0, w);
                for (String n : part.equals("decoder") ? new String[] {"norm1", "norm2", "norm3"}
                        : new String[] {"norm1", "norm2"}) {
                    put(st, m, rnd, lp + n + ".weight", 0, 1, w);
                    put(st, m, rnd, lp + n + ".bias", 0, 0, w);
                }
            }
            put(st, m, rnd, q + "tfm." + part + ".norm.weight", 0, 1, w);
            put(st, m, rnd, q + "tfm." + part + ".norm.bias", 0, 0, w);
        }
        put(st, m, rnd, q + "model.weight", 0.02, 0, s.imageOut(), w);
        put(st, m, rnd, q + "model.bias", 0, 0, s.imageOut());
        return st;
    }

    private static void attention(ParameterStore st, NDManager m, Random rnd, String p, int w) {
        put(st, m, rnd, p + "in_proj_weight", 0.02, 0, 3L * w, w);
        put(st, m, rnd, p + "in_proj_bias", 0, 0, 3L * w);
        put(st, m, rnd, p + "out_proj.weight", 0.02, 0, w, w);
        put(st, m, rnd, p + "out_proj.bias", 0, 0, w);
    }

    private static void put(ParameterStore st, NDManager m, Random rnd, String name, double std, double mean,
                            long... shape) {
        Shape sh = new Shape(shape);
        float[] v = new float[Math.toIntExact(sh.size())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (mean + std * rnd.nextGaussian());
        }
        // not closed: ParameterStore.put of a FLOAT32 array may share its storage (toType(same type, copy) is a view
        // on the PyTorch engine), so the source must stay alive; it belongs to m
        st.put(name, m.create(v, sh));
    }

    /** A batch of 2 right-padded samples of about {@code seqLen} tokens (prompt ignored, answer + signals targets). */
    static LegacyTrainingModel.Example example(Size s, long seed, boolean media, Modality out, long[] signal) {
        Random rnd = new Random(seed);
        int rows = 2;
        long[][] ids = new long[rows][];
        long[][] tgt = new long[rows][];
        for (int r = 0; r < rows; r++) {
            int len = s.seqLen() - 4 * r;
            int prompt = len / 4;
            int sig = out == Modality.TEXT ? 0 : signal.length;
            ids[r] = new long[len];
            tgt[r] = new long[len];
            for (int i = 0; i < len; i++) {
                boolean isSignal = i >= len - 1 - sig && i < len - 1;
                ids[r][i] = i == len - 1 ? 2 : isSignal ? signal[i - (len - 1 - sig)] : 3 + rnd.nextInt(s.vocab() - 40);
                tgt[r][i] = i < prompt ? LegacyBatchBuilder.IGNORE_INDEX : ids[r][i];
            }
        }
        int len = s.seqLen();
        long[][] pid = new long[rows][len];
        long[][] ptg = new long[rows][len];
        long[][] mask = new long[rows][len];
        for (int r = 0; r < rows; r++) {
            Arrays.fill(pid[r], 2);
            Arrays.fill(ptg[r], LegacyBatchBuilder.IGNORE_INDEX);
            System.arraycopy(ids[r], 0, pid[r], 0, ids[r].length);
            System.arraycopy(tgt[r], 0, ptg[r], 0, tgt[r].length);
            Arrays.fill(mask[r], 0, ids[r].length, 1);
        }
        long[] prefix = {1, 5, 6};
        int pre = prefix.length + (media ? 1 : 0);
        long[][] wt = new long[rows][pre + len];
        long[][] wm = new long[rows][pre + len];
        for (int r = 0; r < rows; r++) {
            Arrays.fill(wt[r], 0, pre, LegacyBatchBuilder.IGNORE_INDEX);
            Arrays.fill(wm[r], 0, pre, 1);
            System.arraycopy(ptg[r], 0, wt[r], pre, len);
            System.arraycopy(mask[r], 0, wm[r], pre, len);
        }
        LegacyBatchBuilder.Batch b = new LegacyBatchBuilder.Batch(pid, ptg, mask, prefix, media, wt, wm);
        float[][] feats = null;
        if (media) {
            feats = new float[rows][s.feature()];
            for (float[] f : feats) {
                for (int i = 0; i < f.length; i++) {
                    f[i] = (float) rnd.nextGaussian();
                }
            }
        }
        float[][] caps = null;
        if (out != Modality.TEXT) {
            caps = new float[rows][s.queries() * s.imageOut()];
            for (float[] c : caps) {
                for (int i = 0; i < c.length; i++) {
                    c[i] = (float) rnd.nextGaussian();
                }
            }
        }
        return new LegacyTrainingModel.Example(b, feats, out, caps);
    }

    private static void deleteTree(Path dir) {
        try (var s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // temporary files only
        }
    }
}
