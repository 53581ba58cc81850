package dev.nextgpt.runtime.nextgpt;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.UnsupportedConfigurationException;
import dev.nextgpt.runtime.io.TensorStore;
import dev.nextgpt.runtime.nn.NN;
import dev.nextgpt.runtime.nextgpt.ProjectorOps.Dense;
import dev.nextgpt.runtime.nextgpt.ProjectorOps.Norm;

import java.util.ArrayList;
import java.util.List;

/**
 * The NExT-GPT output projector of type {@code transformer}: legacy {@code TextFcLayer(mode='transformer')}
 * (parameters {@code fc} / {@code model}) and current {@code TransformersProjector} ({@code in_fc} / {@code out_fc}).
 * Both compute
 * <pre>
 *   h = Linear_in(x + input_embs)
 *   y = nn.Transformer(norm_first, relu, no masks, final encoder and decoder LayerNorms)(src = h, tgt = query_embs)
 *   out = Linear_out(y)
 * </pre>
 * (reference §4.1). Every width, the query count and the layer counts are read from the weight shapes; the head
 * count cannot be inferred from weights and is a parameter (the original hard-codes {@value #DEFAULT_HEADS}).
 */
public final class TransformerOutputProjector implements AutoCloseable {

    /** The head count the original classes hard-code ({@code nhead=4}), used for every width. */
    public static final int DEFAULT_HEADS = 4;
    /** {@code nn.Transformer}'s default LayerNorm epsilon. */
    public static final float LAYER_NORM_EPS = 1e-5f;

    /** Parameter naming of the two code bases. */
    public enum Naming {
        /** Legacy {@code TextFcLayer}: {@code fc} in, {@code model} out. */
        LEGACY_TEXTFC("fc", "model"),
        /** Current {@code TransformersProjector}: {@code in_fc} in, {@code out_fc} out. */
        CURRENT("in_fc", "out_fc");

        private final String inName;
        private final String outName;

        Naming(String inName, String outName) {
            this.inName = inName;
            this.outName = outName;
        }

        public String inName() {
            return inName;
        }

        public String outName() {
            return outName;
        }
    }

    /** Sizes read from the weights. */
    public record Config(Naming naming, int inDim, int width, int outDim, int numQueries, int encoderLayers,
                         int decoderLayers, int feedForwardDim, int heads, float layerNormEps) {
    }

    /** Output and the intermediate tensors of one forward pass (names as in the golden fixtures). */
    public record Result(NDArray afterInFc, NDArray encoderMemory, NDArray decoderOutput, NDArray output) {
    }

    private record Mha(Dense q, Dense k, Dense v, Dense out) {
        static Mha load(PrefixedWeights w, String name, int width) {
            NDArray packedW = w.get(name + ".in_proj_weight", 3L * width, width);
            NDArray packedB = w.get(name + ".in_proj_bias", 3L * width);
            Dense[] qkv = new Dense[3];
            for (int i = 0; i < 3; i++) {
                String range = (i * width) + ":" + ((i + 1) * width);
                qkv[i] = new Dense(packedW.get(range), packedB.get(range));
            }
            return new Mha(qkv[0], qkv[1], qkv[2], Dense.load(w, name + ".out_proj", width, width, true));
        }

        NDArray apply(NDArray query, NDArray keyValue, int heads) {
            long d = q.outFeatures() / heads;
            NDArray o = ProjectorOps.attention(q.apply(query), k.apply(keyValue), v.apply(keyValue), heads,
                    1.0 / Math.sqrt(d));
            return out.apply(o);
        }
    }

    private record FeedForward(Dense linear1, Dense linear2) {
        NDArray apply(NDArray x) {
            return linear2.apply(NN.relu(linear1.apply(x)));
        }
    }

    private record EncoderLayer(Norm norm1, Mha selfAttn, Norm norm2, FeedForward ff) {
    }

    private record DecoderLayer(Norm norm1, Mha selfAttn, Norm norm2, Mha crossAttn, Norm norm3, FeedForward ff) {
    }

    private final NDManager manager;
    private final Config config;
    private final NDArray queryEmbs;
    private final Dense inFc;
    private final List<EncoderLayer> encoder;
    private final Norm encoderNorm;
    private final List<DecoderLayer> decoder;
    private final Norm decoderNorm;
    private final Dense outFc;

    private TransformerOutputProjector(NDManager manager, Config config, NDArray queryEmbs, Dense inFc,
                                       List<EncoderLayer> encoder, Norm encoderNorm, List<DecoderLayer> decoder,
                                       Norm decoderNorm, Dense outFc) {
        this.manager = manager;
        this.config = config;
        this.queryEmbs = queryEmbs;
        this.inFc = inFc;
        this.encoder = encoder;
        this.encoderNorm = encoderNorm;
        this.decoder = decoder;
        this.decoderNorm = decoderNorm;
        this.outFc = outFc;
    }

