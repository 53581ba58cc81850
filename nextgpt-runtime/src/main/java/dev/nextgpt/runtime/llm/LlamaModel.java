package dev.nextgpt.runtime.llm;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.UnsupportedConfigurationException;
import dev.nextgpt.runtime.io.Checkpoints;
import dev.nextgpt.runtime.io.TensorInfo;
import dev.nextgpt.runtime.io.TensorStore;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * LLaMA / Vicuna decoder ({@code LlamaForCausalLM}) in DJL NDArray code, loaded from an original HF checkpoint
 * folder. Follows the HF maths exactly: RMSNorm (eps inside the root, computed in float32), rotate-half RoPE,
 * grouped-query attention with an additive {@code finfo(float32).min} mask and a float32 softmax, SiLU-gated MLP,
 * final norm and {@code lm_head}.
 *
 * <p>For speed, q/k/v and gate/up are fused into one weight each at load, the KV cache is preallocated
 * ({@link KvCache}), and every call scopes its temporaries in a sub-manager of the caller's manager. Results are
 * attached to the manager of the input array (or the one passed explicitly).
 * On a CPU with a spare core, single-position projections run as two concurrent row-half matvecs (same values
 * bit for bit; see {@link #PARALLEL_MATVEC_PROPERTY}).
 *
 * <p>Compute runs in FLOAT32 by default; FLOAT16 / BFLOAT16 are meant for GPUs. Weights may be stored in
 * fp32/fp16/bf16. The vocabulary size is taken from the {@code embed_tokens} / {@code lm_head} tensor shapes, so
 * checkpoints with extra (signal) token rows load as they are.
 */
public final class LlamaModel implements AutoCloseable {
    /** Value used to mask attention scores (HF: {@code torch.finfo(float32).min}, finite on purpose). */
    static final float MASK_MIN = -Float.MAX_VALUE;

    /** Which positions the language-model head is applied to. */
    public enum Logits {
        /** every position: {@code [B, T, V]} */
        ALL,
        /** only the last position: {@code [B, 1, V]} */
        LAST,
        /** none (hidden states only) */
        NONE
    }

    /**
     * The result of a forward pass, attached to the caller's manager.
     *
     * @param logits           FLOAT32 logits ({@code [B, T, V]}, {@code [B, 1, V]} or null, see {@link Logits})
     * @param hiddenStates     if asked: {@code num_layers + 1} arrays {@code [B, T, H]} (HF convention: entry 0 is
     *                         the embedding output, the last is after the final norm); otherwise empty
     * @param lastHidden       final-norm output at the positions the head was applied to ({@code [B, T, H]} for
     *                         ALL/NONE, {@code [B, 1, H]} for LAST), in compute dtype
     * @param lastLayerPrenorm raw output of the last decoder layer ({@code [B, T, H]}) if hidden states were asked
     */
    public record Output(NDArray logits, List<NDArray> hiddenStates, NDArray lastHidden, NDArray lastLayerPrenorm) {
    }

    /** Fused projection groups of a decoder layer (order of the LoRA slots). */
    private static final int QKV = 0;
    private static final int O = 1;
    private static final int GATE_UP = 2;
    private static final int DOWN = 3;

    private static final class Layer {
        NDArray inputNorm;
        NDArray postNorm;
        /** [groupOut, in] weights and optional biases for QKV, O, GATE_UP, DOWN. */
        final NDArray[] weight = new NDArray[4];
        final NDArray[] bias = new NDArray[4];
        /** Unmerged LoRA: A_cat [sumR, in] and B_block [out, sumR] (scaling folded into B); null if none. */
        final NDArray[] loraA = new NDArray[4];
        final NDArray[] loraB = new NDArray[4];
        /** Row halves for the parallel decode matvec: {w0, w1, b0|null, b1|null} views per group, or null. */
        final NDArray[][] halves = new NDArray[4][];
    }

    /**
     * System property switching the two-thread decode matvec: {@code true}, {@code false} or {@code auto} (default:
     * on for CPU models when at least 2 processors are available and libtorch runs 1 intra-op thread).
     */
    public static final String PARALLEL_MATVEC_PROPERTY = "nextgpt.llm.parallel_matvec";

    /** One daemon worker shared by all models: it computes the second row half of decode projections. */
    private static volatile ExecutorService matvecWorker;

    private final LlamaConfig config;
    private final Path source;
    private final NDManager manager;
    private final DataType dtype;
    private final NDArray embed;
    private final NDArray lmHead;
    private final NDArray finalNorm;
    private final Layer[] layers;
    /** rotate_half as a [d, d] signed permutation matrix: {@code rotate_half(x) = x·R}. */
    private final NDArray rotateHalf;
    private final float[] invFreq;
    /** 0-d constants so that per-step scalar ops do not create scalar tensors (each create is a native copy). */
    private final NDArray epsScalar;
    private final NDArray minusHalf;
    private final NDArray attnScale;
    /** cos/sin of positions {@code [0, ropePositions)}, {@code [P, d]} in compute dtype (grown on demand). */
    private NDArray cosTable;
    private NDArray sinTable;
    private int ropePositions;
    private final int embedRows;
    private final int vocabSize;
    private LoraAdapter appliedLora;
    private boolean loraMerged;
    /** Whether single-token projections run as two concurrent row-half matvecs. */
    private final boolean parallelMatvec;
    private NDArray[] lmHeadHalves;

    private LlamaModel(LlamaConfig config, Path source, NDManager manager, DataType dtype, TensorStore store) {
        this.config = config;
        this.source = source;
        this.manager = manager;
        this.dtype = dtype;
        int h = config.hiddenSize();
        String embedName = "model.embed_tokens.weight";
        TensorInfo ei = expectInfo(store, embedName, -1, h);
        this.embedRows = (int) ei.dim(0);
        this.embed = loadWeight(store, embedName);
        if (config.tieWordEmbeddings() || !store.contains("lm_head.weight")) {
            this.lmHead = embed;
            this.vocabSize = embedRows;
        } else {
            TensorInfo li = expectInfo(store, "lm_head.weight", -1, h);
            this.vocabSize = (int) li.dim(0);
            this.lmHead = loadWeight(store, "lm_head.weight");
        }
        expectInfo(store, "model.norm.weight", h);
        this.finalNorm = loadWeight(store, "model.norm.weight");
        int qOut = config.numHeads() * config.headDim();
        int kvOut = config.numKvHeads() * config.headDim();
        int inter = config.intermediateSize();
        this.layers = new Layer[config.numLayers()];
        for (int i = 0; i < layers.length; i++) {
            String p = "model.layers." + i + ".";
            Layer l = new Layer();
            expectInfo(store, p + "input_layernorm.weight", h);
            expectInfo(store, p + "post_attention_layernorm.weight", h);
            l.inputNorm = loadWeight(store, p + "input_layernorm.weight");
            l.postNorm = loadWeight(store, p + "post_attention_layernorm.weight");
            expectInfo(store, p + "self_attn.q_proj.weight", qOut, h);
            expectInfo(store, p + "self_attn.k_proj.weight", kvOut, h);
            expectInfo(store, p + "self_attn.v_proj.weight", kvOut, h);
            expectInfo(store, p + "self_attn.o_proj.weight", h, qOut);
            expectInfo(store, p + "mlp.gate_proj.weight", inter, h);
            expectInfo(store, p + "mlp.up_proj.weight", inter, h);
            expectInfo(store, p + "mlp.down_proj.weight", h, inter);
            l.weight[QKV] = loadFused(store, p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight",
                    p + "self_attn.v_proj.weight");
            l.weight[O] = loadWeight(store, p + "self_attn.o_proj.weight");
            l.weight[GATE_UP] = loadFused(store, p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight");
            l.weight[DOWN] = loadWeight(store, p + "mlp.down_proj.weight");
            if (config.attentionBias()) {
                l.bias[QKV] = loadFused(store, p + "self_attn.q_proj.bias", p + "self_attn.k_proj.bias",
                        p + "self_attn.v_proj.bias");
                l.bias[O] = loadWeight(store, p + "self_attn.o_proj.bias");
            }
            if (config.mlpBias()) {
                l.bias[GATE_UP] = loadFused(store, p + "mlp.gate_proj.bias", p + "mlp.up_proj.bias");
                l.bias[DOWN] = loadWeight(store, p + "mlp.down_proj.bias");
            }
            layers[i] = l;
        }
        int d = config.headDim();
        float[] r = new float[d * d];
        int half = d / 2;
        for (int j = 0; j < half; j++) {
            r[(j + half) * d + j] = -1f; // out[j] = -x[j + half]
            r[j * d + j + half] = 1f; // out[j + half] = x[j]
        }
        this.rotateHalf = manager.create(r, new Shape(d, d)).toType(dtype, false);
        this.invFreq = config.rope().inverseFrequencies(d);
        this.epsScalar = manager.create((float) config.rmsNormEps());
        this.minusHalf = manager.create(-0.5f);
        this.attnScale = manager.create((float) (1.0 / Math.sqrt(d)));
        this.parallelMatvec = parallelMatvecWanted(manager.getDevice());
        if (parallelMatvec) {
            for (Layer l : layers) {
                for (int g = 0; g < 4; g++) {
                    l.halves[g] = rowHalves(l.weight[g], l.bias[g], g == GATE_UP ? inter : -1);
                }
            }
            lmHeadHalves = rowHalves(lmHead, null, -1);
        }
    }

    private static boolean parallelMatvecWanted(Device device) {
        String v = System.getProperty(PARALLEL_MATVEC_PROPERTY, "auto").trim().toLowerCase(java.util.Locale.ROOT);
        switch (v) {
            case "true":
                return !device.isGpu();
            case "false":
                return false;
            case "auto":
                break;
            default:
                throw new InvalidInputException("system property " + PARALLEL_MATVEC_PROPERTY + " must be true, false"
                        + " or auto, not '" + v + "'");
        }
        if (device.isGpu() || Runtime.getRuntime().availableProcessors() < 2) {
            return false;
        }
        int intraOp;
        try {
            intraOp = ai.djl.pytorch.jni.JniUtils.getNumThreads();
        } catch (RuntimeException | LinkageError e) {
            return false;
        }
        return intraOp == 1;
    }

    /**
     * Zero-copy views of the first and second row halves of a row-major {@code [out, in]} weight (and bias), split
     * at {@code split} rows (or out/2 when negative).
     */
    private static NDArray[] rowHalves(NDArray w, NDArray b, long split) {
        long out = w.getShape().get(0);
        long h = split > 0 ? split : out / 2;
        NDIndex first = new NDIndex().addSliceDim(0, h);
        NDIndex second = new NDIndex().addSliceDim(h, out);
        return new NDArray[] {w.get(first), w.get(second), b == null ? null : b.get(first),
            b == null ? null : b.get(second)};
    }

    private static void closeHalves(NDArray[] halves) {
        if (halves != null) {
            for (NDArray a : halves) {
                if (a != null) {
                    a.close();
                }
            }
        }
    }

    private static ExecutorService matvecWorker() {
        ExecutorService w = matvecWorker;
        if (w == null) {
            synchronized (LlamaModel.class) {
                w = matvecWorker;
                if (w == null) {
                    w = Executors.newSingleThreadExecutor(r -> {
                        Thread t = new Thread(r, "nextgpt-llm-matvec");
                        t.setDaemon(true);
                        return t;
                    });
                    matvecWorker = w;
                }
            }
        }
        return w;
    }

    /**
     * {@code x·W0ᵀ(+b0)} on the calling thread and {@code x·W1ᵀ(+b1)} on the worker, concurrently. Both results
     * are created in {@code x}'s manager (its attach is synchronized); the worker is always joined before return,
     * so nothing outlives the caller's scope.
     */
    private static NDArray[] linearHalves(NDArray x, NDArray[] halves) {
        Future<NDArray> second = matvecWorker().submit(() -> linear(x, halves[1], halves[3]));
        NDArray y0 = null;
        RuntimeException failure = null;
        try {
            y0 = linear(x, halves[0], halves[2]);
        } catch (RuntimeException e) {
            failure = e;
        }
        // always wait for the worker, even after a failure or an interrupt: it reads x, which the caller's scope
        // closes afterwards
        boolean interrupted = false;
        NDArray y1 = null;
        while (true) {
            try {
                y1 = second.get();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            } catch (ExecutionException e) {
                if (failure == null) {
                    Throwable c = e.getCause();
                    failure = c instanceof RuntimeException re ? re
                            : new dev.nextgpt.RuntimeFailureException("decode matvec failed: " + c, c);
                }
                break;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        if (failure != null) {
            throw failure;
        }
        return new NDArray[] {y0, y1};
    }

    /** True when this projection input is a single new position that should use the two-thread matvec. */
    private boolean splitMatvec(NDArray x) {
        return parallelMatvec && x.getShape().get(x.getShape().dimension() - 2) == 1;
    }

    /** Whether single-token steps compute projections as two concurrent row-half matvecs. */
    public boolean parallelMatvec() {
        return parallelMatvec;
    }

    /** Loads a checkpoint folder on the CPU in FLOAT32. */
    public static LlamaModel load(Path dir) {
        return load(dir, Device.cpu(), DataType.FLOAT32);
    }

    /**
     * Loads a checkpoint folder ({@code config.json}, optional {@code generation_config.json} and any weight layout
     * {@link Checkpoints#open} understands) on {@code device}, computing in {@code dtype} (FLOAT32, FLOAT16 or
     * BFLOAT16).
     */
    public static LlamaModel load(Path dir, Device device, DataType dtype) {
        LlamaConfig config = LlamaConfig.load(dir);
        try (TensorStore store = Checkpoints.open(dir)) {
            return load(config, store, device, dtype);
        }
    }

    /** Builds the model from an already parsed config and an open tensor store (HF tensor names). */
    public static LlamaModel load(LlamaConfig config, TensorStore store, Device device, DataType dtype) {
        if (dtype != DataType.FLOAT32 && dtype != DataType.FLOAT16 && dtype != DataType.BFLOAT16) {
            throw new UnsupportedConfigurationException("LLaMA compute dtype " + dtype
                    + " is not supported (FLOAT32, FLOAT16, BFLOAT16)");
        }
        NDManager manager = NDManager.newBaseManager(device);
        try {
            return new LlamaModel(config, store.source(), manager, dtype, store);
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    private static TensorInfo expectInfo(TensorStore store, String name, long... shape) {
        if (!store.contains(name)) {
            throw new ModelFormatException("LLaMA checkpoint " + store.source() + " lacks tensor '" + name + "'");
        }
        TensorInfo info = store.info(name);
        long[] actual = info.shape();
        boolean ok = actual.length == shape.length;
        for (int i = 0; ok && i < shape.length; i++) {
            ok = shape[i] < 0 || shape[i] == actual[i];
        }
        if (!ok) {
            throw new ModelFormatException("LLaMA checkpoint " + store.source() + ": tensor '" + name + "' has shape "
                    + info.shapeString() + " but the config implies " + Arrays.toString(shape).replace("-1", "*"));
        }
        return info;
    }

    private NDArray loadWeight(TensorStore store, String name) {
        if (!store.contains(name)) {
            throw new ModelFormatException("LLaMA checkpoint " + store.source() + " lacks tensor '" + name + "'");
        }
        // fp32 on the CPU: zero-copy view of the memory-mapped checkpoint (never modified in place; LoRA merges
        // replace the array), so the weights are not held twice
        boolean shared = dtype == DataType.FLOAT32 && !manager.getDevice().isGpu();
        NDArray a = shared ? store.loadShared(manager, name) : store.load(manager, name);
        if (a.getDataType() != dtype) {
            NDArray c = a.toType(dtype, false);
            a.close();
            a = c;
        }
        return a;
    }

    private NDArray loadFused(TensorStore store, String... names) {
        try (NDManager tmp = manager.newSubManager()) {
            NDList parts = new NDList();
            for (String n : names) {
                if (!store.contains(n)) {
                    throw new ModelFormatException("LLaMA checkpoint " + store.source() + " lacks tensor '" + n + "'");
                }
                parts.add(store.load(tmp, n));
            }
            NDArray fused = NDArrays.concat(parts, 0).toType(dtype, false);
            fused.attach(manager);
            return fused;
        }
    }

    public LlamaConfig config() {
        return config;
    }

    /** Rows of the logits (from the {@code lm_head} tensor, which may exceed {@code config.vocabSize()}). */
    public int vocabSize() {
        return vocabSize;
    }

    /** Rows of the input embedding table. */
    public int embeddingRows() {
        return embedRows;
    }

    public int hiddenSize() {
        return config.hiddenSize();
    }

    public DataType dtype() {
        return dtype;
    }

    public Device device() {
        return manager.getDevice();
    }

    /** Where the weights came from. */
    public Path source() {
        return source;
    }

    /** Embedding lookup: {@code ids [..]} (integer) → {@code [.., H]} in compute dtype, in {@code ids}' manager. */
    public NDArray embed(NDArray ids) {
        return embed(ids.getManager(), ids);
    }

    /** Embedding lookup into {@code out}. */
    public NDArray embed(NDManager out, NDArray ids) {
        NDArray idx = ids.getDataType() == DataType.INT64 ? ids : ids.toType(DataType.INT64, false);
        checkIds(idx);
        NDArray flat = idx.getShape().dimension() == 1 ? idx : idx.reshape(-1);
        NDArray rows = embed.get(out, new NDIndex("{}", flat.toDevice(manager.getDevice(), false)));
        if (flat != idx) {
            rows = rows.reshape(idx.getShape().add(config.hiddenSize()));
        }
        return rows;
    }

    /** Embedding lookup of Java ids {@code [B][T]} (equal row lengths) into {@code out}: {@code [B, T, H]}. */
    public NDArray embed(NDManager out, long[][] ids) {
        int t = ids[0].length;
        long[] flat = new long[ids.length * t];
        for (int r = 0; r < ids.length; r++) {
            if (ids[r].length != t) {
                throw new InvalidInputException("id rows have different lengths: " + t + " and " + ids[r].length);
            }
            for (int j = 0; j < t; j++) {
                long id = ids[r][j];
                if (id < 0 || id >= embedRows) {
                    throw new InvalidInputException("token id " + id + " out of range [0, " + embedRows + ")");
                }
                flat[r * t + j] = id;
            }
        }
        try (NDManager tmp = out.newSubManager(manager.getDevice())) {
            NDArray idx = tmp.create(flat);
            NDArray rows = embed.get(out, new NDIndex("{}", idx));
            return rows.reshape(ids.length, t, config.hiddenSize());
        }
    }

    private void checkIds(NDArray ids) {
        if (ids.isEmpty()) {
            return;
        }
        long min = ids.min().getLong();
        long max = ids.max().getLong();
        if (min < 0 || max >= embedRows) {
            throw new InvalidInputException("token id out of range [0, " + embedRows + "): min " + min + ", max "
                    + max);
        }
    }

    /**
     * Full forward over {@code inputIds [B, T]} (integer) with an optional {@code attentionMask [B, T]} (1 = token,
     * 0 = padding, left padding expected; position ids are {@code cumsum(mask) - 1} with pads at 0), no cache.
     */
    public Output forward(NDArray inputIds, NDArray attentionMask, boolean outputHiddenStates) {
        requireRank(inputIds, 2, "input_ids");
        NDManager out = inputIds.getManager();
        try (NDManager scope = out.newSubManager(manager.getDevice())) {
            NDArray x = embed(scope, inputIds);
            Output o = run(x, toMask(attentionMask, inputIds.getShape()), null, Logits.ALL, outputHiddenStates);
            return attach(o, out);
        }
    }

    /** Full forward from {@code inputsEmbeds [B, T, H]} (any float dtype) instead of ids. */
    public Output forwardEmbeds(NDArray inputsEmbeds, NDArray attentionMask, boolean outputHiddenStates) {
        requireRank(inputsEmbeds, 3, "inputs_embeds");
        NDManager out = inputsEmbeds.getManager();
        try (NDManager scope = out.newSubManager(manager.getDevice())) {
            NDArray x = prepareEmbeds(scope, inputsEmbeds);
            Shape s = inputsEmbeds.getShape();
            Output o = run(x, toMask(attentionMask, new Shape(s.get(0), s.get(1))), null, Logits.ALL,
                    outputHiddenStates);
            return attach(o, out);
        }
    }

    NDArray prepareEmbeds(NDManager scope, NDArray inputsEmbeds) {
        if (inputsEmbeds.getShape().get(inputsEmbeds.getShape().dimension() - 1) != config.hiddenSize()) {
            throw new InvalidInputException("inputs_embeds " + inputsEmbeds.getShape() + " must end with hidden size "
                    + config.hiddenSize());
        }
        NDArray x = inputsEmbeds.toDevice(manager.getDevice(), false).toType(dtype, false);
        if (x == inputsEmbeds) {
            x.tempAttach(scope); // back to the caller's manager when the scope closes
        } else {
            x.attach(scope);
        }
        return x;
    }

    private static void requireRank(NDArray a, int rank, String what) {
        if (a.getShape().dimension() != rank) {
            throw new InvalidInputException(what + " must have rank " + rank + " but has shape " + a.getShape());
        }
    }

    private static long[][] toMask(NDArray mask, Shape idsShape) {
        if (mask == null) {
            return null;
        }
        if (!mask.getShape().equals(idsShape)) {
            throw new InvalidInputException("attention_mask " + mask.getShape() + " must have the shape of the inputs "
                    + idsShape);
        }
        long[] flat = mask.toType(DataType.INT64, false).toLongArray();
        int b = (int) idsShape.get(0);
        int t = (int) idsShape.get(1);
        long[][] m = new long[b][t];
        for (int i = 0; i < b; i++) {
            System.arraycopy(flat, i * t, m[i], 0, t);
        }
        return m;
    }

    private static Output attach(Output o, NDManager out) {
        if (o.logits() != null) {
            o.logits().attach(out);
        }
        for (NDArray h : o.hiddenStates()) {
            h.attach(out);
        }
        if (o.lastHidden() != null) {
            o.lastHidden().attach(out);
        }
        if (o.lastLayerPrenorm() != null) {
            o.lastLayerPrenorm().attach(out);
        }
        return o;
    }

    /**
     * The core pass. {@code x [B, T, H]} in compute dtype lives in the caller's scope manager, as will every result.
     * {@code mask} covers the cached positions plus the new ones ({@code [B][past + T]}); null means all ones.
     */
    Output run(NDArray x, long[][] mask, KvCache cache, Logits logitsMode, boolean hiddenStates) {
        NDManager scope = x.getManager();
        long[] s = x.getShape().getShape();
        int b = (int) s[0];
        int t = (int) s[1];
        int past = cache == null ? 0 : cache.length();
        int total = past + t;
        if (mask != null && (mask.length != b || mask[0].length != total)) {
            throw new InvalidInputException("attention mask is [" + mask.length + ", "
                    + (mask.length == 0 ? 0 : mask[0].length) + "] but the batch is " + b + " with " + total
                    + " positions (cached + new)");
        }
        if (cache != null) {
            cache.reserve(b, total);
        }
        NDArray[] cosSin = rope(scope, mask, b, t, past);
        NDArray attnMask = additiveMask(scope, mask, b, t, past);
        List<NDArray> hidden = new ArrayList<>();
        if (hiddenStates) {
            hidden.add(x.duplicate());
        }
        for (int i = 0; i < layers.length; i++) {
            x = layer(layers[i], i, x, cosSin[0], cosSin[1], attnMask, cache, past);
            if (hiddenStates && i < layers.length - 1) {
                hidden.add(x);
            }
        }
        if (cache != null) {
            cache.advance(t);
        }
        NDArray prenorm = hiddenStates ? x : null;
        NDArray normed;
        NDArray head;
        if (hiddenStates || logitsMode != Logits.LAST) {
            normed = rmsNorm(x, finalNorm);
            head = logitsMode == Logits.LAST ? normed.get(new NDIndex().addAllDim().addSliceDim(t - 1, t)) : normed;
        } else {
            normed = rmsNorm(x.get(new NDIndex().addAllDim().addSliceDim(t - 1, t)), finalNorm);
            head = normed;
        }
        if (hiddenStates) {
            hidden.add(normed);
        }
        NDArray logits = null;
        if (logitsMode != Logits.NONE) {
            NDArray y;
            if (splitMatvec(head)) {
                NDArray[] yy = linearHalves(head, lmHeadHalves);
                y = yy[0].concat(yy[1], -1);
            } else {
                y = linear(head, lmHead, null);
            }
            logits = y.toType(DataType.FLOAT32, false);
        }
        return new Output(logits, hidden, head, prenorm);
    }

    private NDArray layer(Layer l, int index, NDArray x, NDArray cos, NDArray sin, NDArray attnMask, KvCache cache,
                          int past) {
        long[] s = x.getShape().getShape();
        long b = s[0];
        long t = s[1];
        int nh = config.numHeads();
        int nkv = config.numKvHeads();
        int d = config.headDim();
        int rep = nh / nkv;

        NDArray h = rmsNorm(x, l.inputNorm);
        // [B, T, heads, d] -> [B, heads, T, d] once; RoPE on the q and k heads together
        NDArray qkv = project(l, QKV, h).reshape(b, t, nh + 2L * nkv, d).transpose(0, 2, 1, 3);
        NDArray qk = qkv.get(new NDIndex().addAllDim().addSliceDim(0, nh + nkv));
        qk = qk.mul(cos).addi(qk.matMul(rotateHalf).muli(sin));
        NDArray q = qk.get(new NDIndex().addAllDim().addSliceDim(0, nh));
        NDArray k = qk.get(new NDIndex().addAllDim().addSliceDim(nh, nh + nkv));
        NDArray v = qkv.get(new NDIndex().addAllDim().addSliceDim(nh + nkv, nh + 2L * nkv));
        if (cache != null) {
            NDArray[] kv = cache.update(index, k, v, past);
            k = kv[0];
            v = kv[1];
        }
        long total = k.getShape().get(2);
        // grouped-query attention without repeating K/V: the rep query heads of one kv head share a matmul
        NDArray qg = q.reshape(b, nkv, rep * t, d);
        NDArray scores = qg.matMul(k.transpose(0, 1, 3, 2)).muli(attnScale).toType(DataType.FLOAT32, false);
        if (attnMask != null) {
            scores = scores.reshape(b, nkv, rep, t, total).add(attnMask).reshape(b, nkv, rep * t, total);
        }
        NDArray probs = scores.softmax(-1).toType(dtype, false);
        NDArray ctx = probs.matMul(v);
        // [B, kv, rep*T, d] -> [B, T, heads*d]; for T = 1 the memory order already is (heads, d)
        NDArray attn = t == 1 ? ctx.reshape(new Shape(b, 1, (long) nh * d))
                : ctx.reshape(b, nh, t, d).transpose(0, 2, 1, 3).reshape(b, t, (long) nh * d);
        x = x.add(project(l, O, attn)); // a new array: the input x may be the caller's or a kept hidden state

        NDArray n = rmsNorm(x, l.postNorm);
        NDArray gate;
        NDArray up;
        if (splitMatvec(n) && l.loraA[GATE_UP] == null) {
            // the fused weight's row halves are exactly gate and up
            NDArray[] gu = linearHalves(n, l.halves[GATE_UP]);
            gate = gu[0];
            up = gu[1];
        } else {
            NDList gu = project(l, GATE_UP, n).split(new long[] {config.intermediateSize()}, 2);
            gate = gu.get(0);
            up = gu.get(1);
        }
        NDArray act = ai.djl.nn.Activation.sigmoid(gate).muli(gate).muli(up);
        return x.addi(project(l, DOWN, act));
    }

    private NDArray project(Layer l, int group, NDArray x) {
        NDArray y;
        if (splitMatvec(x)) {
            NDArray[] yy = linearHalves(x, l.halves[group]);
            y = yy[0].concat(yy[1], -1);
        } else {
            y = linear(x, l.weight[group], l.bias[group]);
        }
        if (l.loraA[group] != null) {
            y = y.add(linear(linear(x, l.loraA[group], null), l.loraB[group], null));
        }
        return y;
    }

    private static NDArray linear(NDArray x, NDArray w, NDArray b) {
        return ai.djl.nn.core.Linear.linear(x, w, b).singletonOrThrow();
    }

    /** HF LlamaRMSNorm: float32 normalisation, cast back, then times weight. */
    private NDArray rmsNorm(NDArray x, NDArray weight) {
        NDArray xf = x.toType(DataType.FLOAT32, false);
        NDArray inv = xf.mul(xf).mean(new int[] {-1}, true).addi(epsScalar).powi(minusHalf);
        NDArray n = xf.mul(inv);
        return (dtype == DataType.FLOAT32 ? n : n.toType(dtype, false)).muli(weight);
    }

    /** cos/sin tables [B, 1, T, d] for the new positions (cumsum(mask) - 1, pads at 0; else past..past+T-1). */
    private NDArray[] rope(NDManager scope, long[][] mask, int b, int t, int past) {
        if (mask == null) {
            ensureRopeTable(past + t);
            NDIndex rows = new NDIndex().addSliceDim(past, past + t);
            return new NDArray[] {cosTable.get(scope, rows), sinTable.get(scope, rows)};
        }
        int d = config.headDim();
        int half = d / 2;
        int rows = mask == null ? 1 : b;
        float[] cos = new float[rows * t * d];
        float[] sin = new float[rows * t * d];
        for (int r = 0; r < rows; r++) {
            long[] pos = positions(mask == null ? null : mask[r], past, t);
            for (int i = 0; i < t; i++) {
                float p = pos[i];
                int base = (r * t + i) * d;
                for (int j = 0; j < half; j++) {
                    float angle = p * invFreq[j];
                    float c = (float) Math.cos(angle);
                    float sn = (float) Math.sin(angle);
                    cos[base + j] = c;
                    cos[base + j + half] = c;
                    sin[base + j] = sn;
                    sin[base + j + half] = sn;
                }
            }
        }
        Shape shape = new Shape(rows, 1, t, d);
        return new NDArray[] {scope.create(cos, shape).toType(dtype, false), scope.create(sin, shape).toType(dtype,
                false)};
    }

    /** Makes sure the cached cos/sin tables cover positions {@code [0, positions)} (doubling when they grow). */
    private synchronized void ensureRopeTable(int positions) {
        if (positions <= ropePositions) {
            return;
        }
        int p = Math.max(positions, Math.max(256, ropePositions * 2));
        int d = config.headDim();
        int half = d / 2;
        float[] cos = new float[p * d];
        float[] sin = new float[p * d];
        for (int i = 0; i < p; i++) {
            float pos = i;
            for (int j = 0; j < half; j++) {
                float angle = pos * invFreq[j];
                float c = (float) Math.cos(angle);
                float sn = (float) Math.sin(angle);
                cos[i * d + j] = c;
                cos[i * d + j + half] = c;
                sin[i * d + j] = sn;
                sin[i * d + j + half] = sn;
            }
        }
        NDArray c = manager.create(cos, new Shape(p, d)).toType(dtype, false);
        NDArray s = manager.create(sin, new Shape(p, d)).toType(dtype, false);
        if (cosTable != null) {
            cosTable.close();
            sinTable.close();
        }
        cosTable = c;
        sinTable = s;
        ropePositions = p;
    }

    /** Position ids of the {@code t} new tokens after {@code past} cached ones. */
    static long[] positions(long[] maskRow, int past, int t) {
        long[] pos = new long[t];
        if (maskRow == null) {
            for (int i = 0; i < t; i++) {
                pos[i] = past + i;
            }
            return pos;
        }
        long cum = 0;
        for (int i = 0; i < past; i++) {
            cum += maskRow[i];
        }
        for (int i = 0; i < t; i++) {
            cum += maskRow[past + i];
            pos[i] = maskRow[past + i] == 0 ? 0 : cum - 1;
        }
        return pos;
    }

    /**
     * Additive mask [B|1, 1, 1, T, past+T] (float32): causal plus padding, {@link #MASK_MIN} where masked; null when
     * nothing is masked (a single new token and no padding).
     */
    private static NDArray additiveMask(NDManager scope, long[][] mask, int b, int t, int past) {
        int total = past + t;
        boolean padded = false;
        if (mask != null) {
            for (long[] row : mask) {
                for (long m : row) {
                    padded |= m == 0;
                }
            }
        }
        if (!padded && t == 1) {
            return null;
        }
        int rows = padded ? b : 1;
        float[] m = new float[rows * t * total];
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < t; i++) {
                int base = (r * t + i) * total;
                for (int j = 0; j < total; j++) {
                    boolean visible = j <= past + i && (!padded || mask[r][j] != 0);
                    m[base + j] = visible ? 0f : MASK_MIN;
                }
            }
        }
        return scope.create(m, new Shape(rows, 1, 1, t, total));
    }

    /** A new, empty KV cache for {@code batch} rows with room for {@code capacity} positions (it grows if needed). */
    public KvCache newCache(int batch, int capacity) {
        return new KvCache(batch, Math.max(1, capacity));
    }

    /**
     * Preallocated key/value buffers {@code [B, kvHeads, capacity, headDim]} per layer; keys are stored after RoPE.
     * Close it when done.
     */
    public final class KvCache implements AutoCloseable {
        private final NDManager cacheManager;
        private final NDArray[] keys;
        private final NDArray[] values;
        private final int batch;
        private int capacity;
        private int length;

        private KvCache(int batch, int capacity) {
            this.cacheManager = manager.newSubManager();
            this.batch = batch;
            this.capacity = capacity;
            this.keys = new NDArray[layers.length];
            this.values = new NDArray[layers.length];
            for (int i = 0; i < layers.length; i++) {
                keys[i] = cacheManager.zeros(new Shape(batch, config.numKvHeads(), capacity, config.headDim()), dtype);
                values[i] = cacheManager.zeros(keys[i].getShape(), dtype);
            }
        }

        /** Cached positions. */
        public int length() {
            return length;
        }

        public int batch() {
            return batch;
        }

        void reserve(int b, int needed) {
            if (b != batch) {
                throw new InvalidInputException("KV cache holds batch " + batch + " but the input has batch " + b);
            }
            if (needed <= capacity) {
                return;
            }
            int grown = Math.max(needed, capacity * 2);
            for (int i = 0; i < layers.length; i++) {
                keys[i] = grow(keys[i], grown);
                values[i] = grow(values[i], grown);
            }
            capacity = grown;
        }

        private NDArray grow(NDArray old, int grown) {
            NDArray bigger = cacheManager.zeros(new Shape(batch, config.numKvHeads(), grown, config.headDim()), dtype);
            bigger.set(new NDIndex().addAllDim(2).addSliceDim(0, capacity), old);
            old.close();
            return bigger;
        }

        NDArray[] update(int layer, NDArray k, NDArray v, int past) {
            long t = k.getShape().get(2);
            NDIndex write = new NDIndex().addAllDim(2).addSliceDim(past, past + t);
            keys[layer].set(write, k);
            values[layer].set(write, v);
            NDIndex read = new NDIndex().addAllDim(2).addSliceDim(0, past + t);
            NDManager scope = k.getManager();
            return new NDArray[] {keys[layer].get(scope, read), values[layer].get(scope, read)};
        }

        void advance(int t) {
            length += t;
        }

        @Override
        public void close() {
            cacheManager.close();
        }
    }

    /**
     * Forward of new positions with a KV cache: {@code x [B, T, H]} (compute dtype or convertible), {@code mask}
     * the full mask {@code [B][cache.length() + T]} (null = all ones). Results are attached to {@code out}.
     */
    public Output step(NDManager out, NDArray x, long[][] mask, KvCache cache, Logits logitsMode,
                       boolean hiddenStates) {
        try (NDManager scope = out.newSubManager(manager.getDevice())) {
            NDArray xs = prepareEmbeds(scope, x);
            return attach(run(xs, mask, cache, logitsMode, hiddenStates), out);
        }
    }

    /**
     * Applies a LoRA adapter to the matching q/k/v/o/gate/up/down projections: unmerged (an extra low-rank path,
     * removable with {@link #removeLora()}) or merged into the weights (reversible with {@link #removeLora()} up to
     * rounding). One adapter at a time.
     */
    public void applyLora(LoraAdapter adapter, boolean merge) {
        if (appliedLora != null) {
            throw new InvalidInputException("a LoRA adapter (" + appliedLora.source()
                    + ") is already applied; call removeLora() first");
        }
        Map<String, LoraAdapter.Module> modules = adapter.modules();
        List<String> known = new ArrayList<>();
        for (int i = 0; i < layers.length; i++) {
            for (int g = 0; g < 4; g++) {
                for (String m : groupModules(i, g)) {
                    known.add(m);
                }
            }
        }
        for (String m : modules.keySet()) {
            if (!known.contains(m)) {
                throw new ModelFormatException("LoRA adapter " + adapter.source() + " targets '" + m
                        + "', which is not a projection of this " + layers.length + "-layer LLaMA model");
            }
        }
        for (int i = 0; i < layers.length; i++) {
            for (int g = 0; g < 4; g++) {
                NDArray[] ab = buildGroupLora(i, g, modules);
                if (ab == null) {
                    continue;
                }
                Layer l = layers[i];
                if (merge) {
                    addDelta(l, g, ab, 1f);
                    ab[0].close();
                    ab[1].close();
                } else {
                    l.loraA[g] = ab[0];
                    l.loraB[g] = ab[1];
                }
            }
        }
        appliedLora = adapter;
        loraMerged = merge;
    }

    /** Removes the applied adapter (subtracts the delta again if it was merged). */
    public void removeLora() {
        if (appliedLora == null) {
            return;
        }
        for (int i = 0; i < layers.length; i++) {
            Layer l = layers[i];
            for (int g = 0; g < 4; g++) {
                if (loraMerged) {
                    NDArray[] ab = buildGroupLora(i, g, appliedLora.modules());
                    if (ab != null) {
                        addDelta(l, g, ab, -1f);
                        ab[0].close();
                        ab[1].close();
                    }
                } else if (l.loraA[g] != null) {
                    l.loraA[g].close();
                    l.loraB[g].close();
                    l.loraA[g] = null;
                    l.loraB[g] = null;
                }
            }
        }
        appliedLora = null;
        loraMerged = false;
    }

    /** The applied adapter, or null. */
    public LoraAdapter appliedLora() {
        return appliedLora;
    }

    private void addDelta(Layer l, int g, NDArray[] ab, float sign) {
        try (NDManager tmp = manager.newSubManager()) {
            NDArray a = ab[0].toType(DataType.FLOAT32, false);
            NDArray bb = ab[1].toType(DataType.FLOAT32, false);
            a.attach(tmp);
            bb.attach(tmp);
            NDArray delta = bb.matMul(a);
            NDArray w = l.weight[g].toType(DataType.FLOAT32, true);
            w.attach(tmp);
            NDArray merged = (sign > 0 ? w.add(delta) : w.sub(delta)).toType(dtype, true);
            merged.attach(manager);
            l.weight[g].close();
            l.weight[g] = merged;
            if (l.halves[g] != null) {
                closeHalves(l.halves[g]);
                l.halves[g] = rowHalves(merged, l.bias[g], g == GATE_UP ? config.intermediateSize() : -1);
            }
        }
    }

    private String[] groupModules(int layer, int g) {
        String p = "model.layers." + layer + ".";
        return switch (g) {
            case QKV -> new String[] {p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj"};
            case O -> new String[] {p + "self_attn.o_proj"};
            case GATE_UP -> new String[] {p + "mlp.gate_proj", p + "mlp.up_proj"};
            default -> new String[] {p + "mlp.down_proj"};
        };
    }

    private long[] groupOutSizes(int g) {
        long q = (long) config.numHeads() * config.headDim();
        long kv = (long) config.numKvHeads() * config.headDim();
        long inter = config.intermediateSize();
        return switch (g) {
            case QKV -> new long[] {q, kv, kv};
            case O -> new long[] {config.hiddenSize()};
            case GATE_UP -> new long[] {inter, inter};
            default -> new long[] {config.hiddenSize()};
        };
    }

    /**
     * The group's LoRA as one low-rank pair: A_cat [sum r, in] (rows of each module's A) and a block matrix
     * B_block [groupOut, sum r] holding scaling·B of each module at its output rows. Null if no module is adapted.
     */
    private NDArray[] buildGroupLora(int layer, int g, Map<String, LoraAdapter.Module> modules) {
        String[] names = groupModules(layer, g);
        long[] outs = groupOutSizes(g);
        long in = l(layer, g).getShape().get(1);
        long outTotal = Arrays.stream(outs).sum();
        List<LoraAdapter.Module> used = new ArrayList<>();
        long totalRank = 0;
        for (String n : names) {
            LoraAdapter.Module m = modules.get(n);
            if (m != null) {
                used.add(m);
                totalRank += m.rank();
            }
        }
        if (used.isEmpty()) {
            return null;
        }
        NDArray aCat = manager.zeros(new Shape(totalRank, in), DataType.FLOAT32);
        NDArray bBlock = manager.zeros(new Shape(outTotal, totalRank), DataType.FLOAT32);
        long rowOffset = 0;
        long rankOffset = 0;
        for (int i = 0; i < names.length; i++) {
            LoraAdapter.Module m = modules.get(names[i]);
            if (m != null) {
                long[] as = m.a().getShape().getShape();
                long[] bs = m.b().getShape().getShape();
                if (as[1] != in || bs[0] != outs[i]) {
                    throw new ModelFormatException("LoRA module " + m.name() + " has A " + m.a().getShape() + " and B "
                            + m.b().getShape() + " but the projection is [" + outs[i] + ", " + in + "]");
                }
                int r = m.rank();
                aCat.set(new NDIndex().addSliceDim(rankOffset, rankOffset + r), m.a().toDevice(manager.getDevice(),
                        false));
                try (NDArray scaled = m.b().toDevice(manager.getDevice(), true).mul((float) m.scaling())) {
                    bBlock.set(new NDIndex().addSliceDim(rowOffset, rowOffset + outs[i]).addSliceDim(rankOffset,
                            rankOffset + r), scaled);
                }
                rankOffset += r;
            }
            rowOffset += outs[i];
        }
        if (dtype != DataType.FLOAT32) {
            NDArray a2 = aCat.toType(dtype, false);
            NDArray b2 = bBlock.toType(dtype, false);
            aCat.close();
            bBlock.close();
            aCat = a2;
            bBlock = b2;
        }
        return new NDArray[] {aCat, bBlock};
    }

    private NDArray l(int layer, int g) {
        return layers[layer].weight[g];
    }

    /**
     * The effective weight of one HF tensor name (e.g. {@code model.layers.0.self_attn.q_proj.weight}, merged LoRA
     * included), as a FLOAT32 copy in {@code out}.
     */
    public NDArray weight(NDManager out, String name) {
        NDArray src;
        if (name.equals("model.embed_tokens.weight")) {
            src = embed;
        } else if (name.equals("lm_head.weight")) {
            src = lmHead;
        } else if (name.equals("model.norm.weight")) {
            src = finalNorm;
        } else {
            src = layerWeight(name);
        }
        NDArray c = src.toType(DataType.FLOAT32, true);
        c.attach(out);
        return c;
    }

    private NDArray layerWeight(String name) {
        String[] parts = name.split("\\.");
        if (parts.length == 6 && parts[0].equals("model") && parts[1].equals("layers")) {
            int i;
            try {
                i = Integer.parseInt(parts[2]);
            } catch (NumberFormatException e) {
                i = -1;
            }
            if (i >= 0 && i < layers.length && parts[5].equals("weight")) {
                String mod = parts[3] + "." + parts[4];
                for (int g = 0; g < 4; g++) {
                    String[] names = groupModules(i, g);
                    long[] outs = groupOutSizes(g);
                    long off = 0;
                    for (int k = 0; k < names.length; k++) {
                        if (names[k].equals("model.layers." + i + "." + mod)) {
                            return layers[i].weight[g].get(new NDIndex().addSliceDim(off, off + outs[k]));
                        }
                        off += outs[k];
                    }
                }
            }
        }
        if (parts.length == 5 && parts[3].equals("input_layernorm")) {
            return layers[Integer.parseInt(parts[2])].inputNorm;
        }
        if (parts.length == 5 && parts[3].equals("post_attention_layernorm")) {
            return layers[Integer.parseInt(parts[2])].postNorm;
        }
        throw new InvalidInputException("unknown LLaMA weight name '" + name + "'");
    }

    @Override
    public void close() {
        manager.close();
    }
}
