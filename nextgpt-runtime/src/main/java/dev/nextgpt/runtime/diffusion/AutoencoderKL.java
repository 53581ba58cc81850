package dev.nextgpt.runtime.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.runtime.diffusion.Layers.Conv2d;
import dev.nextgpt.runtime.diffusion.Layers.GroupNorm;
import dev.nextgpt.runtime.diffusion.Sampling.Downsample2D;
import dev.nextgpt.runtime.diffusion.Sampling.Upsample2D;
import dev.nextgpt.runtime.io.Checkpoints;
import dev.nextgpt.runtime.io.TensorStore;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * diffusers {@code AutoencoderKL}: encoder (resnet down blocks with pad-then-stride-2 downsamplers, mid block with
 * single-head attention, GroupNorm/SiLU/conv_out to 2·latent moments, quant_conv) → diagonal Gaussian; decoder
 * (post_quant_conv, conv_in, mid block, up blocks with nearest x2 upsamplers, GroupNorm/SiLU/conv_out). Every
 * GroupNorm uses eps 1e-6.
 */
public final class AutoencoderKL implements AutoCloseable {
    private static final double EPS = 1e-6;
    private final AutoencoderKLConfig config;
    private final NDManager manager;
    private final Half encoder;
    private final Half decoder;
    private final Conv2d quantConv;
    private final Conv2d postQuantConv;

    /** The latent distribution of an encoded image: {@code mean}, {@code logvar} (clamped to [-30, 20]), {@code std}. */
    public record LatentDist(NDArray mean, NDArray logvar, NDArray std) {
        /** {@code mean + std·noise}. */
        public NDArray sample(NDArray noise) {
            return mean.add(std.mul(noise));
        }
    }

    public static AutoencoderKL load(Path folder) {
        return load(folder, NDManager.newBaseManager());
    }