    /**
     * Detects the naming from the keys under {@code prefix}. A legacy {@code TextFcLayer} built in {@code 'linear'}
     * mode (only {@code model.*}, no transformer) is rejected with {@link UnsupportedConfigurationException}, as the
     * original forward cannot run it.
     */
    public static Naming detectNaming(TensorStore store, String prefix) {
        PrefixedWeights w = new PrefixedWeights(store, prefix, null);
        boolean tfm = w.hasAny("tfm.");
        if (w.has("in_fc.weight") && w.has("out_fc.weight") && tfm) {
            return Naming.CURRENT;
        }
        if (w.has("fc.weight") && w.has("model.weight") && tfm) {
            return Naming.LEGACY_TEXTFC;
        }
        if (w.has("model.weight") && !tfm) {
            throw legacyLinearMode(prefix);
        }
        if (w.hasAny("Qformer.") || w.hasAny("query_tokens")) {
            throw new UnsupportedConfigurationException("output projector under '" + prefix + "' in "
                    + store.source() + " is a Q-Former projector (type 'qformer'), which is not supported");
        }
        throw new ModelFormatException("no transformer output projector under key prefix '" + prefix + "' in "
                + store.source() + " (expected '" + prefix + "in_fc.weight' or '" + prefix + "fc.weight' and '"
                + prefix + "tfm.*')");
    }

    /**
     * The error for the legacy {@code TextFcLayer(mode='linear')}: the original {@code forward} has no branch for
     * that mode and fails with {@code AttributeError: 'NoneType' object has no attribute 'shape'}.
     */
    public static UnsupportedConfigurationException legacyLinearMode(String where) {
        return new UnsupportedConfigurationException("legacy TextFcLayer(mode='linear')" + (where == null ? ""
                : " under '" + where + "'") + " cannot run: the original forward has no branch for 'linear' mode and "
                + "fails with AttributeError: 'NoneType' object has no attribute 'shape'. Only mode 'transformer' "
                + "is usable");
    }

    /** Checks a legacy {@code text_fc_to_*_mode} config value: only {@code transformer} is runnable. */
    public static void requireRunnableLegacyMode(String mode) {
        if ("linear".equals(mode)) {
            throw legacyLinearMode(null);
        }
        if (!"transformer".equals(mode)) {
            throw new UnsupportedConfigurationException("legacy TextFcLayer mode '" + mode
                    + "' is not supported (only 'transformer'; 'qformer' needs BERT weights)");
        }
    }

    /** Loads with the naming detected from the keys and {@link #DEFAULT_HEADS} heads. */
    public static TransformerOutputProjector load(TensorStore store, String prefix, NDManager parent) {
        return load(store, prefix, detectNaming(store, prefix), DEFAULT_HEADS, parent);
    }

