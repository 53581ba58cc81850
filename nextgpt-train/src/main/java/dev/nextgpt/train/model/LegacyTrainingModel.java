package dev.nextgpt.train.model;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.io.Checkpoints;
import dev.nextgpt.runtime.io.TensorStore;
import dev.nextgpt.runtime.llm.LlamaConfig;
import dev.nextgpt.train.data.LegacyBatchBuilder;
import dev.nextgpt.train.data.LegacyBatchBuilder.Modality;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * The legacy NExT-GPT training forward ({@code NExT-GPT-Lagacy/code/model/anyToImageVideoAudio.py}) on DJL
 * autograd: {@code prompt_wrap} ({@code [E(BOS), E(p_before), llama_proj(feature)?, E(input_ids)]}), the LLaMA
 * forward with the wrapped mask, the token-weighted causal-LM cross-entropy, and for text→X batches the signal
 * hidden states ({@code hidden_states[-1][b, s:e+1]}, after the final norm) plus their input-embedding rows fed
 * to the modality's {@code TextFcLayer}, and the caption-alignment distance (mean over (b, t) of the Euclidean
 * norm). Totals: stage 1 {@code CE}; stage 2 {@code CE + L2}; stage 3 {@code CE + s·L2} with {@code s = 2} for
 * video, 1 otherwise; {@code CE} for X→text / text→text.
 *
 * <p>Weights are keyed by the original names: stages 1/2 {@code llama_model.model.embed_tokens.weight} …, stage 3
 * (peft-wrapped) {@code llama_model.base_model.model.…} with LoRA {@code ….lora_A.default.weight}; {@code llama_proj.*},
 * {@code gen_text_hidden_fcs.0.*}, {@code gen_text_hidden_fcs_video.0.*}, {@code gen_text_hidden_fcs_audio.0.*}.
 * Only the tensors of the chosen {@link Part}s are trainable.
 */
public final class LegacyTrainingModel implements AutoCloseable {

    /** Groups of trainable tensors. */
    public enum Part {
        /** the whole (resized) {@code embed_tokens} matrix. */
        EMBED_TOKENS,
        /** the whole {@code lm_head} matrix. */
        LM_HEAD,
        /** {@code llama_proj} (ImageBind feature → LLM width). */
        INPUT_PROJECTOR,
        /** the three {@code TextFcLayer}s. */
        OUTPUT_PROJECTORS,
        /** LoRA A/B of the LLM (stage 3). */
        LORA
    }

    /** The legacy {@code llama_model.} prefix of stages 1/2. */
    public static final String STAGE12_PREFIX = "llama_model.";
    /** The peft-wrapped prefix of stage 3. */
    public static final String STAGE3_PREFIX = "llama_model.base_model.model.";

    /**
     * One training batch: the token layout from {@link LegacyBatchBuilder}, the ImageBind features of the input
     * media ({@code [B][F]}, only when {@code batch.withMedia()}), the output modality ({@code TEXT} for X→text and
     * text→text) and, for text→X, the caption embeddings of the target decoder ({@code [B][Q·D]}, e.g.
     * {@code [77·768]} or {@code [512]}).
     */
    public record Example(LegacyBatchBuilder.Batch batch, float[][] features, Modality outputModality,
                          float[][] captionEmbeddings) {
    }

    /** Tensors of one forward (owned by the forward's scope). {@code l2}, the signal and projector tensors are null for CE-only batches. */
    public record Forward(NDArray total, NDArray ce, NDArray l2, double l2Scale, NDArray labelNll, NDArray logits,
                          NDArray lastHidden, NDArray signalHidden, NDArray signalInputEmbs, NDArray projectorOutput) {
    }

    /**
     * Losses and dense gradients of one batch. {@code gradients} has one entry per trainable tensor (zeros where no
     * gradient arrived); {@code receivedGradient} names the trainable tensors the forward used.
     */
    public record Result(double total, double ce, double l2, double l2Scale, Map<String, NDArray> gradients,
                         Set<String> receivedGradient, NDArray projectorOutput, NDArray signalHidden) {
    }

    private final int stage;
    private final ParameterStore store;
    private final TrainingLlama llm;
    private final Map<Modality, long[]> signalIds;
    private final Map<Modality, TextFcTransformer> projectors = new EnumMap<>(Modality.class);

