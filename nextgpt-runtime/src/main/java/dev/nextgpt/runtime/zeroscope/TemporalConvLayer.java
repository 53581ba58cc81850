package dev.nextgpt.runtime.zeroscope;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv2d;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.io.TensorStore;
import dev.nextgpt.runtime.nn.NN;

/**
 * diffusers' {@code TemporalConvLayer} of {@code UNet3DConditionModel} (Modelscope / Zeroscope): four
 * {@code GroupNorm → SiLU → (Dropout) → Conv3d(k=(3,1,1), pad=(1,0,0))} stages along the frame axis, added to the
 * input. Works on {@code (B·F, C, H, W)} images (frame index fastest within each batch item) and returns the same
 * layout. GroupNorm statistics span each group's channels over all frames and pixels of one batch item; the frame
 * axis is zero-padded. Key names: {@code conv1.0} (GN) / {@code conv1.2} (conv), {@code convN.0} / {@code convN.3}.
 */
public final class TemporalConvLayer {

    /** One GN → SiLU → temporal conv stage: GN affine as {@code [C,1,1,1]}, conv as a 2-D {@code [out, in, 3, 1]} kernel. */
    private record Stage(NDArray normWeight, NDArray normBias, NDArray convWeight, NDArray convBias) {
    }

    private final int channels;
    private final int groups;
    private final float eps;
    private final Stage[] stages = new Stage[4];

    private TemporalConvLayer(int channels, int groups, float eps) {
        this.channels = channels;
        this.groups = groups;
        this.eps = eps;
    }

    /**
     * Loads {@code prefix + "conv1.0.weight"} etc. into {@code weights} (which owns them).
     *
     * @param groups {@code norm_num_groups} of the UNet config (diffusers ≥ 0.2x; 0.17 hard-coded 32)
     * @param eps    GroupNorm eps (PyTorch default 1e-5)
     */
    public static TemporalConvLayer load(TensorStore store, String prefix, int groups, float eps,
                                         NDManager weights) {
        String gn1 = prefix + "conv1.0.weight";
        if (!store.contains(gn1)) {
            throw new ModelFormatException(store.source() + ": tensor '" + gn1 + "' is missing");
        }
        int channels = (int) store.info(gn1).shape()[0];
        if (channels % groups != 0) {
            throw new ModelFormatException(store.source() + ": " + prefix + " has " + channels
                    + " channels, not divisible into " + groups + " groups");
        }
        TemporalConvLayer layer = new TemporalConvLayer(channels, groups, eps);
        for (int i = 0; i < 4; i++) {
            String p = prefix + "conv" + (i + 1) + ".";
            String conv = p + (i == 0 ? "2" : "3") + ".";
            NDArray w = load(store, conv + "weight", weights, channels, channels, 3, 1, 1);
            NDArray w2d = w.reshape(channels, channels, 3, 1);
            layer.stages[i] = new Stage(FrameLayout.affineShaped(load(store, p + "0.weight", weights, channels), 5),
                    FrameLayout.affineShaped(load(store, p + "0.bias", weights, channels), 5), w2d, load(store, conv + "bias", weights, channels));
        }
        return layer;
    }

    private static NDArray load(TensorStore store, String name, NDManager weights, long... shape) {
        if (!store.contains(name)) {
            throw new ModelFormatException(store.source() + ": tensor '" + name + "' is missing");
        }
        NDArray a = store.load(weights, name);
        if (!a.getShape().equals(new Shape(shape))) {
            throw new ModelFormatException(store.source() + ": tensor '" + name + "' has shape " + a.getShape()
                    + ", expected " + new Shape(shape));
        }
        return a;
    }

    public int channels() {
        return channels;
    }

    /** {@code (B·F, C, H, W)} → {@code (B·F, C, H, W)}: {@code x + conv4(conv3(conv2(conv1(x))))} along frames. */
    public NDArray forward(NDArray x, int numFrames) {
        NDArray v = FrameLayout.toVideo(x, numFrames); // (B, C, F, H, W)
        Shape s = v.getShape();
        if (s.get(1) != channels) {
            throw new InvalidInputException("TemporalConvLayer expects " + channels + " channels, input is "
                    + x.getShape());
        }
        long b = s.get(0);
        long f = s.get(2);
        long hw = s.get(3) * s.get(4);
        NDArray h = v;
        for (Stage st : stages) {
            NDArray n = FrameLayout.groupNorm(h, groups, st.normWeight, st.normBias, eps);
            NDArray a = NN.silu(n).reshape(b, channels, f, hw);
            h = Conv2d.conv2d(a, st.convWeight, st.convBias, new Shape(1, 1), new Shape(1, 0), new Shape(1, 1), 1)
                    .singletonOrThrow().reshape(s);
        }
        return FrameLayout.toFrames(v.add(h));
    }
}
