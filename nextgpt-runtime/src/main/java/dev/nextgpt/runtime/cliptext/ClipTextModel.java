package dev.nextgpt.runtime.cliptext;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.diffusion.Layers.LayerNorm;
import dev.nextgpt.runtime.diffusion.Layers.Linear;
import dev.nextgpt.runtime.diffusion.Weights;
import dev.nextgpt.runtime.io.Checkpoints;
import dev.nextgpt.runtime.io.TensorStore;
import dev.nextgpt.runtime.nn.NN;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * transformers {@code CLIPTextModel} (optionally {@code ...WithProjection}): token + position embeddings, pre-LN
 * encoder layers with causal self-attention (no padding mask, as Stable Diffusion calls it), final LayerNorm.
 * {@code pooler_output} is the final-LN row at the EOS token: the argmax of the ids for old configs with
 * {@code eos_token_id == 2}, else the first position holding {@code eos_token_id} (transformers' rule).
 */
public final class ClipTextModel implements AutoCloseable {
    private final ClipTextConfig config;
    private final NDManager manager;
    private final NDArray tokenEmbedding;
    private final NDArray positionEmbedding;
    private final Layer[] layers;
    private final LayerNorm finalLayerNorm;
    private final Linear textProjection;

    /** The outputs of one forward pass. */
    public record Output(NDArray lastHiddenState, NDArray poolerOutput, NDArray textEmbeds, List<NDArray> hiddenStates) {
    }

    public static ClipTextModel load(Path folder) {
        return load(folder, NDManager.newBaseManager());
    }

    /** Loads a text-encoder folder ({@code config.json} + weights); the model owns {@code manager}. */
    public static ClipTextModel load(Path folder, NDManager manager) {
        if (!Files.isDirectory(folder)) {
            throw new InvalidInputException("text encoder folder " + folder + " does not exist");
        }
        ClipTextConfig cfg = ClipTextConfig.read(folder);
        try (TensorStore store = Checkpoints.open(folder)) {
            return new ClipTextModel(cfg, new Weights(store, manager));
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    public ClipTextModel(ClipTextConfig config, Weights root) {
        this.config = config;
        this.manager = root.manager();
        Weights w = root.hasModule("text_model") ? root.sub("text_model") : root;
        this.tokenEmbedding = w.get("embeddings.token_embedding.weight");
        this.positionEmbedding = w.get("embeddings.position_embedding.weight");
        long[] te = w.shape("embeddings.token_embedding.weight");
        if (te[1] != config.hiddenSize()) {
            throw w.error("embeddings.token_embedding.weight", "has width " + te[1] + " but hidden_size is "
                    + config.hiddenSize());
        }
        this.layers = new Layer[config.numHiddenLayers()];
        for (int i = 0; i < layers.length; i++) {
            layers[i] = new Layer(w.sub("encoder.layers." + i), config);
        }
        this.finalLayerNorm = LayerNorm.load(w, "final_layer_norm", config.layerNormEps());
        this.textProjection = root.has("text_projection.weight") ? Linear.load(root, "text_projection") : null;
    }

    public ClipTextConfig config() {
        return config;
    }

    /** Forward pass on token ids [B, S] (S ≤ max_position_embeddings). */
    public Output forward(NDArray inputIds) {
        return forward(inputIds, false);
    }

    /** Forward pass; with {@code collectHiddenStates} also returns the embeddings and every layer's output. */
    public Output forward(NDArray inputIds, boolean collectHiddenStates) {
        Shape s = inputIds.getShape();
        if (s.dimension() != 2) {
            throw new InvalidInputException("input_ids must be [batch, seq] but is " + s);
        }
        long b = s.get(0);
        long n = s.get(1);
        if (n > config.maxPositionEmbeddings()) {
            throw new InvalidInputException("input_ids has " + n + " tokens, more than max_position_embeddings "
                    + config.maxPositionEmbeddings());
        }
        long[] ids = inputIds.toType(DataType.INT64, false).toLongArray();
        for (long id : ids) {
            if (id < 0 || id >= config.vocabSize()) {
                throw new InvalidInputException("token id " + id + " is outside the vocabulary [0, "
                        + config.vocabSize() + ")");
            }
        }
        NDManager m = inputIds.getManager();
        NDArray idx = m.create(ids, new Shape(b * n));
        NDArray tok = embed(idx, tokenEmbedding, m);
        NDArray pos = embed(m.arange(0, (int) n, 1, DataType.INT64), positionEmbedding, m);
        NDArray h = tok.reshape(b, n, config.hiddenSize()).add(pos.reshape(1, n, config.hiddenSize()));
        List<NDArray> hidden = collectHiddenStates ? new java.util.ArrayList<>() : null;
        if (hidden != null) {
            hidden.add(h);
        }
        float[] mask = new float[(int) (n * n)];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                mask[(int) (i * n + j)] = j <= i ? 0f : -Float.MAX_VALUE;
            }
        }
        NDArray causal = m.create(mask, new Shape(1, 1, n, n));
        for (Layer layer : layers) {
            h = layer.forward(h, causal);
            if (hidden != null) {
                hidden.add(h);
            }
        }
        NDArray last = finalLayerNorm.forward(h);
        int[] eos = new int[(int) b];
        for (int r = 0; r < b; r++) {
            eos[r] = eosPosition(ids, r * (int) n, (int) n);
        }
        NDArray rows = m.create(eos).oneHot((int) n).toType(DataType.FLOAT32, false).reshape(b, 1, n);
        NDArray pooled = rows.matMul(last).reshape(b, config.hiddenSize());
        NDArray embeds = textProjection != null ? textProjection.forward(pooled) : null;
        return new Output(last, pooled, embeds, hidden);
    }

    /** Row lookup {@code table[idx]} with the result owned by {@code m}. */
    private static NDArray embed(NDArray idx, NDArray table, NDManager m) {
        NDArray r = ai.djl.nn.core.Embedding.embedding(idx, table, ai.djl.ndarray.types.SparseFormat.DENSE)
                .singletonOrThrow();
        if (r.getManager() != m) {
            r.attach(m);
        }
        return r;
    }

    private int eosPosition(long[] ids, int off, int n) {
        int best = 0;
        if (config.eosTokenId() == 2) {
            for (int i = 1; i < n; i++) {
                if (ids[off + i] > ids[off + best]) {
                    best = i;
                }
            }
            return best;
        }
        for (int i = 0; i < n; i++) {
            if (ids[off + i] == config.eosTokenId()) {
                return i;
            }
        }
        throw new InvalidInputException("input_ids row " + (off / n) + " holds no eos_token_id "
                + config.eosTokenId());
    }

    @Override
    public void close() {
        manager.close();
    }

    /** One pre-LN encoder layer. */
    private static final class Layer {
        private final LayerNorm ln1;
        private final Linear q;
        private final Linear k;
        private final Linear v;
        private final Linear out;
        private final LayerNorm ln2;
        private final Linear fc1;
        private final Linear fc2;
        private final int heads;
        private final String act;

        Layer(Weights w, ClipTextConfig c) {
            this.ln1 = LayerNorm.load(w, "layer_norm1", c.layerNormEps());
            this.q = Linear.load(w, "self_attn.q_proj");
            this.k = Linear.load(w, "self_attn.k_proj");
            this.v = Linear.load(w, "self_attn.v_proj");
            this.out = Linear.load(w, "self_attn.out_proj");
            this.ln2 = LayerNorm.load(w, "layer_norm2", c.layerNormEps());
            this.fc1 = Linear.load(w, "mlp.fc1");
            this.fc2 = Linear.load(w, "mlp.fc2");
            this.heads = c.numAttentionHeads();
            this.act = c.hiddenAct();
            if (fc1.outFeatures() != c.intermediateSize()) {
                throw new ModelFormatException(w.path("mlp.fc1.weight") + " has " + fc1.outFeatures()
                        + " outputs but intermediate_size is " + c.intermediateSize());
            }
        }

        NDArray forward(NDArray x, NDArray causalMask) {
            NDArray h = ln1.forward(x);
            NDArray a = attention(q.forward(h), k.forward(h), v.forward(h), causalMask);
            NDArray r = x.add(out.forward(a));
            NDArray f = fc2.forward(activation(fc1.forward(ln2.forward(r))));
            return r.add(f);
        }

        private NDArray attention(NDArray qq, NDArray kk, NDArray vv, NDArray mask) {
            long b = qq.getShape().get(0);
            long n = qq.getShape().get(1);
            long inner = qq.getShape().get(2);
            long d = inner / heads;
            NDArray qh = qq.reshape(b, n, heads, d).transpose(0, 2, 1, 3);
            NDArray kh = kk.reshape(b, n, heads, d).transpose(0, 2, 3, 1);
            NDArray vh = vv.reshape(b, n, heads, d).transpose(0, 2, 1, 3);
            NDArray scores = qh.matMul(kh).muli((float) (1.0 / Math.sqrt(d))).addi(mask);
            return scores.softmax(-1).matMul(vh).transpose(0, 2, 1, 3).reshape(b, n, inner);
        }

        private NDArray activation(NDArray x) {
            return switch (act) {
                case "quick_gelu" -> x.mul(ai.djl.nn.Activation.sigmoid(x.mul(1.702f)));
                case "gelu" -> NN.gelu(x);
                case "relu" -> NN.relu(x);
                default -> NN.geluTanh(x);
            };
        }
    }
}
