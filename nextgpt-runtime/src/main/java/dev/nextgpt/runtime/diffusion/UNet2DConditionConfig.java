package dev.nextgpt.runtime.diffusion;

import com.google.gson.JsonElement;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.UnsupportedConfigurationException;
import dev.nextgpt.runtime.config.JsonConfig;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * The {@code UNet2DConditionModel} config keys used by {@link UNet2DCondition}, with per-block values expanded from
 * the int-or-list forms. {@code heads[i]} is the number of attention heads of down block i (diffusers'
 * {@code num_attention_heads}, which falls back to the historically misnamed {@code attention_head_dim}).
 */
public record UNet2DConditionConfig(int inChannels, int outChannels, boolean centerInputSample,
                                    boolean flipSinToCos, double freqShift, List<String> downBlockTypes,
                                    String midBlockType, List<String> upBlockTypes, boolean[] onlyCrossAttention,
                                    boolean midBlockOnlyCrossAttention, int[] blockOutChannels,
                                    int[] layersPerBlock, int downsamplePadding, double midBlockScaleFactor,
                                    String actFn, Integer normNumGroups, double normEps, int[] crossAttentionDim,
                                    int[] transformerLayersPerBlock, int[] heads, boolean useLinearProjection,
                                    boolean upcastAttention, String resnetTimeScaleShift, String classEmbedType,
                                    Integer numClassEmbeds, Integer projectionClassEmbeddingsInputDim,
                                    boolean classEmbeddingsConcat, String timeEmbeddingActFn,
                                    String timestepPostAct, boolean resnetSkipTimeAct, double resnetOutScaleFactor,
                                    int sampleSize) {

    /** Reads {@code config.json} (a file, or a folder holding it). */
    public static UNet2DConditionConfig read(Path fileOrFolder) {
        Path f = Files.isDirectory(fileOrFolder) ? fileOrFolder.resolve("config.json") : fileOrFolder;
        return from(JsonConfig.read(f));
    }

    public static UNet2DConditionConfig from(JsonConfig c) {
        List<String> down = c.getStringList("down_block_types", List.of("CrossAttnDownBlock2D",
                "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"));
        List<String> up = c.getStringList("up_block_types", List.of("UpBlock2D", "CrossAttnUpBlock2D",
                "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"));
        int n = down.size();
        int[] boc = c.getIntArray("block_out_channels", new int[] {320, 640, 1280, 1280});
        if (boc.length != n || up.size() != n) {
            throw new ModelFormatException(c.source() + ": block_out_channels " + Arrays.toString(boc)
                    + ", down_block_types " + down + " and up_block_types " + up + " must have the same length");
        }
        for (String t : down) {
            if (!t.equals("CrossAttnDownBlock2D") && !t.equals("DownBlock2D")) {
                throw new UnsupportedConfigurationException(c.source() + ": down block type '" + t
                        + "' is not supported (CrossAttnDownBlock2D, DownBlock2D)");
            }
        }
        for (String t : up) {
            if (!t.equals("CrossAttnUpBlock2D") && !t.equals("UpBlock2D")) {
                throw new UnsupportedConfigurationException(c.source() + ": up block type '" + t
                        + "' is not supported (CrossAttnUpBlock2D, UpBlock2D)");
            }
        }
        String mid = c.json().has("mid_block_type") && c.json().get("mid_block_type").isJsonNull() ? null
                : c.getString("mid_block_type", "UNetMidBlock2DCrossAttn");
        if (mid != null && !mid.equals("UNetMidBlock2DCrossAttn") && !mid.equals("UNetMidBlock2D")) {
            throw new UnsupportedConfigurationException(c.source() + ": mid_block_type '" + mid
                    + "' is not supported (UNetMidBlock2DCrossAttn, UNetMidBlock2D, null)");
        }
        for (String key : new String[] {"addition_embed_type", "encoder_hid_dim_type", "time_cond_proj_dim"}) {
            if (c.has(key)) {
                throw new UnsupportedConfigurationException(c.source() + ": " + key + "=" + c.json().get(key)
                        + " is not supported");
            }
        }
        String timeType = c.getString("time_embedding_type", "positional");
        if (!timeType.equals("positional")) {
            throw new UnsupportedConfigurationException(c.source() + ": time_embedding_type '" + timeType
                    + "' is not supported (positional)");
        }
        boolean[] only = boolList(c, "only_cross_attention", n);
        boolean midOnly = c.has("mid_block_only_cross_attention")
                ? c.getBoolean("mid_block_only_cross_attention", false)
                : (c.has("only_cross_attention") && c.json().get("only_cross_attention").isJsonPrimitive()
                        && c.getBoolean("only_cross_attention", false));
        int[] headDim = perBlock(c, "attention_head_dim", n, new int[] {8});
        int[] heads = c.has("num_attention_heads") ? perBlock(c, "num_attention_heads", n, null) : headDim;
        return new UNet2DConditionConfig(
                c.getInt("in_channels", 4), c.getInt("out_channels", 4),
                c.getBoolean("center_input_sample", false), c.getBoolean("flip_sin_to_cos", true),
                c.getDouble("freq_shift", 0), down, mid, up, only, midOnly, boc,
                perBlock(c, "layers_per_block", n, new int[] {2}),
                c.getInt("downsample_padding", 1), c.getDouble("mid_block_scale_factor", 1),
                c.getString("act_fn", "silu"),
                c.json().has("norm_num_groups") && c.json().get("norm_num_groups").isJsonNull() ? null
                        : c.getInt("norm_num_groups", 32),
                c.getDouble("norm_eps", 1e-5),
                perBlock(c, "cross_attention_dim", n, new int[] {1280}),
                perBlock(c, "transformer_layers_per_block", n, new int[] {1}),
                heads, c.getBoolean("use_linear_projection", false), c.getBoolean("upcast_attention", false),
                c.getString("resnet_time_scale_shift", "default"),
                c.optString("class_embed_type").orElse(null),
                c.has("num_class_embeds") ? c.getInt("num_class_embeds") : null,
                c.has("projection_class_embeddings_input_dim")
                        ? c.getInt("projection_class_embeddings_input_dim") : null,
                c.getBoolean("class_embeddings_concat", false),
                c.optString("time_embedding_act_fn").orElse(null),
                c.optString("timestep_post_act").orElse(null),
                c.getBoolean("resnet_skip_time_act", false),
                c.getDouble("resnet_out_scale_factor", 1.0),
                c.getInt("sample_size", 64));
    }

    /** An int-or-list key expanded to one value per block. */
    private static int[] perBlock(JsonConfig c, String key, int n, int[] fallback) {
        int[] v = c.getIntArray(key, fallback);
        if (v == null) {
            throw new ModelFormatException(c.source() + ": required key '" + key + "' is missing");
        }
        if (v.length == 1 && n != 1) {
            int[] out = new int[n];
            Arrays.fill(out, v[0]);
            return out;
        }
        if (v.length != n) {
            throw new ModelFormatException(c.source() + ": '" + key + "' has " + v.length + " entries but there are "
                    + n + " down blocks");
        }
        return v;
    }

    private static boolean[] boolList(JsonConfig c, String key, int n) {
        boolean[] out = new boolean[n];
        if (!c.has(key)) {
            return out;
        }
        JsonElement el = c.json().get(key);
        if (el.isJsonPrimitive()) {
            Arrays.fill(out, el.getAsBoolean());
            return out;
        }
        if (!el.isJsonArray() || el.getAsJsonArray().size() != n) {
            throw new ModelFormatException(c.source() + ": '" + key + "' should be a boolean or " + n + " booleans");
        }
        for (int i = 0; i < n; i++) {
            out[i] = el.getAsJsonArray().get(i).getAsBoolean();
        }
        return out;
    }

    /** Number of up-samplings along the up path (every up block but the last). */
    public int numUpsamplers() {
        return upBlockTypes.size() - 1;
    }
}