    /**
     * @param signalIds the signal token ids per output modality, in order (legacy {@code [IMG0..3]} etc.)
     * @param projectorHeads attention heads of the {@code TextFcLayer}s (4 in the original)
     */
    public LegacyTrainingModel(int stage, ParameterStore store, TrainingLlama llm, Map<Modality, long[]> signalIds,
                               int projectorHeads) {
        if (stage < 1 || stage > 3) {
            throw new InvalidInputException("stage must be 1, 2 or 3, not " + stage);
        }
        this.stage = stage;
        this.store = store;
        this.llm = llm;
        this.signalIds = new EnumMap<>(signalIds);
        for (Modality m : List.of(Modality.IMAGE, Modality.VIDEO, Modality.AUDIO)) {
            if (store.has(projectorPrefix(m) + "query_embs")) {
                projectors.put(m, TextFcTransformer.detect(store, projectorPrefix(m), projectorHeads, 1e-5f));
            }
        }
    }

    /** The weight-name prefix of a modality's output projector. */
    public static String projectorPrefix(Modality m) {
        return switch (m) {
            case IMAGE -> "gen_text_hidden_fcs.0.";
            case VIDEO -> "gen_text_hidden_fcs_video.0.";
            case AUDIO -> "gen_text_hidden_fcs_audio.0.";
            case TEXT -> throw new InvalidInputException("text has no output projector");
        };
    }

    /** The LLM prefix of a stage. */
    public static String llmPrefix(int stage) {
        return stage == 3 ? STAGE3_PREFIX : STAGE12_PREFIX;
    }

    /** What the original trains in each stage (README §4.5: embeddings and LM head are trainable in every stage). */
    public static Set<Part> originalTrainableParts(int stage) {
        return switch (stage) {
            case 1 -> EnumSet.of(Part.EMBED_TOKENS, Part.LM_HEAD, Part.INPUT_PROJECTOR);
            case 2 -> EnumSet.of(Part.EMBED_TOKENS, Part.LM_HEAD, Part.OUTPUT_PROJECTORS);
            case 3 -> EnumSet.of(Part.EMBED_TOKENS, Part.LM_HEAD, Part.INPUT_PROJECTOR, Part.OUTPUT_PROJECTORS,
                    Part.LORA);
            default -> throw new InvalidInputException("stage must be 1, 2 or 3, not " + stage);
        };
    }

    /**
     * Loads a legacy system: the stage-1/2 checkpoint {@code weights} (names {@code llama_model.…}, renamed to the
     * peft names in stage 3; files that already carry stage-3 names are kept as they are) and, in stage 3, the LoRA
     * tensors from {@code loraWeights} or, when null, peft's initialisation (A kaiming-uniform, B zeros) from
     * {@code seed}.
     */
    public static ParameterStore loadWeights(NDManager manager, DataType dtype, int stage, LlamaConfig config,
                                             Path weights, Path loraWeights, TrainingLlama.Lora lora, long seed) {
        ParameterStore store = new ParameterStore(manager, dtype);
        try {
            try (TensorStore w = Checkpoints.open(weights)) {
                store.loadAll(w, n -> !n.endsWith("rotary_emb.inv_freq") && !n.startsWith("input_embeddings."),
                        n -> renameForStage(n, stage));
            }
            if (stage == 3 && lora != null) {
                if (loraWeights != null) {
                    try (TensorStore l = Checkpoints.open(loraWeights)) {
                        store.loadAll(l, n -> true, n -> renameForStage(n, stage));
                    }
                }
                TrainingLlama llm = new TrainingLlama(config, STAGE3_PREFIX, lora);
                Random rnd = new Random(seed);
                for (int layer = 0; layer < config.numLayers(); layer++) {
                    for (String proj : lora.targets()) {
                        initLora(store, llm, layer, proj, rnd);
                    }
                }
            }
            return store;
        } catch (RuntimeException e) {
            store.close();
            throw e;
        }
    }

    private static void initLora(ParameterStore store, TrainingLlama llm, int layer, String proj, Random rnd) {
        String a = llm.loraName(layer, proj, "A");
        String b = llm.loraName(layer, proj, "B");
        if (store.has(a) && store.has(b)) {
            return;
        }
        String module = proj.endsWith("_proj") && Set.of("q_proj", "k_proj", "v_proj", "o_proj").contains(proj)
                ? "self_attn" : "mlp";
        String base = STAGE3_PREFIX + "model.layers." + layer + "." + module + "." + proj + ".weight";
        Shape w = store.peek(base).getShape();
        int r = llm.lora().r();
        long in = w.get(1);
        long out = w.get(0);
        double bound = 1 / Math.sqrt(in); // kaiming_uniform_(a=sqrt(5)) as peft initialises lora_A
        double[] av = new double[(int) (r * in)];
        for (int i = 0; i < av.length; i++) {
            av[i] = (rnd.nextDouble() * 2 - 1) * bound;
        }
        NDManager m = store.manager();
        store.put(a, m.create(av, new Shape(r, in)));
        store.put(b, m.zeros(new Shape(out, r), DataType.FLOAT64));
    }