    /** Loads a VAE folder; the model takes ownership of {@code manager}. */
    public static AutoencoderKL load(Path folder, NDManager manager) {
        if (!Files.isDirectory(folder)) {
            throw new InvalidInputException("VAE folder " + folder + " does not exist");
        }
        AutoencoderKLConfig cfg = AutoencoderKLConfig.read(folder);
        try (TensorStore store = Checkpoints.open(folder)) {
            return new AutoencoderKL(cfg, new Weights(store, manager));
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    public AutoencoderKL(AutoencoderKLConfig config, Weights w) {
        this.config = config;
        this.manager = w.manager();
        int n = config.blockOutChannels().length;
        int g = config.normNumGroups();
        this.encoder = w.hasModule("encoder") ? new Half(w.sub("encoder"), config, true) : null;
        this.decoder = new Half(w.sub("decoder"), config, false);
        this.quantConv = config.useQuantConv() && w.has("quant_conv.weight") ? Conv2d.load(w, "quant_conv", 1) : null;
        this.postQuantConv = config.usePostQuantConv() && w.has("post_quant_conv.weight")
                ? Conv2d.load(w, "post_quant_conv", 1) : null;
        if (n < 1 || g < 1) {
            throw new InvalidInputException("bad VAE config " + config);
        }
    }

    public AutoencoderKLConfig config() {
        return config;
    }

    public float scalingFactor() {
        return (float) config.scalingFactor();
    }

    /** Decodes raw decoder input {@code z} (already divided by the scaling factor) to an image in about [-1, 1]. */
    public NDArray decode(NDArray z) {
        return decode(z, null);
    }

    public NDArray decode(NDArray z, Map<String, NDArray> trace) {
        if (z.getShape().dimension() != 4 || z.getShape().get(1) != config.latentChannels()) {
            throw new InvalidInputException("VAE decoder input must be [B, " + config.latentChannels()
                    + ", h, w] but is " + z.getShape());
        }
        NDArray h = z;
        if (postQuantConv != null) {
            h = postQuantConv.forward(h);
            put(trace, "post_quant_conv", h);
        }
        return decoder.forward(h, trace, "decoder_");
    }

    /** Decodes latents as the pipeline holds them: {@code latents / scaling_factor (+ shift_factor)}, then decode. */
    public NDArray decodeLatents(NDArray latents) {
        return decode(decoderInput(latents));
    }

    /** {@code latents / scaling_factor (+ shift_factor)}. */
    public NDArray decoderInput(NDArray latents) {
        NDArray z = latents.div(scalingFactor());
        return config.shiftFactor() == null ? z : z.add(config.shiftFactor().floatValue());
    }

    /** Encodes an image in [-1, 1] (NCHW) to its latent distribution. */
    public LatentDist encode(NDArray x) {
        return encode(x, null);
    }

    public LatentDist encode(NDArray x, Map<String, NDArray> trace) {
        if (encoder == null) {
            throw new InvalidInputException("this VAE checkpoint has no encoder weights");
        }
        if (x.getShape().dimension() != 4 || x.getShape().get(1) != config.inChannels()) {
            throw new InvalidInputException("VAE encoder input must be [B, " + config.inChannels() + ", H, W] but is "
                    + x.getShape());
        }
        NDArray moments = encoder.forward(x, trace, "encoder_");
        if (quantConv != null) {
            moments = quantConv.forward(moments);
            put(trace, "quant_conv_out_moments", moments);
        }
        long c = moments.getShape().get(1) / 2;
        NDArray mean = moments.get(":, :{}", c);
        NDArray logvar = moments.get(":, {}:", c).clip(-30f, 20f);
        NDArray std = logvar.mul(0.5f).exp();
        return new LatentDist(mean, logvar, std);
    }

    /** {@code (decoded·0.5 + 0.5).clamp(0, 1)} as NHWC float (diffusers {@code output_type="np"}). */
    public static NDArray postprocess(NDArray decoded) {
        return decoded.mul(0.5f).add(0.5f).clip(0f, 1f).transpose(0, 2, 3, 1);
    }

    /** {@code round_half_even(image·255)} as uint8 (the PIL image). */
    public static NDArray toUint8(NDArray imageFloat) {
        return imageFloat.mul(255f).round().toType(DataType.UINT8, false);
    }

    /** uint8 NHWC pictures → float NCHW in [-1, 1] ({@code x/255·2 - 1}). */
    public static NDArray preprocess(NDArray uint8Nhwc) {
        return uint8Nhwc.toType(DataType.FLOAT32, false).div(255f).mul(2f).sub(1f).transpose(0, 3, 1, 2);
    }

    private static void put(Map<String, NDArray> trace, String k, NDArray v) {
        if (trace != null) {
            trace.put(k, v);
        }
    }

    @Override
    public void close() {
        manager.close();
    }

    /** Encoder or decoder. */
    private static final class Half {
        private final boolean encoder;
        private final Conv2d convIn;
        private final ResnetBlock2D[][] blocks;
        private final Object[] samplers;
        private final ResnetBlock2D[] midResnets;
        private final Attention midAttention;
        private final GroupNorm normOut;
        private final Conv2d convOut;
        private final String act;

        Half(Weights w, AutoencoderKLConfig c, boolean encoder) {
            this.encoder = encoder;
            this.act = c.actFn();
            int g = c.normNumGroups();
            int n = c.blockOutChannels().length;
            this.convIn = Conv2d.load(w, "conv_in", 1);
            Weights mw = w.sub("mid_block");
            this.midResnets = new ResnetBlock2D[] {
                    new ResnetBlock2D(mw.sub("resnets.0"), g, EPS, act, "default", false, 1.0),
                    new ResnetBlock2D(mw.sub("resnets.1"), g, EPS, act, "default", false, 1.0)};
            this.midAttention = c.midBlockAddAttention() ? new Attention(mw.sub("attentions.0"), 1, g, EPS, 1.0)
                    : null;
            String list = encoder ? "down_blocks" : "up_blocks";
            int layers = encoder ? c.layersPerBlock() : c.layersPerBlock() + 1;
            this.blocks = new ResnetBlock2D[n][layers];
            this.samplers = new Object[n];
            for (int i = 0; i < n; i++) {
                Weights bw = w.sub(list + "." + i);
                for (int j = 0; j < layers; j++) {
                    blocks[i][j] = new ResnetBlock2D(bw.sub("resnets." + j), g, EPS, act, "default", false, 1.0);
                }
                if (encoder && bw.hasModule("downsamplers.0")) {
                    samplers[i] = new Downsample2D(bw.sub("downsamplers.0"), 0);
                } else if (!encoder && bw.hasModule("upsamplers.0")) {
                    samplers[i] = new Upsample2D(bw.sub("upsamplers.0"));
                }
            }
            this.normOut = GroupNorm.load(w, "conv_norm_out", g, EPS);
            this.convOut = Conv2d.load(w, "conv_out", 1);
        }

        NDArray forward(NDArray x, Map<String, NDArray> trace, String p) {
            NDArray h = convIn.forward(x);
            put(trace, p + "conv_in", h);
            if (!encoder) {
                h = mid(h);
                put(trace, p + "mid_block", h);
            }
            for (int i = 0; i < blocks.length; i++) {
                for (ResnetBlock2D r : blocks[i]) {
                    h = r.forward(h, null);
                }
                if (samplers[i] instanceof Downsample2D d) {
                    h = d.forward(h);
                } else if (samplers[i] instanceof Upsample2D u) {
                    h = u.forward(h, null);
                }
                put(trace, p + (encoder ? "down_block_" : "up_block_") + i, h);
            }
            if (encoder) {
                h = mid(h);
                put(trace, p + "mid_block", h);
            }
            h = normOut.forward(h);
            put(trace, p + "conv_norm_out", h);
            h = convOut.forward(Layers.activation(act, h));
            put(trace, p + "out", h);
            return h;
        }

        private NDArray mid(NDArray h) {
            h = midResnets[0].forward(h, null);
            if (midAttention != null) {
                h = midAttention.forwardSpatial(h);
            }
            return midResnets[1].forward(h, null);
        }
    }
}
