package dev.nextgpt;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImagePartTest {
    @TempDir
    Path dir;

    static BufferedImage randomImage(int w, int h, int type, long seed) {
        BufferedImage img = new BufferedImage(w, h, type);
        Random r = new Random(seed);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int a = type == BufferedImage.TYPE_INT_ARGB ? r.nextInt(256) : 255;
                img.setRGB(x, y, a << 24 | r.nextInt(1 << 24));
            }
        }
        return img;
    }

    static byte[] encode(BufferedImage img, String format) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertTrue(ImageIO.write(img, format, out), "writer for " + format);
        return out.toByteArray();
    }

    @Test
    void pngRoundTripKeepsPixelsOpaque() {
        BufferedImage img = randomImage(17, 9, BufferedImage.TYPE_INT_RGB, 1);
        ImagePart part = ImagePart.fromImage(img);
        assertEquals(17, part.width());
        assertEquals(9, part.height());
        assertFalse(part.hasAlpha());
        ImagePart back = ImagePart.fromBytes(part.toPngBytes());
        assertTrue(part.hasSamePixels(back));
        assertArrayEquals(img.getRGB(0, 0, 17, 9, null, 0, 17), back.argb());
        assertEquals(img.getRGB(16, 8), back.pixel(16, 8));
    }

    @Test
    void pngRoundTripKeepsAlpha() {
        ImagePart part = ImagePart.fromImage(randomImage(5, 7, BufferedImage.TYPE_INT_ARGB, 2));
        assertTrue(part.hasAlpha());
        ImagePart back = ImagePart.fromBytes(part.toPngBytes());
        assertArrayEquals(part.argb(), back.argb());
        assertEquals(BufferedImage.TYPE_INT_ARGB, back.toBufferedImage().getType());
    }

    @Test
    void readsJpegBmpGifFilesAndKeepsTheSource() throws IOException {
        BufferedImage img = randomImage(8, 6, BufferedImage.TYPE_INT_RGB, 3);
        for (String fmt : new String[] {"jpg", "bmp", "gif", "png"}) {
            Path f = dir.resolve("in." + fmt);
            byte[] bytes = encode(img, fmt);
            Files.write(f, bytes);
            ImagePart part = ImagePart.fromFile(f);
            assertEquals(8, part.width(), fmt);
            assertEquals(6, part.height(), fmt);
            assertEquals(f, part.source().path(), fmt);
            assertArrayEquals(bytes, part.source().bytes(), fmt);
            if (fmt.equals("bmp") || fmt.equals("png")) {
                assertArrayEquals(img.getRGB(0, 0, 8, 6, null, 0, 8), part.argb(), fmt + " is lossless");
            }
        }
    }

    @Test
    void rgbBytesRoundTrip() {
        byte[] rgb = {(byte) 255, 0, 0, 0, (byte) 128, 1, 10, 20, 30, 0, 0, (byte) 200};
        ImagePart p = ImagePart.ofRgbBytes(2, 2, rgb);
        assertEquals(0xFFFF0000, p.pixel(0, 0));
        assertEquals(0xFF008001, p.pixel(1, 0));
        assertArrayEquals(rgb, p.toRgbBytes());
        assertThrows(InvalidInputException.class, () -> ImagePart.ofRgbBytes(2, 2, new byte[11]));
    }

    @Test
    void pixelsAreImmutableCopies() {
        int[] px = {1, 2, 3, 4};
        ImagePart p = ImagePart.ofArgb(2, 2, px);
        px[0] = 99;
        assertEquals(1, p.argb()[0]);
        p.argb()[1] = 99;
        assertEquals(2, p.pixel(1, 0));
        assertEquals(ImagePart.ofArgb(2, 2, new int[] {1, 2, 3, 4}), p);
        assertNotEquals(ImagePart.ofArgb(2, 2, new int[] {1, 2, 3, 5}), p);
    }

    @Test
    void badInputsNameWhatWasWrong() {
        Path missing = dir.resolve("nope.png");
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> ImagePart.fromFile(missing));
        assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
        e = assertThrows(InvalidInputException.class, () -> ImagePart.fromBytes(new byte[] {1, 2, 3}));
        assertTrue(e.getMessage().contains("not a supported image"), e.getMessage());
        e = assertThrows(InvalidInputException.class, () -> ImagePart.ofArgb(3, 2, new int[5]));
        assertTrue(e.getMessage().contains("3x2"), e.getMessage());
        assertThrows(InvalidInputException.class, () -> ImagePart.ofArgb(0, 0, new int[0]));
    }

    @Test
    void writePngIsAtomicAndReadable() throws IOException {
        ImagePart part = ImagePart.fromImage(randomImage(4, 4, BufferedImage.TYPE_INT_RGB, 4));
        Path out = dir.resolve("sub/out.png");
        part.writePng(out);
        part.writePng(out); // overwrite works
        assertTrue(part.hasSamePixels(ImagePart.fromFile(out)));
        try (Stream<Path> files = Files.list(out.getParent())) {
            assertEquals(1, files.count(), "no temporary file is left behind");
        }
    }
}