    /** {@code llama_model.X} → {@code llama_model.base_model.model.X} in stage 3 (unless already renamed). */
    public static String renameForStage(String name, int stage) {
        if (stage == 3 && name.startsWith(STAGE12_PREFIX) && !name.startsWith(STAGE3_PREFIX)) {
            return STAGE3_PREFIX + name.substring(STAGE12_PREFIX.length());
        }
        if (stage != 3 && name.startsWith(STAGE3_PREFIX)) {
            return STAGE12_PREFIX + name.substring(STAGE3_PREFIX.length());
        }
        return name;
    }

    /** Marks the tensors of {@code parts} trainable; returns their names. */
    public List<String> setTrainable(Set<Part> parts) {
        List<String> names = new ArrayList<>();
        for (String n : store.names()) {
            boolean lora = n.contains(".lora_A.") || n.contains(".lora_B.");
            boolean take = (parts.contains(Part.EMBED_TOKENS) && n.equals(llm.embedName()))
                    || (parts.contains(Part.LM_HEAD) && n.equals(llm.lmHeadName()))
                    || (parts.contains(Part.INPUT_PROJECTOR) && n.startsWith("llama_proj."))
                    || (parts.contains(Part.OUTPUT_PROJECTORS) && isProjectorWeight(n))
                    || (parts.contains(Part.LORA) && lora);
            if (take) {
                names.add(n);
            }
        }
        if (parts.contains(Part.LORA) && names.stream().noneMatch(n -> n.contains(".lora_"))) {
            throw new ModelFormatException("LoRA is to be trained but the weights hold no LoRA tensors (stage "
                    + stage + ")");
        }
        store.setTrainable(names);
        return names;
    }

    /** The part a trainable tensor belongs to (null for frozen-only tensors such as LLM layers). */
    public Part partOf(String n) {
        if (n.equals(llm.embedName())) {
            return Part.EMBED_TOKENS;
        }
        if (n.equals(llm.lmHeadName())) {
            return Part.LM_HEAD;
        }
        if (n.startsWith("llama_proj.")) {
            return Part.INPUT_PROJECTOR;
        }
        if (isProjectorWeight(n)) {
            return Part.OUTPUT_PROJECTORS;
        }
        if (n.contains(".lora_A.") || n.contains(".lora_B.")) {
            return Part.LORA;
        }
        return null;
    }

    private static boolean isProjectorWeight(String n) {
        return n.startsWith("gen_text_hidden_fcs.0.") || n.startsWith("gen_text_hidden_fcs_video.0.")
                || n.startsWith("gen_text_hidden_fcs_audio.0.");
    }

    public int stage() {
        return stage;
    }

    public ParameterStore parameters() {
        return store;
    }

    public TrainingLlama llm() {
        return llm;
    }

