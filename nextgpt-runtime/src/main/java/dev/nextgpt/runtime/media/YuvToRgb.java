package dev.nextgpt.runtime.media;

/**
 * BT.601 limited-range Y'CbCr → 8-bit RGB as libswscale's x86 SIMD {@code yuv420p → rgb24} converter computes it
 * (the default unscaled path behind PyAV's {@code frame.to_rgb()} and FFmpeg's CLI on x86-64): samples are scaled
 * by 8, offsets removed ({@code Y−16}, {@code C−128}), each term is a 16-bit high multiply (floor of
 * {@code x·coeff/65536}) with the 13-bit coefficients 9539 (luma 1.164), 13075 (Cr→R 1.596), −3209 (Cb→G 0.392),
 * −6660 (Cr→G 0.813) and 16525 (Cb→B 2.017), and the sum saturates to 0..255. With JCodec's bit-exact H.264
 * output this reproduces the golden frames (max 1.4e-5 after normalisation). libswscale's portable C table path
 * differs by up to about one level.
 */
final class YuvToRgb {
    private static final int Y_COEFF = 9539;
    private static final int V2R = 13075;
    private static final int U2G = -3209;
    private static final int V2G = -6660;
    private static final int U2B = 16525;

    private YuvToRgb() {
    }

    private static byte clip(int x) {
        return (byte) (x < 0 ? 0 : (x > 255 ? 255 : x));
    }

    static void convert(int y, int u, int v, byte[] out, int o) {
        int yy = ((y - 16) * 8 * Y_COEFF) >> 16;
        int du = (u - 128) * 8;
        int dv = (v - 128) * 8;
        out[o] = clip(yy + ((dv * V2R) >> 16));
        out[o + 1] = clip(yy + ((du * U2G) >> 16) + ((dv * V2G) >> 16));
        out[o + 2] = clip(yy + ((du * U2B) >> 16));
    }
}
