package dev.nextgpt.runtime.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.UnsupportedConfigurationException;
import dev.nextgpt.runtime.diffusion.Layers.Conv2d;

/** diffusers {@code Downsample2D} / {@code Upsample2D} and nearest-neighbour resizing. */
public final class Sampling {
    private Sampling() {
    }

    /**
     * Conv 3x3 stride 2 with {@code padding}; with padding 0 (VAE encoder) the input is first padded by one on the
     * right and bottom, as diffusers does.
     */
    public static final class Downsample2D {
        private final Conv2d conv;
        private final boolean asymmetricPad;

        public Downsample2D(Weights w, int padding) {
            this.conv = Conv2d.load(w, "conv", 2, padding);
            this.asymmetricPad = padding == 0;
        }

        public NDArray forward(NDArray x) {
            NDArray in = x;
            if (asymmetricPad) {
                Shape s = x.getShape();
                NDArray col = x.getManager().zeros(new Shape(s.get(0), s.get(1), s.get(2), 1), x.getDataType());
                in = x.concat(col, 3);
                NDArray row = x.getManager().zeros(new Shape(s.get(0), s.get(1), 1, s.get(3) + 1), x.getDataType());
                in = in.concat(row, 2);
            }
            return conv.forward(in);
        }
    }

    /** Nearest-neighbour upsampling (x2, or to the given size) followed by a 3x3 conv. */
    public static final class Upsample2D {
        private final Conv2d conv;

        public Upsample2D(Weights w) {
            this.conv = Conv2d.load(w, "conv", 1);
        }

        /** @param size target [H, W], or null for exactly twice the input */
        public NDArray forward(NDArray x, long[] size) {
            return conv.forward(upsampleNearest(x, size));
        }
    }

    /**
     * {@code F.interpolate(x, scale_factor=2 | size, mode="nearest")} on the last two axes. Sizes other than 2x or
     * 2x-1 (which x2 followed by a crop reproduces exactly) are not supported.
     */
    public static NDArray upsampleNearest(NDArray x, long[] size) {
        Shape s = x.getShape();
        int r = s.dimension();
        long h = s.get(r - 2);
        long w = s.get(r - 1);
        long th = size == null ? 2 * h : size[0];
        long tw = size == null ? 2 * w : size[1];
        if ((th != 2 * h && th != 2 * h - 1) || (tw != 2 * w && tw != 2 * w - 1)) {
            throw new UnsupportedConfigurationException("nearest upsampling from " + h + "x" + w + " to " + th + "x"
                    + tw + " is not supported (only x2 or 2x-1)");
        }
        NDArray up = x.repeat(r - 2, 2).repeat(r - 1, 2);
        if (th != 2 * h || tw != 2 * w) {
            up = up.get("..., :{}, :{}", th, tw);
        }
        return up;
    }
}
