package dev.nextgpt.train.trainer;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.RuntimeFailureException;
import dev.nextgpt.runtime.io.SafetensorsFile;
import dev.nextgpt.runtime.io.SafetensorsWriter;
import dev.nextgpt.train.data.BlendedBatchSampler;
import dev.nextgpt.train.model.LegacyTrainingModel;
import dev.nextgpt.train.model.LegacyTrainingModel.Part;
import dev.nextgpt.train.model.ParameterStore;
import dev.nextgpt.train.optim.AdamW;
import dev.nextgpt.train.optim.DynamicLossScaler;
import dev.nextgpt.train.optim.GradientClipping;
import dev.nextgpt.train.optim.LearningRateSchedule;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Trains a {@link LegacyTrainingModel} (one legacy NExT-GPT stage): modality-blended batches
 * ({@link BlendedBatchSampler}: each batch from one dataset), gradient accumulation, global-norm clipping, decoupled
 * AdamW with per-part learning-rate scales and optional no-decay for biases / norms, a learning-rate schedule
 * (default linear warm-up + cosine), periodic evaluation, a progress line, metrics appended to a JSONL file,
 * checkpoints of only the trainable weights (original key names, safetensors) plus optimiser state and trainer
 * position, exact resume, and an early stop when the loss or the gradient norm is not finite. Optional mixed
 * precision ({@link Precision}): float32 master weights, a float16 / bfloat16 forward, float16 with dynamic loss
 * scaling (overflowing steps are skipped and counted).
 *
 * <p>A checkpoint folder {@code checkpoint-<step>/} holds {@code trainable.safetensors},
 * {@code optimizer.safetensors} ({@code exp_avg.<name>}, {@code exp_avg_sq.<name>}) and {@code trainer_state.json}
 * (step, batches consumed, optimiser step, seed). The random state needs no saving: the sampler is replayed from
 * its seed and the LoRA-dropout generator is re-seeded from {@code (seed, step)} at every step.
 */
public final class NextGptTrainer implements AutoCloseable {

    /** What a run did. */
    public record Summary(long steps, double firstLoss, double lastLoss, double lastEvalLoss, boolean stoppedOnNaN,
                          Path lastCheckpoint) {
    }

    private final Builder cfg;
    private final LegacyTrainingModel model;
    private final NDManager manager;
    private final AdamW optimizer;
    private final LearningRateSchedule schedule;
    private final Map<String, NDArray> params;
    private final BlendedBatchSampler sampler;
    private final Deque<int[]> pending = new ArrayDeque<>();
    private long step;
    private long batchesConsumed;
    private final DynamicLossScaler scaler;