    /**
     * Loads the projector whose keys start with {@code prefix}. Weights are copied into a sub-manager of
     * {@code parent} that {@link #close()} releases.
     */
    public static TransformerOutputProjector load(TensorStore store, String prefix, Naming naming, int heads,
                                                  NDManager parent) {
        PrefixedWeights probe = new PrefixedWeights(store, prefix, null);
        if (naming == Naming.LEGACY_TEXTFC && probe.has("model.weight") && !probe.hasAny("tfm.")) {
            throw legacyLinearMode(prefix);
        }
        int width = probe.dim(naming.inName + ".weight", 2, 0);
        int inDim = probe.dim(naming.inName + ".weight", 2, 1);
        int outDim = probe.dim(naming.outName + ".weight", 2, 0);
        int queries = probe.dim("query_embs", 3, 1);
        int encLayers = probe.countIndexed("tfm.encoder.layers.");
        int decLayers = probe.countIndexed("tfm.decoder.layers.");
        if (encLayers == 0 || decLayers == 0) {
            throw new ModelFormatException("transformer projector under '" + prefix + "' in " + store.source()
                    + " has " + encLayers + " encoder and " + decLayers + " decoder layers; both must be > 0");
        }
        int ff = probe.dim("tfm.encoder.layers.0.linear1.weight", 2, 0);
        if (heads <= 0 || width % heads != 0) {
            throw new UnsupportedConfigurationException("projector width " + width + " (from '" + prefix
                    + naming.inName + ".weight') is not divisible by " + heads + " heads");
        }
        Config config = new Config(naming, inDim, width, outDim, queries, encLayers, decLayers, ff, heads,
                LAYER_NORM_EPS);
        NDManager manager = parent.newSubManager();
        try {
            PrefixedWeights w = new PrefixedWeights(store, prefix, manager);
            NDArray query = w.get("query_embs", 1, queries, width);
            Dense inFc = Dense.load(w, naming.inName, width, inDim, true);
            List<EncoderLayer> enc = new ArrayList<>();
            for (int i = 0; i < encLayers; i++) {
                String p = "tfm.encoder.layers." + i + ".";
                enc.add(new EncoderLayer(Norm.load(w, p + "norm1", width, LAYER_NORM_EPS),
                        Mha.load(w, p + "self_attn", width), Norm.load(w, p + "norm2", width, LAYER_NORM_EPS),
                        new FeedForward(Dense.load(w, p + "linear1", ff, width, true),
                                Dense.load(w, p + "linear2", width, ff, true))));
            }
            List<DecoderLayer> dec = new ArrayList<>();
            for (int i = 0; i < decLayers; i++) {
                String p = "tfm.decoder.layers." + i + ".";
                dec.add(new DecoderLayer(Norm.load(w, p + "norm1", width, LAYER_NORM_EPS),
                        Mha.load(w, p + "self_attn", width), Norm.load(w, p + "norm2", width, LAYER_NORM_EPS),
                        Mha.load(w, p + "multihead_attn", width), Norm.load(w, p + "norm3", width, LAYER_NORM_EPS),
                        new FeedForward(Dense.load(w, p + "linear1", ff, width, true),
                                Dense.load(w, p + "linear2", width, ff, true))));
            }
            Norm encNorm = Norm.load(w, "tfm.encoder.norm", width, LAYER_NORM_EPS);
            Norm decNorm = Norm.load(w, "tfm.decoder.norm", width, LAYER_NORM_EPS);
            Dense outFc = Dense.load(w, naming.outName, outDim, width, true);
            return new TransformerOutputProjector(manager, config, query, inFc, List.copyOf(enc), encNorm,
                    List.copyOf(dec), decNorm, outFc);
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    public Config config() {
        return config;
    }

    /** {@code [B, n, inDim]} hidden states and embedding rows → {@code [B, Q, outDim]}. */
    public NDArray forward(NDArray x, NDArray inputEmbs) {
        Result r = forwardDetailed(x, inputEmbs);
        r.afterInFc().close();
        r.encoderMemory().close();
        r.decoderOutput().close();
        return r.output();
    }

    /**
     * Forward pass returning the intermediates. {@code x} and {@code inputEmbs} are {@code [B, n, inDim]} (or
     * {@code [n, inDim]}, treated as batch 1 and returned without the batch axis). Results belong to {@code x}'s
     * manager.
     */
    public Result forwardDetailed(NDArray x, NDArray inputEmbs) {
        Shape xs = x.getShape();
        if (!xs.equals(inputEmbs.getShape())) {
            throw new InvalidInputException("output projector inputs differ in shape: x " + xs + " vs input_embs "
                    + inputEmbs.getShape());
        }
        boolean unbatched = xs.dimension() == 2;
        if ((xs.dimension() != 3 && !unbatched) || xs.get(xs.dimension() - 1) != config.inDim()) {
            throw new InvalidInputException("output projector expects x of shape [B, n, " + config.inDim()
                    + "] (LLM hidden size, from '" + config.naming().inName + ".weight'); got " + xs);
        }
        NDManager target = x.getManager();
        try (NDManager scratch = target.newSubManager()) {
            NDArray h = ProjectorOps.into(x, scratch);
            if (unbatched) {
                h = h.expandDims(0);
            }
            NDArray e = ProjectorOps.into(inputEmbs, scratch).reshape(h.getShape());
            long batch = h.getShape().get(0);
            NDArray afterInFc = inFc.apply(h.add(e));

            NDArray memory = afterInFc;
            for (EncoderLayer l : encoder) {
                NDArray n1 = l.norm1.apply(memory);
                memory = memory.add(l.selfAttn.apply(n1, n1, config.heads()));
                memory = memory.add(l.ff.apply(l.norm2.apply(memory)));
            }
            memory = encoderNorm.apply(memory);

            NDArray t = scratch.zeros(new Shape(batch, config.numQueries(), config.width())).add(queryEmbs);
            for (DecoderLayer l : decoder) {
                NDArray n1 = l.norm1.apply(t);
                t = t.add(l.selfAttn.apply(n1, n1, config.heads()));
                t = t.add(l.crossAttn.apply(l.norm2.apply(t), memory, config.heads()));
                t = t.add(l.ff.apply(l.norm3.apply(t)));
            }
            NDArray decoderOutput = decoderNorm.apply(t);
            NDArray output = outFc.apply(decoderOutput);
            if (unbatched) {
                afterInFc = afterInFc.squeeze(0);
                memory = memory.squeeze(0);
                decoderOutput = decoderOutput.squeeze(0);
                output = output.squeeze(0);
            }
            return new Result(ProjectorOps.keep(afterInFc, target), ProjectorOps.keep(memory, target),
                    ProjectorOps.keep(decoderOutput, target), ProjectorOps.keep(output, target));
        }
    }

    @Override
    public void close() {
        manager.close();
    }
}
