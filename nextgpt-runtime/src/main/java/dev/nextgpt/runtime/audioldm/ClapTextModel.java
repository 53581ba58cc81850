package dev.nextgpt.runtime.audioldm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.UnsupportedConfigurationException;
import dev.nextgpt.runtime.component.ComponentPaths;
import dev.nextgpt.runtime.config.JsonConfig;
import dev.nextgpt.runtime.io.Checkpoints;
import dev.nextgpt.runtime.io.TensorStore;
import dev.nextgpt.runtime.nn.NN;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * transformers' {@code ClapTextModelWithProjection}, the text tower AudioLDM conditions on: a RoBERTa encoder
 * (word + RoBERTa position + token type embeddings → LayerNorm → post-LN self-attention layers), a pooler
 * ({@code tanh(dense(h[:, 0]))}, the first token {@code <s>}), and the projection {@code linear2(act(linear1(x)))}.
 * AudioLDM's pipeline L2-normalises {@code text_embeds}; that is {@link Output#promptEmbeds()}.
 *
 * <p>Weights use transformers' key names ({@code text_model.*}, {@code text_projection.*}). All math runs in
 * float32 on the DJL engine; intermediate arrays live in a scoped sub-manager and only the outputs are attached to
 * the caller's manager.
 */
public final class ClapTextModel implements AutoCloseable {

    /** The fields of a CLAP text {@code config.json} this model uses. */
    public record Config(int vocabSize, int hiddenSize, int numHiddenLayers, int numAttentionHeads,
                         int intermediateSize, String hiddenAct, double layerNormEps, int maxPositionEmbeddings,
                         int typeVocabSize, int padTokenId, int projectionDim, String projectionHiddenAct,
                         String positionEmbeddingType) {

        /** Reads a {@code ClapTextConfig} (or a full {@code ClapConfig}'s {@code text_config}). */
        public static Config fromJson(JsonConfig json) {
            JsonConfig c = json.optObject("text_config").orElse(json);
            Config cfg = new Config(
                    c.getInt("vocab_size"), c.getInt("hidden_size"), c.getInt("num_hidden_layers"),
                    c.getInt("num_attention_heads"), c.getInt("intermediate_size"),
                    c.getString("hidden_act", "gelu"), c.getDouble("layer_norm_eps", 1e-12),
                    c.getInt("max_position_embeddings", 514), c.getInt("type_vocab_size", 1),
                    c.getInt("pad_token_id", 1),
                    c.getInt("projection_dim", json.getInt("projection_dim", 512)),
                    c.getString("projection_hidden_act", "relu"),
                    c.getString("position_embedding_type", "absolute"));
            if (cfg.hiddenSize % cfg.numAttentionHeads != 0) {
                throw new ModelFormatException(json.source() + ": hidden_size " + cfg.hiddenSize
                        + " is not a multiple of num_attention_heads " + cfg.numAttentionHeads);
            }
            if (!"absolute".equals(cfg.positionEmbeddingType)) {
                throw new UnsupportedConfigurationException(json.source() + ": position_embedding_type '"
                        + cfg.positionEmbeddingType + "' is not supported (only 'absolute')");
            }
            activation(cfg.hiddenAct, json.source() + ": hidden_act");
            activation(cfg.projectionHiddenAct, json.source() + ": projection_hidden_act");
            return cfg;
        }

        public int headDim() {
            return hiddenSize / numAttentionHeads;
        }
    }

    /**
     * Outputs of one forward pass. {@code textEmbeds}/{@code promptEmbeds} are null when the checkpoint has no
     * {@code text_projection}.
     */
    public record Output(NDArray lastHiddenState, NDArray poolerOutput, NDArray textEmbeds, NDArray promptEmbeds) {
    }

    /** A Linear layer with its weight stored transposed ({@code [in, out]}) so {@code x·Wᵀ} is one matMul. */
    private record Dense(NDArray weightT, NDArray bias) {
        NDArray apply(NDArray x) {
            NDArray y = x.matMul(weightT);
            return bias == null ? y : y.add(bias);
        }
    }

    private record Norm(NDArray weight, NDArray bias) {
    }

    private record Layer(Dense query, Dense key, Dense value, Dense attnOut, Norm attnNorm, Dense intermediate,
                         Dense output, Norm outputNorm) {
    }

    private final Config config;
    private final NDManager weights;
    private final NDArray wordEmbeddings;
    private final NDArray positionEmbeddings;
    private final NDArray tokenTypeEmbeddings;
    private final NDArray tokenTypeZero;
    private final Norm embeddingNorm;
    private final List<Layer> layers;
    private final Dense pooler;
    private final Dense projection1;
    private final Dense projection2;

