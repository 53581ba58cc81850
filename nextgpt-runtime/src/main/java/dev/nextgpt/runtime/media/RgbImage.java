package dev.nextgpt.runtime.media;

import dev.nextgpt.InvalidInputException;

import javax.imageio.IIOException;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.event.IIOReadWarningListener;
import javax.imageio.stream.ImageInputStream;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.ComponentColorModel;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * An 8-bit RGB image, row-major interleaved ({@code rgb[(y·width + x)·3 + c]}), i.e. what PIL's
 * {@code Image.open(f).convert("RGB")} holds. Conversion follows PIL: alpha is dropped (not composited),
 * grayscale is replicated to three channels, palette images use their palette colours, 16-bit samples keep their
 * high byte. Decoding uses the JDK's ImageIO readers (JPEG baseline/progressive, PNG, BMP, GIF first frame);
 * a truncated or corrupt file and CMYK/YCCK JPEGs (which ImageIO cannot read) give a {@link MediaDecodeException}
 * naming the file.
 */
public record RgbImage(int width, int height, byte[] rgb) {

    public RgbImage {
        if (width <= 0 || height <= 0 || rgb.length != width * height * 3) {
            throw new InvalidInputException("RGB image " + width + "x" + height + " needs " + (3L * width * height)
                    + " bytes, got " + rgb.length);
        }
    }

    public int get(int x, int y, int c) {
        return rgb[(y * width + x) * 3 + c] & 0xFF;
    }

    /** Decodes an image file (first frame for GIF) and converts it to RGB like PIL's {@code convert("RGB")}. */
    public static RgbImage read(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new MediaDecodeException(file, "image file does not exist");
        }
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            if (in == null) {
                throw new MediaDecodeException(file, "cannot open image file");
            }
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) {
                throw new MediaDecodeException(file, "unsupported image format (supported: JPEG, PNG, BMP, GIF)");
            }
            ImageReader reader = readers.next();
            List<String> warnings = new ArrayList<>();
            try {
                reader.setInput(in, true, true);
                reader.addIIOReadWarningListener(new IIOReadWarningListener() {
                    @Override
                    public void warningOccurred(ImageReader source, String warning) {
                        warnings.add(warning);
                    }
                });
                BufferedImage img = reader.read(0);
                if (!warnings.isEmpty()) {
                    throw new MediaDecodeException(file, "image file is truncated or corrupt ("
                            + reader.getFormatName() + " decoder: " + String.join("; ", warnings) + ")");
                }
                return fromBufferedImage(img, file);
            } finally {
                reader.dispose();
            }
        } catch (MediaDecodeException e) {
            throw e;
        } catch (IIOException e) {
            String msg = String.valueOf(e.getMessage());
            if (msg.contains("Unsupported Image Type") || msg.contains("Unsupported color conversion")) {
                throw new MediaDecodeException(file, "unsupported JPEG colour space (CMYK/YCCK JPEGs are not"
                        + " supported; convert the image to RGB first): " + msg, e);
            }
            throw new MediaDecodeException(file, "cannot decode image: " + msg, e);
        } catch (IOException | RuntimeException e) {
            throw new MediaDecodeException(file, "cannot decode image: " + e, e);
        }
    }

    /** Converts a {@link BufferedImage} like PIL's {@code convert("RGB")} (alpha dropped, gray replicated). */
    public static RgbImage fromBufferedImage(BufferedImage img) {
        return fromBufferedImage(img, null);
    }

    static RgbImage fromBufferedImage(BufferedImage img, Path source) {
        if (img == null) {
            throw new MediaDecodeException(source, "image decoder returned no image");
        }
        int w = img.getWidth();
        int h = img.getHeight();
        byte[] out = new byte[w * h * 3];
        ColorModel cm = img.getColorModel();
        Raster r = img.getRaster();
        int bands = r.getNumBands();
        int type = cm.getColorSpace().getType();
        if (cm instanceof IndexColorModel icm) {
            int[] px = new int[1];
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    r.getPixel(x, y, px);
                    int i = (y * w + x) * 3;
                    out[i] = (byte) icm.getRed(px[0]);
                    out[i + 1] = (byte) icm.getGreen(px[0]);
                    out[i + 2] = (byte) icm.getBlue(px[0]);
                }
            }
        } else if (cm instanceof ComponentColorModel && type == java.awt.color.ColorSpace.TYPE_GRAY) {
            int shift = Math.max(cm.getComponentSize(0) - 8, 0);
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    byte v = (byte) (r.getSample(x, y, 0) >> shift);
                    int i = (y * w + x) * 3;
                    out[i] = v;
                    out[i + 1] = v;
                    out[i + 2] = v;
                }
            }
        } else if (type == java.awt.color.ColorSpace.TYPE_RGB && bands >= 3 && !cm.isAlphaPremultiplied()) {
            for (int c = 0; c < 3; c++) {
                int shift = Math.max(cm.getComponentSize(c) - 8, 0);
                for (int y = 0; y < h; y++) {
                    for (int x = 0; x < w; x++) {
                        out[(y * w + x) * 3 + c] = (byte) (r.getSample(x, y, c) >> shift);
                    }
                }
            }
        } else if (type == java.awt.color.ColorSpace.TYPE_CMYK) {
            throw new MediaDecodeException(source, "CMYK images are not supported; convert the image to RGB first");
        } else {
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int argb = img.getRGB(x, y);
                    int i = (y * w + x) * 3;
                    out[i] = (byte) (argb >> 16);
                    out[i + 1] = (byte) (argb >> 8);
                    out[i + 2] = (byte) argb;
                }
            }
        }
        return new RgbImage(w, h, out);
    }

    /** NExT-GPT's {@code expand2square}: centre on a square canvas of {@code background} (r, g, b). */
    public RgbImage padToSquare(int[] background) {
        if (width == height) {
            return this;
        }
        int s = Math.max(width, height);
        byte[] out = new byte[s * s * 3];
        for (int i = 0; i < s * s; i++) {
            out[3 * i] = (byte) background[0];
            out[3 * i + 1] = (byte) background[1];
            out[3 * i + 2] = (byte) background[2];
        }
        int ox = width > height ? 0 : (height - width) / 2;
        int oy = width > height ? (width - height) / 2 : 0;
        for (int y = 0; y < height; y++) {
            System.arraycopy(rgb, y * width * 3, out, ((y + oy) * s + ox) * 3, width * 3);
        }
        return new RgbImage(s, s, out);
    }
}