    private NextGptTrainer(Builder b) {
        this.cfg = b;
        this.model = b.model;
        this.manager = model.parameters().manager().newSubManager();
        if (b.trainableParts != null) {
            model.setTrainable(b.trainableParts);
        } else if (model.parameters().trainableNames().isEmpty()) {
            model.setTrainable(LegacyTrainingModel.originalTrainableParts(model.stage()));
        }
        this.params = model.parameters().trainableTensors();
        if (b.precision != Precision.FP32 && model.parameters().dtype() != ai.djl.ndarray.types.DataType.FLOAT32) {
            throw new InvalidInputException("mixed precision needs float32 master weights, the store holds "
                    + model.parameters().dtype());
        }
        model.parameters().setComputeType(b.precision == Precision.FP32 ? model.parameters().dtype()
                : b.precision.computeType());
        this.scaler = b.precision == Precision.FP16
                ? (b.lossScaler != null ? b.lossScaler : DynamicLossScaler.legacyNextGpt()) : null;
        this.optimizer = new AdamW(b.adam, manager);
        for (String n : params.keySet()) {
            Part part = model.partOf(n);
            double scale = part == null ? 1.0 : b.lrScales.getOrDefault(part, 1.0);
            boolean noDecay = b.noDecayForBiasAndNorm && isBiasOrNorm(n);
            optimizer.setGroup(n, new AdamW.Group(scale, noDecay ? 0 : b.adam.weightDecay()));
        }
        this.schedule = b.schedule != null ? b.schedule
                : LearningRateSchedule.warmupCosine(b.learningRate, b.warmupSteps, b.totalSteps, 0);
        this.sampler = new BlendedBatchSampler(b.datasetSizes, b.batchSize, 1, 0, b.seed);
        if (b.resumeFrom != null) {
            resume(b.resumeFrom);
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Optimiser steps done so far. */
    public long step() {
        return step;
    }

    public LegacyTrainingModel model() {
        return model;
    }

    /** Steps skipped for fp16 overflow so far (0 unless {@code FP16}). */
    public long skippedSteps() {
        return scaler == null ? 0 : scaler.skippedSteps();
    }

    /** The current fp16 loss scale (1 unless {@code FP16}). */
    public double lossScale() {
        return scaler == null ? 1.0 : scaler.scale();
    }

    /** Trains until {@code totalSteps} (or {@code stopAfter}) optimiser steps, or a non-finite loss. */
    public Summary train() {
        long end = Math.min(cfg.totalSteps, cfg.stopAfter > 0 ? cfg.stopAfter : Long.MAX_VALUE);
        double first = Double.NaN;
        double last = Double.NaN;
        double lastEval = Double.NaN;
        Path lastCkpt = null;
        boolean nan = false;
        while (step < end) {
            long t0 = System.nanoTime();
            Engine.getInstance().setRandomSeed((int) (cfg.seed * 1_000_003L + step));
            double lr = schedule.lr(step);
            double total = 0;
            double ce = 0;
            double l2 = 0;
            int l2Count = 0;
            long samples = 0;
            long tokens = 0;
            double norm;
            double lossScale = scaler == null ? 1.0 : scaler.scale();
            String event = null;
            try (NDManager scope = manager.newSubManager()) {
                Map<String, NDArray> sum = null;
                for (int micro = 0; micro < cfg.accumulation; micro++) {
                    int[] indices = nextBatch();
                    LegacyTrainingModel.Example ex = cfg.batches.apply(indices);
                    LegacyTrainingModel.Result r = model.lossAndGradients(ex, scope, true, lossScale);
                    total += r.total() / cfg.accumulation;
                    ce += r.ce() / cfg.accumulation;
                    if (!Double.isNaN(r.l2())) {
                        l2 += r.l2();
                        l2Count++;
                    }
                    samples += indices.length;
                    for (long[] row : ex.batch().wrappedAttentionMask()) {
                        for (long v : row) {
                            tokens += v;
                        }
                    }
                    if (sum == null) {
                        sum = r.gradients();
                    } else {
                        for (Map.Entry<String, NDArray> g : r.gradients().entrySet()) {
                            sum.get(g.getKey()).addi(g.getValue());
                        }
                    }
                }
                if (cfg.accumulation > 1 || lossScale != 1.0) {
                    double unscale = cfg.accumulation * lossScale;
                    sum.values().forEach(g -> g.divi(unscale));
                }
                norm = GradientClipping.globalNorm(sum.values());
                boolean overflow = !Double.isFinite(total) || !Double.isFinite(norm);
                if (overflow && scaler != null && !scaler.atMinimum()) {
                    scaler.update(true);
                    event = "overflow_skip";
                    log("step " + (step + 1) + ": fp16 overflow at loss scale " + lossScale + "; step skipped, scale "
                            + scaler.scale());
                } else if (overflow) {
                    nan = true;
                    log("step " + (step + 1) + ": loss " + total + ", grad norm " + norm
                            + " is not finite (" + firstNonFinite(sum) + "); stopping before the update");
                    writeMetrics(metricsLine(step + 1, total, ce, l2Count == 0 ? Double.NaN : l2 / l2Count, lr, norm,
                            0, 0, "nan_stop"));
                    break;
                }
                if (event == null) {
                    if (scaler != null) {
                        scaler.update(false);
                    }
                    if (cfg.clipNorm > 0) {
                        GradientClipping.clipGlobalNorm(sum.values(), cfg.clipNorm);
                    }
                    optimizer.step(params, sum, lr);
                }
            }
            step++;
            double secs = (System.nanoTime() - t0) / 1e9;
            if (Double.isNaN(first)) {
                first = total;
            }
            last = total;
            double l2Mean = l2Count == 0 ? Double.NaN : l2 / l2Count;
            JsonObject line = metricsLine(step, total, ce, l2Mean, lr, norm, samples / secs, tokens / secs, event);
            if (scaler != null) {
                line.addProperty("loss_scale", lossScale);
                line.addProperty("skipped_steps", scaler.skippedSteps());
            }
            writeMetrics(line);
            if (cfg.logEvery > 0 && (step % cfg.logEvery == 0 || step == end)) {
                log(String.format("step %d/%d  loss %.4f  ce %.4f  l2 %s  lr %.3e  |g| %.3f  %.1f samples/s  %.0f tok/s",
                        step, cfg.totalSteps, total, ce, Double.isNaN(l2Mean) ? "-" : String.format("%.4f", l2Mean), lr,
                        norm, samples / secs, tokens / secs));
            }
            if (cfg.evalEvery > 0 && !cfg.evalBatches.isEmpty() && (step % cfg.evalEvery == 0 || step == end)) {
                lastEval = evaluate();
            }
            if (cfg.outputDir != null && ((cfg.checkpointEvery > 0 && step % cfg.checkpointEvery == 0) || step == end)) {
                lastCkpt = saveCheckpoint(cfg.outputDir.resolve("checkpoint-" + step));
            }
        }
        return new Summary(step, first, last, lastEval, nan, lastCkpt);
    }

    /** Mean total / CE / L2 over the evaluation batches; logs and records them. Returns the mean total. */
    public double evaluate() {
        double total = 0;
        double ce = 0;
        double l2 = 0;
        int l2n = 0;
        for (LegacyTrainingModel.Example ex : cfg.evalBatches) {
            double[] r = model.evaluate(ex);
            total += r[0];
            ce += r[1];
            if (!Double.isNaN(r[2])) {
                l2 += r[2];
                l2n++;
            }
        }
        int n = cfg.evalBatches.size();
        JsonObject o = new JsonObject();
        o.addProperty("step", step);
        o.addProperty("eval_loss", total / n);
        o.addProperty("eval_ce", ce / n);
        if (l2n > 0) {
            o.addProperty("eval_l2", l2 / l2n);
        }
        writeMetrics(o);
        log(String.format("eval at step %d: loss %.4f  ce %.4f", step, total / n, ce / n));
        return total / n;
    }

    /** Writes the trainable weights, optimiser state and trainer position to {@code dir}. */
    public Path saveCheckpoint(Path dir) {
        try {
            Files.createDirectories(dir);
            ParameterStore store = model.parameters();
            store.save(dir.resolve("trainable.safetensors"), store.trainableNames(),
                    Map.of("stage", String.valueOf(model.stage()), "step", String.valueOf(step)));
            SafetensorsWriter w = new SafetensorsWriter();
            optimizer.state().forEach(w::add);
            w.write(dir.resolve("optimizer.safetensors"));
            JsonObject state = new JsonObject();
            state.addProperty("stage", model.stage());
            state.addProperty("step", step);
            state.addProperty("batches_consumed", batchesConsumed);
            state.addProperty("optimizer_step", optimizer.stepCount());
            state.addProperty("seed", cfg.seed);
            state.addProperty("total_steps", cfg.totalSteps);
            state.addProperty("precision", cfg.precision.name().toLowerCase(java.util.Locale.ROOT));
            if (scaler != null) {
                state.add("loss_scaler", new Gson().toJsonTree(scaler.state()));
            }
            Files.writeString(dir.resolve("trainer_state.json"),
                    new GsonBuilder().setPrettyPrinting().create().toJson(state), StandardCharsets.UTF_8);
            log("saved checkpoint " + dir);
            return dir;
        } catch (IOException e) {
            throw new RuntimeFailureException("cannot write checkpoint " + dir + ": " + e.getMessage(), e);
        }
    }

    private void resume(Path dir) {
        JsonObject state;
        try {
            state = JsonParser.parseString(Files.readString(dir.resolve("trainer_state.json"))).getAsJsonObject();
        } catch (IOException | RuntimeException e) {
            throw new ModelFormatException("cannot read " + dir.resolve("trainer_state.json") + ": " + e.getMessage(), e);
        }
        if (state.get("stage").getAsInt() != model.stage()) {
            throw new InvalidInputException("checkpoint " + dir + " is from stage " + state.get("stage").getAsInt()
                    + ", not stage " + model.stage());
        }
        ParameterStore store = model.parameters();
        try (SafetensorsFile w = SafetensorsFile.open(dir.resolve("trainable.safetensors"))) {
            for (String n : store.trainableNames()) {
                if (!w.contains(n)) {
                    throw new ModelFormatException(dir.resolve("trainable.safetensors") + " lacks trainable tensor '"
                            + n + "'");
                }
                store.put(n, w.load(store.manager(), n));
            }
        }
        params.clear();
        params.putAll(store.trainableTensors());
        try (SafetensorsFile o = SafetensorsFile.open(dir.resolve("optimizer.safetensors"));
             NDManager tmp = manager.newSubManager()) {
            Map<String, NDArray> st = new LinkedHashMap<>();
            for (String n : o.names()) {
                st.put(n, o.load(tmp, n).toType(store.dtype(), false));
            }
            optimizer.loadState(st, state.get("optimizer_step").getAsLong());
        }
        if (scaler != null && state.has("loss_scaler")) {
            scaler.restore(new Gson().fromJson(state.get("loss_scaler"), double[].class));
        }
        step = state.get("step").getAsLong();
        long consumed = state.get("batches_consumed").getAsLong();
        while (batchesConsumed < consumed) {
            nextBatch();
        }
        log("resumed from " + dir + " at step " + step);
    }

    private int[] nextBatch() {
        if (pending.isEmpty()) {
            pending.addAll(sampler.epoch());
        }
        batchesConsumed++;
        return pending.poll();
    }

    private String firstNonFinite(Map<String, NDArray> grads) {
        for (Map.Entry<String, NDArray> e : grads.entrySet()) {
            if (!Double.isFinite(e.getValue().abs().sum().toType(ai.djl.ndarray.types.DataType.FLOAT64, false)
                    .getDouble())) {
                return "first non-finite gradient: " + e.getKey();
            }
        }
        for (Map.Entry<String, NDArray> e : params.entrySet()) {
            if (!Double.isFinite(e.getValue().abs().sum().toType(ai.djl.ndarray.types.DataType.FLOAT64, false)
                    .getDouble())) {
                return "non-finite weight: " + e.getKey();
            }
        }
        return "gradients and weights finite";
    }

    private JsonObject metricsLine(long s, double total, double ce, double l2, double lr, double norm,
                                   double samplesPerSec, double tokensPerSec, String event) {
        JsonObject o = new JsonObject();
        o.addProperty("step", s);
        o.addProperty("loss", finite(total));
        o.addProperty("ce", finite(ce));
        if (!Double.isNaN(l2)) {
            o.addProperty("l2", l2);
        }
        o.addProperty("lr", lr);
        o.addProperty("grad_norm", finite(norm));
        o.addProperty("samples_per_s", samplesPerSec);
        o.addProperty("tokens_per_s", tokensPerSec);
        if (event != null) {
            o.addProperty("event", event);
        }
        return o;
    }

    private static Number finite(double v) {
        return Double.isFinite(v) ? v : null;
    }

    private void writeMetrics(JsonObject o) {
        if (cfg.metricsFile == null) {
            return;
        }
        try {
            if (cfg.metricsFile.getParent() != null) {
                Files.createDirectories(cfg.metricsFile.getParent());
            }
            Files.writeString(cfg.metricsFile, new Gson().toJson(o) + "\n", StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot append to " + cfg.metricsFile, e);
        }
    }

    private void log(String line) {
        if (cfg.progress != null) {
            cfg.progress.accept(line);
        }
    }

    private static boolean isBiasOrNorm(String n) {
        return n.endsWith(".bias") || n.endsWith("_bias") || n.contains("norm") || n.endsWith("query_embs");
    }

    @Override
    public void close() {
        optimizer.close();
        manager.close();
    }

    /** Settings of a run. */
    public static final class Builder {
        private LegacyTrainingModel model;
        private Set<Part> trainableParts;
        private List<Integer> datasetSizes;
        private Function<int[], LegacyTrainingModel.Example> batches;
        private List<LegacyTrainingModel.Example> evalBatches = List.of();
        private int batchSize = 2;
        private int accumulation = 1;
        private long totalSteps = 100;
        private long stopAfter;
        private long warmupSteps;
        private double learningRate = 4e-4;
        private final Map<Part, Double> lrScales = new EnumMap<>(Part.class);
        private AdamW.Hyper adam = AdamW.Hyper.legacyNextGpt();
        private boolean noDecayForBiasAndNorm;
        private LearningRateSchedule schedule;
        private double clipNorm = 1.0;
        private long seed = 13;
        private Path outputDir;
        private int checkpointEvery;
        private int evalEvery;
        private int logEvery = 10;
        private Path metricsFile;
        private Consumer<String> progress = System.out::println;
        private Path resumeFrom;
        private Precision precision = Precision.FP32;
        private DynamicLossScaler lossScaler;

        /** The model (weights loaded); its trainable set is replaced by {@link #trainableParts} when given. */
        public Builder model(LegacyTrainingModel m) {
            this.model = m;
            return this;
        }

        /** Which parts to train (default: what the original trains in the model's stage). */
        public Builder trainableParts(Set<Part> parts) {
            this.trainableParts = Set.copyOf(parts);
            return this;
        }

        /** Datasets of samples (each batch is drawn from one dataset) and how to turn samples into a batch. */
        public Builder data(List<List<TrainingSample>> datasets, LegacyExampleFactory factory) {
            List<TrainingSample> all = new ArrayList<>();
            List<Integer> sizes = new ArrayList<>();
            for (List<TrainingSample> d : datasets) {
                all.addAll(d);
                sizes.add(d.size());
            }
            this.datasetSizes = sizes;
            this.batches = idx -> {
                List<TrainingSample> s = new ArrayList<>();
                for (int i : idx) {
                    s.add(all.get(i));
                }
                return factory.build(s);
            };
            return this;
        }

        /** Low-level data: dataset sizes and a function from global sample indices to a batch. */
        public Builder data(List<Integer> datasetSizes, Function<int[], LegacyTrainingModel.Example> batches) {
            this.datasetSizes = List.copyOf(datasetSizes);
            this.batches = batches;
            return this;
        }

        /** Evaluation samples, batched in order by {@code batchSize} within each dataset. */
        public Builder evalData(List<List<TrainingSample>> datasets, LegacyExampleFactory factory) {
            List<LegacyTrainingModel.Example> out = new ArrayList<>();
            for (List<TrainingSample> d : datasets) {
                for (int i = 0; i < d.size(); i += batchSize) {
                    out.add(factory.build(d.subList(i, Math.min(d.size(), i + batchSize))));
                }
            }
            this.evalBatches = out;
            return this;
        }

        public Builder evalBatches(List<LegacyTrainingModel.Example> batches) {
            this.evalBatches = List.copyOf(batches);
            return this;
        }

        public Builder batchSize(int n) {
            this.batchSize = n;
            return this;
        }

        public Builder gradientAccumulation(int n) {
            this.accumulation = n;
            return this;
        }

        /** Total optimiser steps (the schedule's length). */
        public Builder totalSteps(long n) {
            this.totalSteps = n;
            return this;
        }

        /** Stops after this many steps (counted from 0) without changing the schedule; 0 = run to the end. */
        public Builder stopAfter(long n) {
            this.stopAfter = n;
            return this;
        }

        public Builder warmupSteps(long n) {
            this.warmupSteps = n;
            return this;
        }

        /** Peak learning rate of the default warm-up + cosine schedule. */
        public Builder learningRate(double lr) {
            this.learningRate = lr;
            return this;
        }

        /** Multiplies the learning rate of one part (e.g. projectors at 0.1×). */
        public Builder learningRateScale(Part part, double scale) {
            this.lrScales.put(part, scale);
            return this;
        }

        public Builder adam(AdamW.Hyper h) {
            this.adam = h;
            return this;
        }

        /** Exempts biases, norm weights and query embeddings from weight decay (the original decays everything). */
        public Builder noWeightDecayForBiasAndNorm(boolean on) {
            this.noDecayForBiasAndNorm = on;
            return this;
        }

        /** A custom schedule (replaces warm-up + cosine). */
        public Builder schedule(LearningRateSchedule s) {
            this.schedule = s;
            return this;
        }

        /** Global gradient-norm clip (≤ 0: off). */
        public Builder clipNorm(double n) {
            this.clipNorm = n;
            return this;
        }

        public Builder seed(long s) {
            this.seed = s;
            return this;
        }

        public Builder outputDir(Path dir) {
            this.outputDir = dir;
            return this;
        }

        public Builder checkpointEvery(int n) {
            this.checkpointEvery = n;
            return this;
        }

        public Builder evalEvery(int n) {
            this.evalEvery = n;
            return this;
        }

        public Builder logEvery(int n) {
            this.logEvery = n;
            return this;
        }

        public Builder metricsFile(Path f) {
            this.metricsFile = f;
            return this;
        }

        /** Where progress lines go (null: nowhere). */
        public Builder progress(Consumer<String> sink) {
            this.progress = sink;
            return this;
        }

        /** Resumes from a checkpoint folder written by {@link #saveCheckpoint}. */
        public Builder resumeFrom(Path dir) {
            this.resumeFrom = dir;
            return this;
        }

        /**
         * Mixed precision (default {@code FP32}): {@code BF16} / {@code FP16} forward with float32 master weights,
         * gradients and optimiser state; meant for GPUs.
         */
        public Builder precision(Precision p) {
            this.precision = p;
            return this;
        }

        /** The fp16 loss scaler (default {@link DynamicLossScaler#legacyNextGpt()}); ignored unless {@code FP16}. */
        public Builder lossScaler(DynamicLossScaler s) {
            this.lossScaler = s;
            return this;
        }

        public NextGptTrainer build() {
            if (model == null || batches == null) {
                throw new InvalidInputException("a trainer needs a model and data");
            }
            if (batchSize <= 0 || accumulation <= 0 || totalSteps <= 0 || warmupSteps < 0 || warmupSteps > totalSteps) {
                throw new InvalidInputException("invalid trainer settings: batch " + batchSize + ", accumulation "
                        + accumulation + ", steps " + totalSteps + ", warmup " + warmupSteps);
            }
            if (!(learningRate > 0)) {
                throw new InvalidInputException("learning rate must be > 0, got " + learningRate);
            }
            return new NextGptTrainer(this);
        }
    }
}