    private ClapTextModel(Config config, NDManager weights, TensorStore store, String prefix, String projPrefix) {
        this.config = config;
        this.weights = weights;
        String e = prefix + "embeddings.";
        this.wordEmbeddings = tensor(store, e + "word_embeddings.weight", config.vocabSize, config.hiddenSize);
        this.positionEmbeddings = tensor(store, e + "position_embeddings.weight", config.maxPositionEmbeddings,
                config.hiddenSize);
        this.tokenTypeEmbeddings = tensor(store, e + "token_type_embeddings.weight", config.typeVocabSize,
                config.hiddenSize);
        this.tokenTypeZero = tokenTypeEmbeddings.get(0);
        this.embeddingNorm = norm(store, e + "LayerNorm.");
        List<Layer> ls = new ArrayList<>();
        for (int i = 0; i < config.numHiddenLayers; i++) {
            String p = prefix + "encoder.layer." + i + ".";
            ls.add(new Layer(
                    dense(store, p + "attention.self.query.", config.hiddenSize, config.hiddenSize),
                    dense(store, p + "attention.self.key.", config.hiddenSize, config.hiddenSize),
                    dense(store, p + "attention.self.value.", config.hiddenSize, config.hiddenSize),
                    dense(store, p + "attention.output.dense.", config.hiddenSize, config.hiddenSize),
                    norm(store, p + "attention.output.LayerNorm."),
                    dense(store, p + "intermediate.dense.", config.hiddenSize, config.intermediateSize),
                    dense(store, p + "output.dense.", config.intermediateSize, config.hiddenSize),
                    norm(store, p + "output.LayerNorm.")));
        }
        this.layers = List.copyOf(ls);
        this.pooler = store.contains(prefix + "pooler.dense.weight")
                ? dense(store, prefix + "pooler.dense.", config.hiddenSize, config.hiddenSize) : null;
        if (projPrefix != null && store.contains(projPrefix + "linear1.weight")) {
            this.projection1 = dense(store, projPrefix + "linear1.", config.hiddenSize, config.projectionDim);
            this.projection2 = dense(store, projPrefix + "linear2.", config.projectionDim, config.projectionDim);
        } else {
            this.projection1 = null;
            this.projection2 = null;
        }
    }

    /**
     * Loads from a folder holding {@code config.json} and the weights (a pipeline's {@code text_encoder/}). A
     * pipeline root with a {@code text_encoder/} sub-folder is accepted too. The weights belong to a sub-manager of
     * {@code manager}, freed by {@link #close()}.
     */
    public static ClapTextModel load(Path folder, NDManager manager) {
        folder = ComponentPaths.subfolderOrSelf(folder, "text_encoder");
        Config cfg = Config.fromJson(JsonConfig.read(folder.resolve("config.json")));
        try (TensorStore store = Checkpoints.open(folder)) {
            return load(cfg, store, manager);
        }
    }

    /** Loads from an open tensor store (copied into memory; the store may be closed afterwards). */
    public static ClapTextModel load(Config cfg, TensorStore store, NDManager manager) {
        String prefix;
        String projPrefix;
        if (store.contains("text_model.embeddings.word_embeddings.weight")) {
            prefix = "text_model.";
            projPrefix = "text_projection.";
        } else if (store.contains("embeddings.word_embeddings.weight")) {
            prefix = "";
            projPrefix = null;
        } else {
            throw new ModelFormatException(store.source() + ": no CLAP text tower found (expected "
                    + "'text_model.embeddings.word_embeddings.weight')");
        }
        return ComponentWeights.buildInSubManager(manager,
                weights -> new ClapTextModel(cfg, weights, store, prefix, projPrefix));
    }

    public Config config() {
        return config;
    }

    /** Whether {@code text_projection} was loaded (so {@code textEmbeds}/{@code promptEmbeds} are produced). */
    public boolean hasProjection() {
        return projection1 != null;
    }

