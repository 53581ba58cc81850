package dev.nextgpt.runtime.media;

import dev.nextgpt.runtime.io.SafetensorsFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;

import java.util.Arrays;

import static dev.nextgpt.runtime.media.MediaFixtures.maxAbs;
import static dev.nextgpt.runtime.media.MediaFixtures.meanAbs;
import static dev.nextgpt.runtime.media.MediaFixtures.resource;
import static org.junit.jupiter.api.Assertions.*;

class ImagePreprocessorTest {

    @Test
    void decodedBirdMatchesLibjpegTurboChecksums() throws Exception {
        RgbImage img = RgbImage.read(resource("golden/imagebind/media/bird_image.jpg"));
        assertEquals(640, img.width());
        assertEquals(855, img.height());
        long[] sums = new long[3];
        for (int i = 0; i < img.rgb().length; i++) {
            sums[i % 3] += img.rgb()[i] & 0xFF;
        }
        String sha = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(img.rgb()));
        assertArrayEquals(new long[] {76436012, 84360336, 80324518}, sums);
        assertEquals("b6d22431640bc5f328aac7e5783f31f0bd7807a22e81e93c1215c3e2f735719b", sha);
    }

    @Test
    void birdImageMatchesImageBindGolden() {
        float[] mine = new ImagePreprocessor().process(resource("golden/imagebind/media/bird_image.jpg"));
        float[] expected;
        try (SafetensorsFile f = SafetensorsFile.open(resource("golden/imagebind/preprocess/image_bird.safetensors"))) {
            expected = f.readFloats("pixel_values");
        }
        double max = maxAbs(mine, expected);
        double mean = meanAbs(mine, expected);
        System.out.println("image_bird max abs " + max + " mean abs " + mean);
        // decoder + Pillow resample are reproduced exactly: README tolerance for an exact port is 1e-6
        assertTrue(max <= 1e-6, "max abs " + max);
    }

    @Test
    void projectorFixtureVisionInputs() {
        String[] files = {"golden/imagebind/media/bird_image.jpg", "data/nextgpt-samples/T_X_pair_data/cc3m/images/001312382.jpg"};
        float[] expected;
        try (SafetensorsFile f = SafetensorsFile.open(
                resource("golden/nextgpt-projectors/extra_imagebind_preprocessing/imagebind_vision_inputs.safetensors"))) {
            expected = f.readFloats("pixel_values");
        }
        int per = 3 * 224 * 224;
        for (int i = 0; i < files.length; i++) {
            float[] mine = new ImagePreprocessor().process(resource(files[i]));
            float[] exp = Arrays.copyOfRange(expected, i * per, (i + 1) * per);
            double max = maxAbs(mine, exp);
            System.out.println("extra vision " + files[i] + " max abs " + max + " mean abs " + meanAbs(mine, exp));
            assertTrue(max <= 1e-4, files[i] + " max abs " + max);
        }
    }

    private static BufferedImage pattern(int type, int w, int h) {
        BufferedImage img = new BufferedImage(w, h, type);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int a = (x * 7 + y * 3) & 0xFF;
                img.setRGB(x, y, (a << 24) | ((x * 5 & 0xFF) << 16) | ((y * 9 & 0xFF) << 8) | ((x + y) & 0xFF));
            }
        }
        return img;
    }

    @Test
    void alphaIsDroppedNotComposited(@TempDir Path dir) throws Exception {
        BufferedImage argb = pattern(BufferedImage.TYPE_INT_ARGB, 40, 30);
        Path png = dir.resolve("a.png");
        ImageIO.write(argb, "png", png.toFile());
        RgbImage rgb = RgbImage.read(png);
        for (int y = 0; y < 30; y++) {
            for (int x = 0; x < 40; x++) {
                int p = argb.getRGB(x, y);
                assertEquals((p >> 16) & 0xFF, rgb.get(x, y, 0));
                assertEquals((p >> 8) & 0xFF, rgb.get(x, y, 1));
                assertEquals(p & 0xFF, rgb.get(x, y, 2));
            }
        }
        assertArrayEquals(rgb.rgb(), RgbImage.fromBufferedImage(argb).rgb());
    }

    @Test
    void grayPngBmpAndGifDecode(@TempDir Path dir) throws Exception {
        BufferedImage gray = new BufferedImage(20, 10, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < 10; y++) {
            for (int x = 0; x < 20; x++) {
                gray.getRaster().setSample(x, y, 0, x * 12 + y);
            }
        }
        Path g = dir.resolve("g.png");
        ImageIO.write(gray, "png", g.toFile());
        RgbImage rg = RgbImage.read(g);
        assertEquals(5 * 12 + 3, rg.get(5, 3, 0));
        assertEquals(5 * 12 + 3, rg.get(5, 3, 1));
        assertEquals(5 * 12 + 3, rg.get(5, 3, 2));

        BufferedImage rgb = pattern(BufferedImage.TYPE_INT_RGB, 17, 9);
        Path bmp = dir.resolve("p.bmp");
        ImageIO.write(rgb, "bmp", bmp.toFile());
        assertArrayEquals(RgbImage.fromBufferedImage(rgb).rgb(), RgbImage.read(bmp).rgb());

        BufferedImage indexed = new BufferedImage(16, 16, BufferedImage.TYPE_BYTE_INDEXED);
        indexed.getGraphics().drawImage(rgb, 0, 0, null);
        Path gif = dir.resolve("p.gif");
        ImageIO.write(indexed, "gif", gif.toFile());
        RgbImage gi = RgbImage.read(gif);
        assertEquals(16, gi.width());
        assertArrayEquals(RgbImage.fromBufferedImage(indexed).rgb(), gi.rgb());
        float[] t = new ImagePreprocessor().process(gif);
        assertEquals(3 * 224 * 224, t.length);
    }

    @Test
    void truncatedAndBogusFilesAreTypedErrors(@TempDir Path dir) throws Exception {
        byte[] jpg = Files.readAllBytes(resource("golden/imagebind/media/bird_image.jpg"));
        Path cut = dir.resolve("cut.jpg");
        Files.write(cut, Arrays.copyOf(jpg, jpg.length / 2));
        MediaDecodeException e = assertThrows(MediaDecodeException.class, () -> new ImagePreprocessor().process(cut));
        assertTrue(e.getMessage().contains(cut.toString()), e.getMessage());
        Path txt = dir.resolve("x.jpg");
        Files.writeString(txt, "not an image");
        assertThrows(MediaDecodeException.class, () -> RgbImage.read(txt));
        assertThrows(MediaDecodeException.class, () -> RgbImage.read(dir.resolve("missing.png")));
    }

    @Test
    void padToSquareUsesClipMeanColour() {
        byte[] px = new byte[4 * 2 * 3];
        Arrays.fill(px, (byte) 200);
        RgbImage sq = new RgbImage(4, 2, px).padToSquare(ImagePreprocessor.PAD_COLOR);
        assertEquals(4, sq.height());
        assertEquals(122, sq.get(0, 0, 0));
        assertEquals(116, sq.get(3, 0, 1));
        assertEquals(200, sq.get(0, 1, 2));
        assertEquals(200, sq.get(3, 2, 0));
        assertEquals(104, sq.get(2, 3, 2));
        // 'pad' then resize of a 640x855 image gives a 224x224 resize without crop
        float[] padded = new ImagePreprocessor(224, true).process(resource("golden/imagebind/media/bird_image.jpg"));
        assertEquals(3 * 224 * 224, padded.length);
        float padNorm = (122 / 255f - ImagePreprocessor.CLIP_MEAN[0]) / ImagePreprocessor.CLIP_STD[0];
        assertEquals(padNorm, padded[112 * 224], 1e-6f); // left border column is pad colour
    }

    @Test
    void pillowResampleKeepsConstantImagesAndCentreCropRounding() {
        byte[] px = new byte[50 * 31 * 3];
        Arrays.fill(px, (byte) 77);
        RgbImage r = PillowResample.resize(new RgbImage(50, 31, px), 13, 80, PillowResample.Filter.BICUBIC);
        for (byte b : r.rgb()) {
            assertEquals(77, b & 0xFF);
        }
        // (299-224)/2 = 37.5 rounds to 38; (297-224)/2=36.5 rounds to 36
        byte[] rows = new byte[1 * 297 * 3];
        for (int y = 0; y < 297; y++) {
            rows[3 * y] = (byte) y;
        }
        assertEquals(36, ImagePreprocessor.centerCrop(new RgbImage(1, 297, rows), 1, 224).get(0, 0, 0));
    }
}
