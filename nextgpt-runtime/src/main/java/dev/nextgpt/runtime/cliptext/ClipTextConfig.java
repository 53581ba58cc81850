package dev.nextgpt.runtime.cliptext;

import dev.nextgpt.UnsupportedConfigurationException;
import dev.nextgpt.runtime.config.JsonConfig;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * transformers {@code CLIPTextConfig} keys (from {@code text_encoder/config.json}, or the {@code text_config} of a
 * full CLIP config). {@code projectionDim} is used only when the checkpoint has {@code text_projection}.
 */
public record ClipTextConfig(int vocabSize, int hiddenSize, int intermediateSize, int numHiddenLayers,
                             int numAttentionHeads, int maxPositionEmbeddings, String hiddenAct, double layerNormEps,
                             int eosTokenId, int projectionDim) {

    public static ClipTextConfig read(Path fileOrFolder) {
        Path f = Files.isDirectory(fileOrFolder) ? fileOrFolder.resolve("config.json") : fileOrFolder;
        return from(JsonConfig.read(f));
    }

    public static ClipTextConfig from(JsonConfig root) {
        JsonConfig c = root.optObject("text_config").orElse(root);
        ClipTextConfig cfg = new ClipTextConfig(c.getInt("vocab_size", 49408), c.getInt("hidden_size", 512),
                c.getInt("intermediate_size", 2048), c.getInt("num_hidden_layers", 12),
                c.getInt("num_attention_heads", 8), c.getInt("max_position_embeddings", 77),
                c.getString("hidden_act", "quick_gelu"), c.getDouble("layer_norm_eps", 1e-5),
                c.getInt("eos_token_id", 2), c.getInt("projection_dim", root.getInt("projection_dim", 512)));
        switch (cfg.hiddenAct) {
            case "quick_gelu", "gelu", "gelu_new", "gelu_pytorch_tanh", "relu" -> {
            }
            default -> throw new UnsupportedConfigurationException(c.source() + ": hidden_act '" + cfg.hiddenAct
                    + "' is not supported (quick_gelu, gelu, gelu_new, gelu_pytorch_tanh, relu)");
        }
        if (cfg.hiddenSize % cfg.numAttentionHeads != 0) {
            throw new UnsupportedConfigurationException(c.source() + ": hidden_size " + cfg.hiddenSize
                    + " is not divisible by num_attention_heads " + cfg.numAttentionHeads);
        }
        return cfg;
    }
}
