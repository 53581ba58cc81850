package dev.nextgpt.runtime.media;

import dev.nextgpt.InvalidInputException;

/**
 * Pillow's 8-bit convolution resampler ({@code Image.resize} with BICUBIC, BILINEAR, LANCZOS, BOX or HAMMING; no
 * {@code reducing_gap}): separable, horizontal pass first (only over the source rows the vertical pass uses), then
 * vertical; the filter support is widened by the downscale factor (antialiasing); per output pixel the
 * coefficients are normalised to sum 1 and quantised to 22-bit fixed point; each pass rounds and clamps to uint8.
 * Re-implemented from the algorithm's description so that results are bit-identical to Pillow.
 */
public final class PillowResample {
    private static final int PRECISION_BITS = 32 - 8 - 2;

    /** Pillow's resampling filters. */
    public enum Filter {
        BOX(0.5), BILINEAR(1.0), HAMMING(1.0), BICUBIC(2.0), LANCZOS(3.0);

        final double support;

        Filter(double support) {
            this.support = support;
        }

        double eval(double x) {
            switch (this) {
                case BOX:
                    return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0;
                case BILINEAR:
                    x = Math.abs(x);
                    return x < 1.0 ? 1.0 - x : 0.0;
                case HAMMING:
                    x = Math.abs(x);
                    if (x == 0.0) {
                        return 1.0;
                    }
                    if (x >= 1.0) {
                        return 0.0;
                    }
                    x = x * Math.PI;
                    return Math.sin(x) / x * (0.54 + 0.46 * Math.cos(x));
                case BICUBIC: {
                    final double a = -0.5;
                    x = Math.abs(x);
                    if (x < 1.0) {
                        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
                    }
                    if (x < 2.0) {
                        return (((x - 5) * x + 8) * x - 4) * a;
                    }
                    return 0.0;
                }
                default: {
                    if (x > -3.0 && x < 3.0) {
                        return sinc(x) * sinc(x / 3.0);
                    }
                    return 0.0;
                }
            }
        }

        private static double sinc(double x) {
            if (x == 0.0) {
                return 1.0;
            }
            x = x * Math.PI;
            return Math.sin(x) / x;
        }
    }

    private PillowResample() {
    }

    /** Fixed-point coefficients of one axis: bounds (first index, count) and {@code ksize} ints per output. */
    private record Coeffs(int ksize, int[] bounds, int[] k) {
    }

    private static Coeffs coefficients(int inSize, double in0, double in1, int outSize, Filter f) {
        double scale = (in1 - in0) / outSize;
        double filterscale = Math.max(scale, 1.0);
        double support = f.support * filterscale;
        int ksize = (int) Math.ceil(support) * 2 + 1;
        int[] bounds = new int[outSize * 2];
        int[] kk = new int[outSize * ksize];
        double[] w = new double[ksize];
        for (int xx = 0; xx < outSize; xx++) {
            double center = in0 + (xx + 0.5) * scale;
            double ss = 1.0 / filterscale;
            int xmin = (int) (center - support + 0.5);
            if (xmin < 0) {
                xmin = 0;
            }
            int xmax = (int) (center + support + 0.5);
            if (xmax > inSize) {
                xmax = inSize;
            }
            xmax -= xmin;
            double ww = 0.0;
            for (int x = 0; x < xmax; x++) {
                w[x] = f.eval((x + xmin - center + 0.5) * ss);
                ww += w[x];
            }
            for (int x = 0; x < ksize; x++) {
                double v = x < xmax ? (ww != 0.0 ? w[x] / ww : w[x]) : 0.0;
                kk[xx * ksize + x] = v < 0 ? (int) (-0.5 + v * (1 << PRECISION_BITS))
                        : (int) (0.5 + v * (1 << PRECISION_BITS));
            }
            bounds[2 * xx] = xmin;
            bounds[2 * xx + 1] = xmax;
        }
        return new Coeffs(ksize, bounds, kk);
    }

    private static byte clip8(long ss) {
        long v = ss >> PRECISION_BITS;
        return (byte) (v < 0 ? 0 : (v > 255 ? 255 : v));
    }

    /** Resizes an RGB image to {@code outW x outH} like {@code PIL.Image.resize((outW, outH), filter)}. */
    public static RgbImage resize(RgbImage in, int outW, int outH, Filter filter) {
        if (outW <= 0 || outH <= 0) {
            throw new InvalidInputException("resize target " + outW + "x" + outH + " must be positive");
        }
        int inW = in.width();
        int inH = in.height();
        if (outW == inW && outH == inH) {
            return in;
        }
        Coeffs horiz = coefficients(inW, 0, inW, outW, filter);
        Coeffs vert = coefficients(inH, 0, inH, outH, filter);
        boolean needH = outW != inW;
        boolean needV = outH != inH;
        byte[] src = in.rgb();
        int rowFirst = vert.bounds()[0];
        int rowLast = vert.bounds()[outH * 2 - 2] + vert.bounds()[outH * 2 - 1];
        byte[] tmp;
        int tmpW;
        int tmpH;
        int rowShift;
        if (needH) {
            tmpW = outW;
            tmpH = needV ? rowLast - rowFirst : inH;
            int y0 = needV ? rowFirst : 0;
            rowShift = needV ? rowFirst : 0;
            tmp = new byte[tmpW * tmpH * 3];
            int ks = horiz.ksize();
            for (int y = 0; y < tmpH; y++) {
                int srcRow = (y + y0) * inW * 3;
                for (int xx = 0; xx < outW; xx++) {
                    int xmin = horiz.bounds()[2 * xx];
                    int xmax = horiz.bounds()[2 * xx + 1];
                    int kb = xx * ks;
                    long s0 = 1L << (PRECISION_BITS - 1);
                    long s1 = s0;
                    long s2 = s0;
                    for (int x = 0; x < xmax; x++) {
                        int p = srcRow + (x + xmin) * 3;
                        int k = horiz.k()[kb + x];
                        s0 += (src[p] & 0xFF) * (long) k;
                        s1 += (src[p + 1] & 0xFF) * (long) k;
                        s2 += (src[p + 2] & 0xFF) * (long) k;
                    }
                    int o = (y * tmpW + xx) * 3;
                    tmp[o] = clip8(s0);
                    tmp[o + 1] = clip8(s1);
                    tmp[o + 2] = clip8(s2);
                }
            }
        } else {
            tmp = src;
            tmpW = inW;
            tmpH = inH;
            rowShift = 0;
        }
        if (!needV) {
            return new RgbImage(tmpW, tmpH, tmp);
        }
        byte[] out = new byte[outW * outH * 3];
        int ks = vert.ksize();
        for (int yy = 0; yy < outH; yy++) {
            int ymin = vert.bounds()[2 * yy] - rowShift;
            int ymax = vert.bounds()[2 * yy + 1];
            int kb = yy * ks;
            for (int xx = 0; xx < tmpW; xx++) {
                long s0 = 1L << (PRECISION_BITS - 1);
                long s1 = s0;
                long s2 = s0;
                for (int y = 0; y < ymax; y++) {
                    int p = ((y + ymin) * tmpW + xx) * 3;
                    int k = vert.k()[kb + y];
                    s0 += (tmp[p] & 0xFF) * (long) k;
                    s1 += (tmp[p + 1] & 0xFF) * (long) k;
                    s2 += (tmp[p + 2] & 0xFF) * (long) k;
                }
                int o = (yy * tmpW + xx) * 3;
                out[o] = clip8(s0);
                out[o + 1] = clip8(s1);
                out[o + 2] = clip8(s2);
            }
        }
        return new RgbImage(outW, outH, out);
    }
}
