package dev.nextgpt.runtime.llm;

import dev.nextgpt.ModelFormatException;
import dev.nextgpt.UnsupportedConfigurationException;
import dev.nextgpt.runtime.config.JsonConfig;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Hyper-parameters of a LLaMA / Vicuna {@code LlamaForCausalLM}, parsed from the HF {@code config.json} (legacy v4
 * keys {@code rope_theta}/{@code rope_scaling} and v5 {@code rope_parameters} are both accepted) and, when present,
 * {@code generation_config.json} (whose token ids take precedence).
 *
 * @param vocabSize              rows of the embedding as declared by the config (the checkpoint's tensor shape wins)
 * @param hiddenSize             model width
 * @param intermediateSize       MLP width
 * @param numLayers              decoder layers
 * @param numHeads               query heads
 * @param numKvHeads             key/value heads (GQA when smaller than {@code numHeads})
 * @param headDim                per-head width ({@code head_dim} or {@code hidden_size / num_attention_heads})
 * @param maxPositionEmbeddings  context length the model was trained for (informational; RoPE is computed on demand)
 * @param rmsNormEps             epsilon inside the RMSNorm square root
 * @param rope                   rotary embedding parameters
 * @param tieWordEmbeddings      whether {@code lm_head} shares {@code embed_tokens}
 * @param bosTokenId             beginning-of-sequence id
 * @param eosTokenIds            end-of-sequence ids (generation stops on any)
 * @param padTokenId             padding id (-1 if none declared)
 * @param attentionBias          q/k/v/o projections have biases
 * @param mlpBias                gate/up/down projections have biases
 */
public record LlamaConfig(int vocabSize, int hiddenSize, int intermediateSize, int numLayers, int numHeads,
                          int numKvHeads, int headDim, int maxPositionEmbeddings, double rmsNormEps, Rope rope,
                          boolean tieWordEmbeddings, int bosTokenId, int[] eosTokenIds, int padTokenId,
                          boolean attentionBias, boolean mlpBias) {

    /**
     * RoPE parameters. {@code type} is {@code default}, {@code linear} (positions divided by {@code factor}) or
     * {@code llama3} (frequency-dependent scaling with {@code lowFreqFactor}, {@code highFreqFactor},
     * {@code originalMaxPositions}).
     */
    public record Rope(String type, double theta, double factor, double lowFreqFactor, double highFreqFactor,
                       int originalMaxPositions) {

        /** The inverse frequencies {@code 1/theta^(2j/d)} (float32 as HF computes them) with the scaling applied. */
        public float[] inverseFrequencies(int headDim) {
            int half = headDim / 2;
            float[] inv = new float[half];
            for (int j = 0; j < half; j++) {
                // HF: 1.0 / (base ** (torch.arange(0, dim, 2, dtype=int64).float() / dim)), all in float32
                float exponent = (float) (2 * j) / (float) headDim;
                float p = (float) Math.pow((float) theta, exponent);
                inv[j] = 1.0f / p;
            }
            switch (type) {
                case "default" -> {
                }
                case "linear" -> {
                    for (int j = 0; j < half; j++) {
                        inv[j] = inv[j] / (float) factor;
                    }
                }
                case "llama3" -> {
                    double lowWavelen = originalMaxPositions / lowFreqFactor;
                    double highWavelen = originalMaxPositions / highFreqFactor;
                    for (int j = 0; j < half; j++) {
                        double wavelen = 2 * Math.PI / inv[j];
                        if (wavelen > lowWavelen) {
                            inv[j] = (float) (inv[j] / factor);
                        } else if (wavelen >= highWavelen) {
                            double smooth = (originalMaxPositions / wavelen - lowFreqFactor)
                                    / (highFreqFactor - lowFreqFactor);
                            inv[j] = (float) ((1 - smooth) * inv[j] / factor + smooth * inv[j]);
                        }
                    }
                }
                default -> throw new UnsupportedConfigurationException("rope type '" + type + "' is not supported");
            }
            return inv;
        }
    }

    public LlamaConfig {
        eosTokenIds = eosTokenIds.clone();
        if (hiddenSize <= 0 || numLayers <= 0 || numHeads <= 0 || numKvHeads <= 0 || headDim <= 0
                || intermediateSize <= 0) {
            throw new ModelFormatException("LLaMA config has a non-positive size: hidden " + hiddenSize + ", layers "
                    + numLayers + ", heads " + numHeads + ", kv heads " + numKvHeads + ", head_dim " + headDim
                    + ", intermediate " + intermediateSize);
        }
        if (numHeads % numKvHeads != 0) {
            throw new ModelFormatException("num_attention_heads " + numHeads
                    + " is not a multiple of num_key_value_heads " + numKvHeads);
        }
        if (headDim % 2 != 0) {
            throw new ModelFormatException("head_dim " + headDim + " must be even for rotary embeddings");
        }
    }

    @Override
    public int[] eosTokenIds() {
        return eosTokenIds.clone();
    }

    /** Query heads per key/value head. */
    public int groupSize() {
        return numHeads / numKvHeads;
    }

    /** Reads {@code dir/config.json} and, if present, {@code dir/generation_config.json}. */
    public static LlamaConfig load(Path dir) {
        JsonConfig c = JsonConfig.read(dir.resolve("config.json"));
        Path gen = dir.resolve("generation_config.json");
        return parse(c, Files.isRegularFile(gen) ? Optional.of(JsonConfig.read(gen)) : Optional.empty());
    }

    /** Builds the config from a parsed {@code config.json} and an optional {@code generation_config.json}. */
    public static LlamaConfig parse(JsonConfig c, Optional<JsonConfig> generation) {
        String modelType = c.getString("model_type", "llama");
        if (!modelType.equals("llama")) {
            throw new UnsupportedConfigurationException(c.source() + ": model_type '" + modelType
                    + "' is not 'llama'");
        }
        String act = c.getString("hidden_act", "silu");
        if (!act.equals("silu") && !act.equals("swish")) {
            throw new UnsupportedConfigurationException(c.source() + ": hidden_act '" + act
                    + "' is not supported (LLaMA uses silu)");
        }
        int pretrainingTp = c.getInt("pretraining_tp", 1);
        if (pretrainingTp < 1) {
            throw new ModelFormatException(c.source() + ": pretraining_tp " + pretrainingTp + " is invalid");
        }
        int hidden = c.getInt("hidden_size");
        int heads = c.getInt("num_attention_heads");
        int kvHeads = c.getInt("num_key_value_heads", heads);
        if (heads <= 0) {
            throw new ModelFormatException(c.source() + ": num_attention_heads " + heads + " must be positive");
        }
        int headDim = c.getInt("head_dim", hidden / heads);
        Rope rope = parseRope(c);
        int bos = c.getInt("bos_token_id", 1);
        int[] eos = c.getIntArray("eos_token_id", new int[] {2});
        int pad = c.getInt("pad_token_id", -1);
        if (generation.isPresent()) {
            JsonConfig g = generation.get();
            bos = g.getInt("bos_token_id", bos);
            eos = g.getIntArray("eos_token_id", eos);
            pad = g.getInt("pad_token_id", pad);
        }
        return new LlamaConfig(c.getInt("vocab_size"), hidden, c.getInt("intermediate_size"),
                c.getInt("num_hidden_layers"), heads, kvHeads, headDim, c.getInt("max_position_embeddings", 2048),
                c.getDouble("rms_norm_eps", 1e-6), rope, c.getBoolean("tie_word_embeddings", false), bos, eos, pad,
                c.getBoolean("attention_bias", false), c.getBoolean("mlp_bias", false));
    }

    private static Rope parseRope(JsonConfig c) {
        double theta = c.getDouble("rope_theta", 10000.0);
        Optional<JsonConfig> params = c.optObject("rope_parameters");
        if (params.isEmpty()) {
            params = c.optObject("rope_scaling");
        }
        if (params.isEmpty()) {
            return new Rope("default", theta, 1.0, 1.0, 1.0, 0);
        }
        JsonConfig p = params.get();
        String type = p.getString("rope_type", p.getString("type", "default"));
        theta = p.getDouble("rope_theta", theta);
        double factor = p.getDouble("factor", 1.0);
        int originalMax = p.getInt("original_max_position_embeddings", c.getInt("max_position_embeddings", 2048));
        Rope rope = new Rope(type, theta, factor, p.getDouble("low_freq_factor", 1.0),
                p.getDouble("high_freq_factor", 4.0), originalMax);
        switch (type) {
            case "default" -> {
            }
            case "linear", "llama3" -> {
                if (!(factor > 0)) {
                    throw new ModelFormatException(c.source() + ": rope scaling factor " + factor
                            + " must be positive");
                }
            }
            default -> throw new UnsupportedConfigurationException(c.source() + ": rope scaling type '" + type
                    + "' is not supported (supported: default, linear, llama3)");
        }
        return rope;
    }
}