    /**
     * Runs the tower.
     *
     * @param inputIds      integer ids {@code [B, L]}
     * @param attentionMask {@code [B, L]}, 1 on real tokens; null means all ones (transformers' default)
     * @return outputs attached to {@code inputIds}' manager
     */
    public Output forward(NDArray inputIds, NDArray attentionMask) {
        Shape s = inputIds.getShape();
        if (s.dimension() != 2) {
            throw new InvalidInputException("input_ids must be [batch, length], got " + s);
        }
        long batch = s.get(0);
        long len = s.get(1);
        if (len + config.padTokenId + 1 > config.maxPositionEmbeddings) {
            throw new InvalidInputException("input_ids length " + len + " exceeds the "
                    + (config.maxPositionEmbeddings - config.padTokenId - 1)
                    + " positions of this model (max_position_embeddings " + config.maxPositionEmbeddings + ")");
        }
        if (attentionMask != null && !attentionMask.getShape().equals(s)) {
            throw new InvalidInputException("attention_mask shape " + attentionMask.getShape()
                    + " differs from input_ids shape " + s);
        }
        NDManager caller = inputIds.getManager();
        try (NDManager scope = caller.newSubManager()) {
            NDArray ids = inputIds.toType(DataType.INT64, true);
            ids.attach(scope);
            long maxId = ids.max().getLong();
            long minId = ids.min().getLong();
            if (minId < 0 || maxId >= config.vocabSize) {
                throw new InvalidInputException("input_ids hold ids in [" + minId + ", " + maxId
                        + "], outside the vocabulary of " + config.vocabSize);
            }
            NDArray mask = attentionMask == null ? scope.ones(s, DataType.FLOAT32)
                    : attentionMask.toType(DataType.FLOAT32, true);
            mask.attach(scope);

            // RoBERTa position ids: cumsum over non-pad tokens, pads keep padding_idx.
            NDArray nonPad = ids.neq(config.padTokenId).toType(DataType.INT64, false);
            NDArray positions = nonPad.cumSum(1).mul(nonPad).add(config.padTokenId);
            NDArray h = embed(ids, wordEmbeddings)
                    .add(embed(positions, positionEmbeddings))
                    .add(tokenTypeZero);
            h = layerNorm(h, embeddingNorm);

            // Additive mask (1 - m) * finfo(float32).min, broadcast over heads and query positions.
            NDArray additive = mask.neg().add(1f).mul(-Float.MAX_VALUE).reshape(batch, 1, 1, len);
            for (Layer layer : layers) {
                h = encoderLayer(h, layer, additive, batch, len);
            }

            NDArray pooled = null;
            NDArray textEmbeds = null;
            NDArray promptEmbeds = null;
            if (pooler != null) {
                pooled = pooler.apply(h.get(new NDIndex(":, 0, :"))).tanh();
                if (projection1 != null) {
                    NDArray hidden = activation(config.projectionHiddenAct, "projection_hidden_act")
                            .apply(projection1.apply(pooled));
                    textEmbeds = projection2.apply(hidden);
                    promptEmbeds = l2Normalize(textEmbeds);
                }
            }
            NDArray[] outs = {h, pooled, textEmbeds, promptEmbeds};
            for (NDArray o : outs) {
                if (o != null) {
                    o.attach(caller);
                }
            }
            return new Output(h, pooled, textEmbeds, promptEmbeds);
        }
    }

    /** {@code F.normalize(x, dim=-1)}: {@code x / max(‖x‖₂, 1e-12)}. */
    public static NDArray l2Normalize(NDArray x) {
        int last = x.getShape().dimension() - 1;
        NDArray norm = x.square().sum(new int[] {last}, true).sqrt().maximum(1e-12f);
        return x.div(norm);
    }

    private NDArray encoderLayer(NDArray x, Layer l, NDArray additiveMask, long batch, long len) {
        int heads = config.numAttentionHeads;
        int hd = config.headDim();
        NDArray q = splitHeads(l.query.apply(x), batch, len, heads, hd);
        NDArray k = splitHeads(l.key.apply(x), batch, len, heads, hd);
        NDArray v = splitHeads(l.value.apply(x), batch, len, heads, hd);
        NDArray scores = q.matMul(k.transpose(0, 1, 3, 2)).div((float) Math.sqrt(hd)).add(additiveMask);
        NDArray ctx = scores.softmax(-1).matMul(v).transpose(0, 2, 1, 3).reshape(batch, len, config.hiddenSize);
        NDArray attn = layerNorm(l.attnOut.apply(ctx).add(x), l.attnNorm);
        NDArray ff = activation(config.hiddenAct, "hidden_act").apply(l.intermediate.apply(attn));
        return layerNorm(l.output.apply(ff).add(attn), l.outputNorm);
    }

    private static NDArray splitHeads(NDArray x, long batch, long len, int heads, int hd) {
        return x.reshape(batch, len, heads, hd).transpose(0, 2, 1, 3);
    }

    private NDArray layerNorm(NDArray x, Norm n) {
        return NN.layerNorm(x, n.weight, n.bias, (float) config.layerNormEps);
    }

    private static NDArray embed(NDArray ids, NDArray table) {
        return ai.djl.nn.core.Embedding.embedding(ids, table, SparseFormat.DENSE).singletonOrThrow();
    }

    private static java.util.function.UnaryOperator<NDArray> activation(String name, String what) {
        return switch (name) {
            case "gelu" -> NN::gelu;
            case "gelu_new", "gelu_pytorch_tanh", "gelu_fast" -> NN::geluTanh;
            case "relu" -> NN::relu;
            case "silu", "swish" -> NN::silu;
            case "tanh" -> NDArray::tanh;
            case "quick_gelu" -> x -> x.mul(ai.djl.nn.Activation.sigmoid(x.mul(1.702f)));
            default -> throw new UnsupportedConfigurationException(what + " '" + name + "' is not supported");
        };
    }

    private NDArray tensor(TensorStore store, String name, long... shape) {
        return ComponentWeights.tensor(store, weights, name, shape);
    }

    private Dense dense(TensorStore store, String prefix, int in, int out) {
        NDArray w = tensor(store, prefix + "weight", out, in);
        NDArray wT = w.transpose().duplicate();
        w.close();
        NDArray b = store.contains(prefix + "bias") ? tensor(store, prefix + "bias", out) : null;
        return new Dense(wT, b);
    }

    private Norm norm(TensorStore store, String prefix) {
        return new Norm(tensor(store, prefix + "weight", config.hiddenSize),
                tensor(store, prefix + "bias", config.hiddenSize));
    }

    @Override
    public void close() {
        weights.close();
    }
}
