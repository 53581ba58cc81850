package dev.nextgpt.runtime.diffusion;

import dev.nextgpt.ModelFormatException;
import dev.nextgpt.UnsupportedConfigurationException;
import dev.nextgpt.runtime.config.JsonConfig;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** The diffusers {@code AutoencoderKL} config keys used by {@link AutoencoderKL}. */
public record AutoencoderKLConfig(int inChannels, int outChannels, int[] blockOutChannels, int layersPerBlock,
                                  String actFn, int latentChannels, int normNumGroups, double scalingFactor,
                                  Double shiftFactor, boolean useQuantConv, boolean usePostQuantConv,
                                  boolean midBlockAddAttention) {

    public static AutoencoderKLConfig read(Path fileOrFolder) {
        Path f = Files.isDirectory(fileOrFolder) ? fileOrFolder.resolve("config.json") : fileOrFolder;
        return from(JsonConfig.read(f));
    }

    public static AutoencoderKLConfig from(JsonConfig c) {
        int[] boc = c.getIntArray("block_out_channels", new int[] {64});
        List<String> down = c.getStringList("down_block_types", null);
        List<String> up = c.getStringList("up_block_types", null);
        if (down != null) {
            if (down.size() != boc.length) {
                throw new ModelFormatException(c.source() + ": down_block_types " + down + " and block_out_channels"
                        + " have different lengths");
            }
            for (String t : down) {
                if (!t.equals("DownEncoderBlock2D")) {
                    throw new UnsupportedConfigurationException(c.source() + ": VAE down block '" + t
                            + "' is not supported (DownEncoderBlock2D)");
                }
            }
        }
        if (up != null) {
            for (String t : up) {
                if (!t.equals("UpDecoderBlock2D")) {
                    throw new UnsupportedConfigurationException(c.source() + ": VAE up block '" + t
                            + "' is not supported (UpDecoderBlock2D)");
                }
            }
        }
        return new AutoencoderKLConfig(c.getInt("in_channels", 3), c.getInt("out_channels", 3), boc,
                c.getInt("layers_per_block", 1), c.getString("act_fn", "silu"), c.getInt("latent_channels", 4),
                c.getInt("norm_num_groups", 32), c.getDouble("scaling_factor", 0.18215),
                c.has("shift_factor") ? c.getDouble("shift_factor") : null,
                c.getBoolean("use_quant_conv", true), c.getBoolean("use_post_quant_conv", true),
                c.getBoolean("mid_block_add_attention", true));
    }

    /** Spatial factor between images and latents: {@code 2^(len(block_out_channels)-1)}. */
    public int scaleFactor() {
        return 1 << (blockOutChannels.length - 1);
    }
}