    /** The forward pass; every intermediate array belongs to {@code scope}. */
    public Forward forward(Example ex, NDManager scope, boolean training) {
        LegacyBatchBuilder.Batch b = ex.batch();
        Modality out = ex.outputModality() == null ? Modality.TEXT : ex.outputModality();
        validate(ex, out);
        store.beginForward(scope);
        int batch = b.batchSize();
        int len = b.inputIds()[0].length;
        long d = llm.config().hiddenSize();
        DataType dt = store.computeType();
        DataType lossType = store.dtype();
        NDList parts = new NDList();
        long[] prefix = b.prefixIds();
        parts.add(llm.embed(store, scope, prefix).expandDims(0).broadcast(new Shape(batch, prefix.length, d)));
        if (b.withMedia()) {
            NDArray feat = create(scope, ex.features(), dt);
            NDArray proj = feat.matMul(store.get("llama_proj.weight").transpose()).add(store.get("llama_proj.bias"));
            parts.add(proj.expandDims(1));
        }
        parts.add(llm.embed(store, scope, flatten(b.inputIds())).reshape(batch, len, d));
        NDArray inputs = NDArrays.concat(parts, 1);
        TrainingLlama.Output o = llm.forward(store, inputs, b.wrappedAttentionMask(), training);

        long[][] targets = b.wrappedTargets();
        int seq = targets[0].length;
        long[] labels = new long[batch * (seq - 1)];
        float[] valid = new float[labels.length];
        int count = 0;
        for (int r = 0; r < batch; r++) {
            for (int t = 1; t < seq; t++) {
                long y = targets[r][t];
                boolean ok = y != LegacyBatchBuilder.IGNORE_INDEX;
                labels[r * (seq - 1) + t - 1] = ok ? y : 0;
                valid[r * (seq - 1) + t - 1] = ok ? 1 : 0;
                count += ok ? 1 : 0;
            }
        }
        if (count == 0) {
            throw new InvalidInputException("the batch has no target tokens (every label is -100)");
        }
        // mixed precision: the loss is computed in the master type (float32) from the cast logits
        NDArray logits = upcast(o.logits(), lossType);
        NDArray logp = logits.get(new NDIndex(":, 0:" + (seq - 1))).logSoftmax(-1);
        NDArray picked = logp.gather(scope.create(labels, new Shape(batch, seq - 1, 1)), 2)
                .reshape(batch, seq - 1);
        NDArray nll = picked.neg().mul(scope.create(valid, new Shape(batch, seq - 1)).toType(lossType, false));
        NDArray ce = GraphScalars.div(nll.sum(), count);
        if (out == Modality.TEXT) {
            return new Forward(ce, ce, null, 0, nll, o.logits(), o.lastHidden(), null, null, null);
        }
        long[] sig = signalIds.get(out);
        NDList hidden = new NDList();
        long[] sigInputs = new long[batch * sig.length];
        for (int r = 0; r < batch; r++) {
            int[] span = signalSpan(targets[r], sig, r);
            hidden.add(o.lastHidden().get(new NDIndex(r + ", " + span[0] + ":" + (span[1] + 1))));
            System.arraycopy(targets[r], span[0], sigInputs, r * sig.length, sig.length);
        }
        NDArray signalHidden = NDArrays.stack(hidden);
        NDArray signalEmbs = llm.embed(store, scope, sigInputs).reshape(batch, sig.length, d);
        TextFcTransformer projector = projectors.get(out);
        NDArray projected = projector.forward(store, signalHidden, signalEmbs);
        projected = upcast(projected, lossType);
        NDArray caption = create(scope, ex.captionEmbeddings(), lossType)
                .reshape(batch, projector.numQueries(), projector.outDim());
        NDArray l2 = projected.sub(caption).square().sum(new int[] {-1}).sqrt().mean();
        double scale = stage == 3 && out == Modality.VIDEO ? 2.0 : 1.0;
        NDArray total = ce.add(GraphScalars.mul(l2, scale));
        return new Forward(total, ce, l2, scale, nll, o.logits(), o.lastHidden(), signalHidden, signalEmbs, projected);
    }

    /**
     * Forward + backward: losses and the gradient of {@code total} for every trainable tensor, copied into
     * {@code target} (the parameters' own gradients are reset to zero).
     */
    public Result lossAndGradients(Example ex, NDManager target, boolean training) {
        return lossAndGradients(ex, target, training, 1.0);
    }

