package dev.nextgpt.runtime.audioldm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.convolutional.Conv1d;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.component.ComponentPaths;
import dev.nextgpt.runtime.config.JsonConfig;
import dev.nextgpt.runtime.io.Checkpoints;
import dev.nextgpt.runtime.io.TensorStore;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * transformers' {@code SpeechT5HifiGan}, AudioLDM's vocoder: log-mel {@code [B, frames, model_in_dim]} →
 * waveform {@code [B, samples]}. {@code conv_pre} (k7) → per stage: leaky ReLU (config slope) → transposed conv
 * upsampler → mean of the multi-receptive-field residual blocks → leaky ReLU (slope 0.01, torch's default) →
 * {@code conv_post} (k7, 1 channel) → tanh. Each stage turns {@code L} samples into
 * {@code (L-1)·u - 2·((k-u)/2) + k}.
 *
 * <p>Weight-normalised checkpoints ({@code weight_g}/{@code weight_v}, or {@code parametrizations.weight.original0/1})
 * are folded to plain weights at load time: {@code w = g · v / ‖v‖}, the norm over every axis but the first.
 */
public final class HifiGanVocoder implements AutoCloseable {

    /** The fields of a {@code SpeechT5HifiGanConfig} ({@code vocoder/config.json}). */
    public record Config(int modelInDim, int samplingRate, int upsampleInitialChannel, int[] upsampleRates,
                         int[] upsampleKernelSizes, int[] resblockKernelSizes, int[][] resblockDilationSizes,
                         double leakyReluSlope, boolean normalizeBefore) {

        public static Config fromJson(JsonConfig c) {
            int[] rates = c.getIntArray("upsample_rates", new int[] {4, 4, 4, 4});
            int[] kernels = c.getIntArray("upsample_kernel_sizes", new int[] {8, 8, 8, 8});
            int[] resKernels = c.getIntArray("resblock_kernel_sizes", new int[] {3, 7, 11});
            int[][] dilations = dilationSizes(c, resKernels.length);
            if (rates.length != kernels.length) {
                throw new ModelFormatException(c.source() + ": upsample_rates " + java.util.Arrays.toString(rates)
                        + " and upsample_kernel_sizes " + java.util.Arrays.toString(kernels)
                        + " differ in length");
            }
            Config cfg = new Config(c.getInt("model_in_dim", 80), c.getInt("sampling_rate", 16000),
                    c.getInt("upsample_initial_channel", 512), rates, kernels, resKernels, dilations,
                    c.getDouble("leaky_relu_slope", 0.1), c.getBoolean("normalize_before", true));
            if (cfg.upsampleInitialChannel >> rates.length < 1) {
                throw new ModelFormatException(c.source() + ": upsample_initial_channel "
                        + cfg.upsampleInitialChannel + " cannot be halved " + rates.length + " times");
            }
            return cfg;
        }

        private static int[][] dilationSizes(JsonConfig c, int count) {
            if (!c.has("resblock_dilation_sizes")) {
                int[][] d = new int[count][];
                for (int i = 0; i < count; i++) {
                    d[i] = new int[] {1, 3, 5};
                }
                return d;
            }
            var arr = c.json().getAsJsonArray("resblock_dilation_sizes");
            if (arr.size() != count) {
                throw new ModelFormatException(c.source() + ": resblock_dilation_sizes has " + arr.size()
                        + " entries, resblock_kernel_sizes has " + count);
            }
            int[][] d = new int[count][];
            for (int i = 0; i < count; i++) {
                var inner = arr.get(i).getAsJsonArray();
                d[i] = new int[inner.size()];
                for (int j = 0; j < d[i].length; j++) {
                    d[i][j] = inner.get(j).getAsInt();
                }
            }
            return d;
        }

        /** Channels after upsampling stage {@code i}: {@code upsample_initial_channel / 2^(i+1)}. */
        public int channelsAfterStage(int i) {
            return upsampleInitialChannel >> (i + 1);
        }

        /** Samples per mel frame: the product of the upsample rates, ignoring the edge samples of odd k-u. */
        public long hopLength() {
            long p = 1;
            for (int r : upsampleRates) {
                p *= r;
            }
            return p;
        }

        /** Output samples for {@code frames} mel frames (exact, including the edge samples of each stage). */
        public long outputLength(long frames) {
            long len = frames; // conv_pre / conv_post keep the length (k7, padding 3)
            for (int i = 0; i < upsampleRates.length; i++) {
                int u = upsampleRates[i];
                int k = upsampleKernelSizes[i];
                len = (len - 1) * u - 2L * ((k - u) / 2) + k;
            }
            return len;
        }
    }

    private record Conv(NDArray weight, NDArray bias, int padding, int dilation) {
        NDArray apply(NDArray x) {
            return Conv1d.conv1d(x, weight, bias, new Shape(1), new Shape(padding), new Shape(dilation), 1)
                    .singletonOrThrow();
        }
    }

    /** An upsampling stage: {@code ConvTranspose1d(in, out, k, stride, padding)}, weight {@code [in, out, k]}. */
    private record Upsampler(NDArray weight, NDArray bias, int stride, int padding) {
        NDArray apply(NDArray x) {
            return convTranspose1d(x, weight, bias, stride, padding);
        }
    }

    /**
     * {@code F.conv_transpose1d(x, weight, bias, stride, padding)} (dilation 1, no output padding, one group), with
     * {@code weight [in, out, k]}. DJL's PyTorch engine implements no deconvolution, so this runs the equivalent
     * direct convolution: {@code stride-1} zeros between input samples, the kernel flipped along time with in/out
     * swapped, {@code k-1-padding} zeros on both sides (a crop instead when {@code padding > k-1}).
     * Output length {@code (L-1)·stride - 2·padding + k}.
     */
    static NDArray convTranspose1d(NDArray x, NDArray weight, NDArray bias, int stride, int padding) {
        Shape s = x.getShape();
        long batch = s.get(0);
        long ch = s.get(1);
        long len = s.get(2);
        int k = (int) weight.getShape().get(2);
        if (weight.getShape().get(0) != ch) {
            throw new InvalidInputException("transposed conv weight " + weight.getShape() + " expects "
                    + weight.getShape().get(0) + " input channels, input has " + s);
        }
        NDArray dilated = x;
        if (stride > 1) {
            NDArray zeros = x.zerosLike().expandDims(3).repeat(3, stride - 1);
            dilated = x.expandDims(3).concat(zeros, 3).reshape(batch, ch, len * stride)
                    .get(new NDIndex(":, :, :{}", (len - 1) * stride + 1));
        }
        NDArray flipped = weight.transpose(1, 0, 2).flip(2);
        int pad = k - 1 - padding;
        NDArray y = Conv1d.conv1d(dilated, flipped, bias, new Shape(1), new Shape(Math.max(pad, 0)), new Shape(1), 1)
                .singletonOrThrow();
        flipped.close();
        if (pad < 0) {
            long outLen = y.getShape().get(2);
            y = y.get(new NDIndex(":, :, {}:{}", -pad, outLen + pad));
        }
        return y;
    }

    /** ResBlock1: for each dilation, {@code x += conv2(lrelu(conv1_d(lrelu(x))))}. */
    private record ResBlock(List<Conv> convs1, List<Conv> convs2) {
    }

    private final Config config;
    private final NDManager weights;
    private final NDArray mean;
    private final NDArray scale;
    private final Conv convPre;
    private final List<Upsampler> upsamplers = new ArrayList<>();
    private final List<ResBlock> resblocks = new ArrayList<>();
    private final Conv convPost;

    private HifiGanVocoder(Config cfg, NDManager weights, TensorStore store) {
        this.config = cfg;
        this.weights = weights;
        if (cfg.normalizeBefore) {
            mean = tensor(store, "mean", cfg.modelInDim);
            scale = tensor(store, "scale", cfg.modelInDim);
        } else {
            mean = null;
            scale = null;
        }
        convPre = conv(store, "conv_pre", cfg.upsampleInitialChannel, cfg.modelInDim, 7, 1);
        int ch = cfg.upsampleInitialChannel;
        for (int i = 0; i < cfg.upsampleRates.length; i++) {
            int u = cfg.upsampleRates[i];
            int k = cfg.upsampleKernelSizes[i];
            int out = cfg.channelsAfterStage(i);
            // ConvTranspose1d weight layout: [in, out, k].
            upsamplers.add(new Upsampler(weight(store, "upsampler." + i, ch, out, k),
                    tensor(store, "upsampler." + i + ".bias", out), u, (k - u) / 2));
            for (int j = 0; j < cfg.resblockKernelSizes.length; j++) {
                int rk = cfg.resblockKernelSizes[j];
                String p = "resblocks." + (i * cfg.resblockKernelSizes.length + j) + ".";
                List<Conv> c1 = new ArrayList<>();
                List<Conv> c2 = new ArrayList<>();
                int[] dil = cfg.resblockDilationSizes[j];
                for (int d = 0; d < dil.length; d++) {
                    c1.add(conv(store, p + "convs1." + d, out, out, rk, dil[d]));
                    c2.add(conv(store, p + "convs2." + d, out, out, rk, 1));
                }
                resblocks.add(new ResBlock(List.copyOf(c1), List.copyOf(c2)));
            }
            ch = out;
        }
        convPost = conv(store, "conv_post", 1, ch, 7, 1);
    }

    /**
     * Loads from a folder holding {@code config.json} and the weights (a pipeline's {@code vocoder/}); a pipeline
     * root with a {@code vocoder/} sub-folder is accepted too. Weights belong to a sub-manager of {@code manager}.
     */
    public static HifiGanVocoder load(Path folder, NDManager manager) {
        folder = ComponentPaths.subfolderOrSelf(folder, "vocoder");
        Config cfg = Config.fromJson(JsonConfig.read(folder.resolve("config.json")));
        try (TensorStore store = Checkpoints.open(folder)) {
            return load(cfg, store, manager);
        }
    }

    /** Loads from an open tensor store (weights are copied; the store may be closed afterwards). */
    public static HifiGanVocoder load(Config cfg, TensorStore store, NDManager manager) {
        return ComponentWeights.buildInSubManager(manager, weights -> new HifiGanVocoder(cfg, weights, store));
    }

    public Config config() {
        return config;
    }

    /**
     * Mel spectrogram {@code [B, frames, model_in_dim]} (or unbatched {@code [frames, model_in_dim]}) → waveform
     * {@code [B, samples]} (or {@code [samples]}), attached to the input's manager.
     */
    public NDArray forward(NDArray mel) {
        Shape s = mel.getShape();
        boolean batched = s.dimension() == 3;
        if ((s.dimension() != 2 && !batched) || s.get(s.dimension() - 1) != config.modelInDim) {
            throw new InvalidInputException("mel must be [batch, frames, " + config.modelInDim + "] or [frames, "
                    + config.modelInDim + "], got " + s);
        }
        NDManager caller = mel.getManager();
        try (NDManager scope = caller.newSubManager()) {
            NDArray x = mel.toType(DataType.FLOAT32, true);
            x.attach(scope);
            if (!batched) {
                x = x.expandDims(0);
            }
            if (config.normalizeBefore) {
                x = x.sub(mean).div(scale);
            }
            float slope = (float) config.leakyReluSlope;
            int kernels = config.resblockKernelSizes.length;
            x = convPre.apply(x.transpose(0, 2, 1));
            for (int i = 0; i < upsamplers.size(); i++) {
                x = upsamplers.get(i).apply(Activation.leakyRelu(x, slope));
                NDArray sum = null;
                for (int j = 0; j < kernels; j++) {
                    NDArray r = resBlock(resblocks.get(i * kernels + j), x, slope);
                    sum = sum == null ? r : sum.add(r);
                }
                x = sum.div((float) kernels);
            }
            x = convPost.apply(Activation.leakyRelu(x, 0.01f)).tanh();
            NDArray wave = x.squeeze(1);
            if (!batched) {
                wave = wave.squeeze(0);
            }
            wave.attach(caller);
            return wave;
        }
    }

    private static NDArray resBlock(ResBlock b, NDArray x, float slope) {
        for (int d = 0; d < b.convs1.size(); d++) {
            NDArray h = b.convs1.get(d).apply(Activation.leakyRelu(x, slope));
            h = b.convs2.get(d).apply(Activation.leakyRelu(h, slope));
            x = x.add(h);
        }
        return x;
    }

    private Conv conv(TensorStore store, String name, int out, int in, int k, int dilation) {
        return new Conv(weight(store, name, out, in, k), tensor(store, name + ".bias", out),
                (k * dilation - dilation) / 2, dilation);
    }

    /** A conv weight, folding weight normalisation when the checkpoint stores it unfolded. */
    private NDArray weight(TensorStore store, String name, long... shape) {
        if (store.contains(name + ".weight")) {
            return tensor(store, name + ".weight", shape);
        }
        String g;
        String v;
        if (store.contains(name + ".weight_g")) {
            g = name + ".weight_g";
            v = name + ".weight_v";
        } else if (store.contains(name + ".parametrizations.weight.original0")) {
            g = name + ".parametrizations.weight.original0";
            v = name + ".parametrizations.weight.original1";
        } else {
            throw new ModelFormatException(store.source() + ": tensor '" + name + ".weight' (or its weight-norm "
                    + "weight_g/weight_v) is missing");
        }
        NDArray gain = tensor(store, g, shape[0], 1, 1);
        NDArray direction = tensor(store, v, shape);
        NDArray norm = direction.square().sum(new int[] {1, 2}, true).sqrt();
        NDArray w = direction.mul(gain).div(norm);
        gain.close();
        direction.close();
        norm.close();
        return w;
    }

    private NDArray tensor(TensorStore store, String name, long... shape) {
        return ComponentWeights.tensor(store, weights, name, shape);
    }

    @Override
    public void close() {
        weights.close();
    }
}
