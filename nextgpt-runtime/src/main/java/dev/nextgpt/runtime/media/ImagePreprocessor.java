package dev.nextgpt.runtime.media;

import java.awt.image.BufferedImage;
import java.nio.file.Path;

/**
 * ImageBind's {@code load_and_transform_vision_data} / NExT-GPT's {@code ImageProcessor}: RGB conversion,
 * optional pad-to-square with the CLIP mean colour (NExT-GPT's {@code image_aspect_ratio == 'pad'}),
 * {@code Resize(size, BICUBIC)} on the PIL image (short side to {@code size}, long side
 * {@code int(size·long/short)}, {@link PillowResample}), {@code CenterCrop(size)} (offsets rounded half-to-even,
 * zero padding when the image is smaller), {@code ToTensor} and CLIP mean/std normalisation in float32.
 * Output {@code [3, size, size]} (CHW, row-major).
 */
public final class ImagePreprocessor {
    /** CLIP normalisation constants. */
    public static final float[] CLIP_MEAN = {0.48145466f, 0.4578275f, 0.40821073f};
    public static final float[] CLIP_STD = {0.26862954f, 0.26130258f, 0.27577711f};
    /** {@code tuple(int(x*255) for x in CLIP_MEAN)}: NExT-GPT's pad colour. */
    public static final int[] PAD_COLOR = {122, 116, 104};

    private final int size;
    private final boolean padToSquare;

    /** ImageBind's settings: 224, no padding. */
    public ImagePreprocessor() {
        this(224, false);
    }

    public ImagePreprocessor(int size, boolean padToSquare) {
        this.size = size;
        this.padToSquare = padToSquare;
    }

    public int size() {
        return size;
    }

    public float[] process(Path file) {
        return process(RgbImage.read(file));
    }

    public float[] process(BufferedImage image) {
        return process(RgbImage.fromBufferedImage(image));
    }

    /** The normalised {@code [3, size, size]} tensor. */
    public float[] process(RgbImage image) {
        RgbImage img = padToSquare ? image.padToSquare(PAD_COLOR) : image;
        img = resizeShortSide(img, size);
        img = centerCrop(img, size, size);
        return toNormalizedChw(img, CLIP_MEAN, CLIP_STD);
    }

    /** torchvision {@code Resize(size)} on a PIL image with BICUBIC. */
    public static RgbImage resizeShortSide(RgbImage img, int size) {
        int w = img.width();
        int h = img.height();
        int shortSide = Math.min(w, h);
        int longSide = Math.max(w, h);
        if (shortSide == size) {
            return img;
        }
        int newLong = (int) ((double) size * longSide / shortSide);
        int ow = w <= h ? size : newLong;
        int oh = w <= h ? newLong : size;
        return PillowResample.resize(img, ow, oh, PillowResample.Filter.BICUBIC);
    }

    /** torchvision {@code CenterCrop}: zero-pads when smaller, offsets {@code int(round((H−h)/2))}. */
    public static RgbImage centerCrop(RgbImage img, int cw, int ch) {
        int w = img.width();
        int h = img.height();
        if (cw > w || ch > h) {
            int left = cw > w ? (cw - w) / 2 : 0;
            int top = ch > h ? (ch - h) / 2 : 0;
            int right = cw > w ? (cw - w + 1) / 2 : 0;
            int bottom = ch > h ? (ch - h + 1) / 2 : 0;
            int nw = w + left + right;
            int nh = h + top + bottom;
            byte[] out = new byte[nw * nh * 3];
            for (int y = 0; y < h; y++) {
                System.arraycopy(img.rgb(), y * w * 3, out, ((y + top) * nw + left) * 3, w * 3);
            }
            img = new RgbImage(nw, nh, out);
            w = nw;
            h = nh;
            if (w == cw && h == ch) {
                return img;
            }
        }
        int top = (int) Math.rint((h - ch) / 2.0);
        int left = (int) Math.rint((w - cw) / 2.0);
        byte[] out = new byte[cw * ch * 3];
        for (int y = 0; y < ch; y++) {
            System.arraycopy(img.rgb(), ((y + top) * w + left) * 3, out, y * cw * 3, cw * 3);
        }
        return new RgbImage(cw, ch, out);
    }

    /** {@code ToTensor} then {@code Normalize(mean, std)}, float32 arithmetic as torch does. */
    public static float[] toNormalizedChw(RgbImage img, float[] mean, float[] std) {
        int n = img.width() * img.height();
        float[] out = new float[3 * n];
        byte[] rgb = img.rgb();
        for (int c = 0; c < 3; c++) {
            for (int i = 0; i < n; i++) {
                float v = (rgb[3 * i + c] & 0xFF) / 255f;
                out[c * n + i] = (v - mean[c]) / std[c];
            }
        }
        return out;
    }
}