    /**
     * As {@link #lossAndGradients(Example, NDManager, boolean)} with the backward pass started from
     * {@code lossScale · total} (fp16 loss scaling): the gradients are scaled by {@code lossScale}, the losses are not.
     */
    public Result lossAndGradients(Example ex, NDManager target, boolean training, double lossScale) {
        try (NDManager scope = store.manager().newSubManager()) {
            Forward f;
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                f = forward(ex, scope, training);
                gc.backward(lossScale == 1.0 ? f.total() : GraphScalars.mul(f.total(), (float) lossScale));
            }
            Set<String> received = new LinkedHashSet<>(store.trainableNames());
            received.retainAll(store.used());
            Map<String, NDArray> grads = store.takeGradients(target);
            return new Result(f.total().toType(DataType.FLOAT64, false).getDouble(),
                    f.ce().toType(DataType.FLOAT64, false).getDouble(),
                    f.l2() == null ? Double.NaN : f.l2().toType(DataType.FLOAT64, false).getDouble(), f.l2Scale(),
                    grads, received, keep(f.projectorOutput(), target), keep(f.signalHidden(), target));
        }
    }

    /** Losses without gradients (evaluation): {@code [total, ce, l2 or NaN]}. */
    public double[] evaluate(Example ex) {
        try (NDManager scope = store.manager().newSubManager()) {
            Forward f = forward(ex, scope, false);
            return new double[] {f.total().toType(DataType.FLOAT64, false).getDouble(),
                    f.ce().toType(DataType.FLOAT64, false).getDouble(),
                    f.l2() == null ? Double.NaN : f.l2().toType(DataType.FLOAT64, false).getDouble()};
        }
    }

    private static NDArray keep(NDArray a, NDManager target) {
        if (a == null) {
            return null;
        }
        NDArray c = a.stopGradient().duplicate();
        c.attach(target);
        return c;
    }

    private void validate(Example ex, Modality out) {
        LegacyBatchBuilder.Batch b = ex.batch();
        if (b.withMedia() != (ex.features() != null)) {
            throw new InvalidInputException(b.withMedia() ? "the batch has media but no ImageBind features were given"
                    : "features were given but the batch was collated without media");
        }
        if (b.withMedia() && ex.features().length != b.batchSize()) {
            throw new InvalidInputException(ex.features().length + " feature rows for a batch of " + b.batchSize());
        }
        switch (stage) {
            case 1 -> {
                if (!b.withMedia() || out != Modality.TEXT) {
                    throw new InvalidInputException("stage 1 trains media→text captioning; got media "
                            + b.withMedia() + ", output " + out);
                }
            }
            case 2 -> {
                if (b.withMedia() || out == Modality.TEXT) {
                    throw new InvalidInputException("stage 2 trains text→image/video/audio; got media "
                            + b.withMedia() + ", output " + out);
                }
            }
            default -> {
            }
        }
        if (out != Modality.TEXT) {
            if (!projectors.containsKey(out)) {
                throw new ModelFormatException("no output projector weights for " + out + " (" + projectorPrefix(out)
                        + "*)");
            }
            if (!signalIds.containsKey(out)) {
                throw new InvalidInputException("no signal token ids configured for " + out);
            }
            TextFcTransformer p = projectors.get(out);
            int need = p.numQueries() * p.outDim();
            if (ex.captionEmbeddings() == null || ex.captionEmbeddings().length != b.batchSize()) {
                throw new InvalidInputException("a text→" + out + " batch of " + b.batchSize()
                        + " needs one caption embedding per sample");
            }
            for (int i = 0; i < ex.captionEmbeddings().length; i++) {
                if (ex.captionEmbeddings()[i].length != need) {
                    throw new InvalidInputException("caption embedding " + i + " has " + ex.captionEmbeddings()[i].length
                            + " values; the " + out + " projector outputs [" + p.numQueries() + ", " + p.outDim()
                            + "] = " + need);
                }
            }
        }
    }

    private static int[] signalSpan(long[] targets, long[] sig, int row) {
        int s = -1;
        int e = -1;
        for (int i = 0; i < targets.length; i++) {
            if (s < 0 && targets[i] == sig[0]) {
                s = i;
            }
            if (targets[i] == sig[sig.length - 1]) {
                e = i;
            }
        }
        if (s < 0 || e - s + 1 != sig.length) {
            throw new InvalidInputException("row " + row + " does not hold the " + sig.length
                    + " contiguous signal tokens in its targets (first at " + s + ", last at " + e + ")");
        }
        return new int[] {s, e};
    }

    private static long[] flatten(long[][] a) {
        long[] out = new long[a.length * a[0].length];
        for (int i = 0; i < a.length; i++) {
            System.arraycopy(a[i], 0, out, i * a[0].length, a[i].length);
        }
        return out;
    }

    /**
     * A differentiable cast to the wider {@code type}: adding a one-element zero tensor of that type promotes the
     * result, and autograd casts the gradient back ({@code toType} is not recorded by DJL's autograd).
     */
    private static NDArray upcast(NDArray x, DataType type) {
        return x.getDataType() == type ? x : x.add(x.getManager().zeros(new Shape(1), type));
    }

    private static NDArray create(NDManager scope, float[][] rows, DataType dt) {
        int n = rows[0].length;
        float[] flat = new float[rows.length * n];
        for (int i = 0; i < rows.length; i++) {
            if (rows[i].length != n) {
                throw new InvalidInputException("rows of unequal length: " + rows[i].length + " vs " + n);
            }
            System.arraycopy(rows[i], 0, flat, i * n, n);
        }
        return scope.create(flat, new Shape(rows.length, n)).toType(dt, false);
    }

    @Override
    public void close() {
        store.close();
    }
}
