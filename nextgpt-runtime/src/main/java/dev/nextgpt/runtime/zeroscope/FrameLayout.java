package dev.nextgpt.runtime.zeroscope;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.InvalidInputException;

/**
 * Layout conversions of {@code UNet3DConditionModel} and its pipeline, plus the 5-D GroupNorm its temporal layers
 * use. Frames travel through the 2-D layers as a batch of images {@code (B·F, C, H, W)}, row {@code b·F + f}
 * (frame index fastest within each batch item).
 */
public final class FrameLayout {
    private FrameLayout() {
    }

    /** {@code (B, C, F, H, W)} → {@code (B·F, C, H, W)}: {@code permute(0,2,1,3,4).reshape(B·F, C, H, W)}. */
    public static NDArray videoToFrames(NDArray video) {
        Shape s = video.getShape();
        if (s.dimension() != 5) {
            throw new InvalidInputException("video tensor must be (B, C, F, H, W), got " + s);
        }
        return video.transpose(0, 2, 1, 3, 4).reshape(s.get(0) * s.get(2), s.get(1), s.get(3), s.get(4));
    }

    /** {@code (B·F, C, H, W)} → {@code (B, C, F, H, W)}. */
    public static NDArray toVideo(NDArray frames, int numFrames) {
        Shape s = frames.getShape();
        if (s.dimension() != 4 || numFrames <= 0 || s.get(0) % numFrames != 0) {
            throw new InvalidInputException("frames tensor must be (B*F, C, H, W) with F = " + numFrames
                    + " dividing the first axis, got " + s);
        }
        long b = s.get(0) / numFrames;
        return frames.reshape(b, numFrames, s.get(1), s.get(2), s.get(3)).transpose(0, 2, 1, 3, 4);
    }

    /** {@code (B, C, F, H, W)} → {@code (B·F, C, H, W)} (alias of {@link #videoToFrames}). */
    static NDArray toFrames(NDArray video) {
        return videoToFrames(video);
    }

    /**
     * {@code x.repeat_interleave(F, dim=0)}: each batch row repeated F times in a row (for the time embedding and
     * {@code encoder_hidden_states} of the UNet3D), not tiled.
     */
    public static NDArray repeatInterleave(NDArray x, int numFrames) {
        Shape s = x.getShape();
        long[] expanded = new long[s.dimension() + 1];
        expanded[0] = s.get(0);
        expanded[1] = numFrames;
        for (int i = 1; i < s.dimension(); i++) {
            expanded[i + 1] = s.get(i);
        }
        long[] target = s.getShape().clone();
        target[0] = s.get(0) * numFrames;
        return x.expandDims(1).broadcast(new Shape(expanded)).reshape(new Shape(target));
    }

    /**
     * {@code nn.GroupNorm(groups, C, eps)} on any {@code (N, C, ...)} tensor: statistics (biased variance) per
     * sample and group over the group's channels and all remaining axes; then per-channel affine. {@code weight}
     * and {@code bias} are {@code [C]} or already shaped {@code [C, 1, …, 1]} to broadcast over {@code x} (pass the
     * latter for repeated calls: reshaping a weight creates arrays in the weight's manager).
     */
    public static NDArray groupNorm(NDArray x, int groups, NDArray weight, NDArray bias, float eps) {
        Shape s = x.getShape();
        long n = s.get(0);
        long c = s.get(1);
        if (c % groups != 0) {
            throw new InvalidInputException("GroupNorm: " + c + " channels are not divisible into " + groups
                    + " groups");
        }
        NDArray g = x.reshape(n, groups, -1);
        NDArray mean = g.mean(new int[] {2}, true);
        NDArray centered = g.sub(mean);
        NDArray var = centered.square().mean(new int[] {2}, true);
        NDArray normed = centered.div(var.add(eps).sqrt()).reshape(s);
        return normed.mul(affineShaped(weight, s.dimension())).add(affineShaped(bias, s.dimension()));
    }

    /** {@code [C]} → {@code [C, 1, …, 1]} broadcasting over a rank-{@code rank} {@code (N, C, ...)} tensor. */
    public static NDArray affineShaped(NDArray perChannel, int rank) {
        if (perChannel.getShape().dimension() == rank - 1) {
            return perChannel;
        }
        long[] affine = new long[rank - 1];
        java.util.Arrays.fill(affine, 1);
        affine[0] = perChannel.getShape().get(0);
        return perChannel.reshape(new Shape(affine));
    }
}
