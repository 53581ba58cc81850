package dev.nextgpt;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Objects;
import javax.imageio.ImageIO;

/**
 * An immutable still image, stored as packed {@code 0xAARRGGBB} pixels in row-major order. Created from a file or
 * bytes it keeps the original encoding in {@link #source()} (the runtime's ImageBind preprocessing decodes the
 * original file the way the reference code does).
 *
 * <p>Equality compares size, pixels and source; use {@link #hasSamePixels(ImagePart)} to ignore the source.
 *
 * @param width  width in pixels ({@code >= 1})
 * @param height height in pixels ({@code >= 1})
 * @param argb   {@code width*height} packed ARGB pixels (copied in and out)
 * @param source the original file/bytes, never null ({@link MediaSource#NONE} when built in memory)
 */
public record ImagePart(int width, int height, int[] argb, MediaSource source) implements Part {

    /** Validates the size and copies the pixels. */
    public ImagePart {
        if (width < 1 || height < 1) {
            throw new InvalidInputException("ImagePart size must be at least 1x1, got " + width + "x" + height);
        }
        Checks.notNull("ImagePart.argb", argb);
        if ((long) width * height != argb.length) {
            throw new InvalidInputException("ImagePart.argb has " + argb.length + " pixels but " + width + "x"
                    + height + " needs " + (long) width * height);
        }
        argb = argb.clone();
        source = source == null ? MediaSource.NONE : source;
    }

    /**
     * Reads a JPEG, PNG, BMP or GIF (first frame) file with {@link ImageIO}, keeping the path and bytes.
     *
     * @throws InvalidInputException if the file is missing, unreadable or not a supported image
     */
    public static ImagePart fromFile(Path path) {
        byte[] bytes = MediaIo.readAll(path, "image");
        return decode(bytes, MediaSource.of(path, bytes), path.toString());
    }

    /** Decodes encoded image bytes (JPEG, PNG, BMP, GIF first frame), keeping them as the source. */
    public static ImagePart fromBytes(byte[] encoded) {
        Checks.notNull("image bytes", encoded);
        return decode(encoded, MediaSource.of(null, encoded), "image bytes (" + encoded.length + " bytes)");
    }

    /** Copies the pixels of a {@link BufferedImage} (any type; converted to ARGB). */
    public static ImagePart fromImage(BufferedImage image) {
        Checks.notNull("image", image);
        int w = image.getWidth();
        int h = image.getHeight();
        return new ImagePart(w, h, image.getRGB(0, 0, w, h, null, 0, w), MediaSource.NONE);
    }

    /** Wraps packed ARGB pixels (copied), row-major. */
    public static ImagePart ofArgb(int width, int height, int[] argb) {
        return new ImagePart(width, height, argb, MediaSource.NONE);
    }

    /**
     * Builds an image from 8-bit interleaved RGB bytes, row-major ({@code width*height*3} values), as the
     * diffusion decoders produce them.
     */
    public static ImagePart ofRgbBytes(int width, int height, byte[] rgb) {
        Checks.notNull("rgb", rgb);
        if ((long) width * height * 3 != rgb.length) {
            throw new InvalidInputException("rgb has " + rgb.length + " bytes but " + width + "x" + height
                    + "x3 needs " + (long) width * height * 3);
        }
        int[] px = new int[width * height];
        for (int i = 0; i < px.length; i++) {
            px[i] = 0xFF000000 | (rgb[3 * i] & 0xFF) << 16 | (rgb[3 * i + 1] & 0xFF) << 8 | (rgb[3 * i + 2] & 0xFF);
        }
        return new ImagePart(width, height, px, MediaSource.NONE);
    }

    private static ImagePart decode(byte[] bytes, MediaSource source, String what) {
        BufferedImage img;
        try {
            img = ImageIO.read(new ByteArrayInputStream(bytes));
        } catch (IOException | RuntimeException e) {
            throw new InvalidInputException("cannot decode image " + what + ": " + e.getMessage(), e);
        }
        if (img == null) {
            throw new InvalidInputException("not a supported image (JPEG, PNG, BMP, GIF): " + what);
        }
        int w = img.getWidth();
        int h = img.getHeight();
        return new ImagePart(w, h, img.getRGB(0, 0, w, h, null, 0, w), source);
    }

    /** Always {@link Modality#IMAGE}. */
    @Override
    public Modality modality() {
        return Modality.IMAGE;
    }

    /** A copy of the packed ARGB pixels. */
    @Override
    public int[] argb() {
        return argb.clone();
    }

    /** The ARGB value at {@code (x, y)}. */
    public int pixel(int x, int y) {
        Objects.checkIndex(x, width);
        Objects.checkIndex(y, height);
        return argb[y * width + x];
    }

    /** Whether any pixel is not fully opaque. */
    public boolean hasAlpha() {
        for (int p : argb) {
            if ((p >>> 24) != 0xFF) {
                return true;
            }
        }
        return false;
    }

    /** Interleaved 8-bit RGB bytes, row-major (alpha dropped). */
    public byte[] toRgbBytes() {
        byte[] out = new byte[argb.length * 3];
        for (int i = 0; i < argb.length; i++) {
            out[3 * i] = (byte) (argb[i] >> 16);
            out[3 * i + 1] = (byte) (argb[i] >> 8);
            out[3 * i + 2] = (byte) argb[i];
        }
        return out;
    }

    /** A new {@link BufferedImage} ({@code TYPE_INT_ARGB} if any pixel is translucent, else {@code TYPE_INT_RGB}). */
    public BufferedImage toBufferedImage() {
        BufferedImage img = new BufferedImage(width, height,
                hasAlpha() ? BufferedImage.TYPE_INT_ARGB : BufferedImage.TYPE_INT_RGB);
        img.setRGB(0, 0, width, height, argb, 0, width);
        return img;
    }

    /** PNG-encodes the pixels (lossless). */
    public byte[] toPngBytes() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            if (!ImageIO.write(toBufferedImage(), "png", out)) {
                throw new RuntimeFailureException("no PNG writer available in javax.imageio");
            }
        } catch (IOException e) {
            throw new RuntimeFailureException("PNG encoding failed: " + e.getMessage(), e);
        }
        return out.toByteArray();
    }

    /** Writes a PNG file through a temporary file and an atomic move; parent folders are created. */
    public void writePng(Path path) {
        MediaIo.writeAtomically(path, toPngBytes());
    }

    /** Whether {@code other} has the same size and pixels (the source is ignored). */
    public boolean hasSamePixels(ImagePart other) {
        return other != null && width == other.width && height == other.height && Arrays.equals(argb, other.argb);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ImagePart p && hasSamePixels(p) && source.equals(p.source);
    }

    @Override
    public int hashCode() {
        return (31 * (31 * width + height) + Arrays.hashCode(argb)) * 31 + source.hashCode();
    }

    @Override
    public String toString() {
        return "ImagePart[" + width + "x" + height + ", source=" + source + "]";
    }
}
