package dev.nextgpt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Node;

class VideoPartTest {
    @TempDir
    Path dir;

    static List<ImagePart> solidFrames(int n, int w, int h) {
        List<ImagePart> frames = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int[] px = new int[w * h];
            // distinct pure colours survive GIF palette quantisation exactly
            int colour = i % 3 == 0 ? 0xFFFF0000 : i % 3 == 1 ? 0xFF00FF00 : 0xFF0000FF;
            java.util.Arrays.fill(px, colour);
            px[0] = 0xFFFFFFFF;
            frames.add(ImagePart.ofArgb(w, h, px));
        }
        return frames;
    }

    @Test
    void gifWithNFramesReadsBackNFrames() throws IOException {
        VideoPart v = VideoPart.ofFrames(solidFrames(5, 12, 8), 8);
        assertEquals(13, v.gifDelayCentiseconds());
        Path out = dir.resolve("v/clip.gif");
        v.writeGif(out);

        ImageReader reader = ImageIO.getImageReadersByFormatName("gif").next();
        try (ImageInputStream in = ImageIO.createImageInputStream(out.toFile())) {
            reader.setInput(in);
            assertEquals(5, reader.getNumImages(true));
            IIOMetadata meta = reader.getImageMetadata(2);
            IIOMetadataNode root = (IIOMetadataNode) meta.getAsTree("javax_imageio_gif_image_1.0");
            assertEquals("13", find(root, "GraphicControlExtension").getAttribute("delayTime"));
            assertEquals("NETSCAPE", find(root, "ApplicationExtension").getAttribute("applicationID"));
        } finally {
            reader.dispose();
        }

        VideoPart back = VideoPart.readGif(out);
        assertEquals(5, back.frameCount());
        assertEquals(100.0 / 13, back.fps(), 1e-9);
        for (int i = 0; i < 5; i++) {
            assertTrue(v.frames().get(i).hasSamePixels(back.frames().get(i)), "frame " + i);
        }
        assertEquals(out, back.source().path());
    }

    private static IIOMetadataNode find(IIOMetadataNode node, String name) {
        if (node.getNodeName().equals(name)) {
            return node;
        }
        for (Node c = node.getFirstChild(); c != null; c = c.getNextSibling()) {
            IIOMetadataNode f = find((IIOMetadataNode) c, name);
            if (f != null) {
                return f;
            }
        }
        return null;
    }

    @Test
    void fromFileKeepsOnlyThePath() throws IOException {
        Path mp4 = dir.resolve("clip.mp4");
        Files.write(mp4, new byte[] {0, 0, 0, 24});
        VideoPart v = VideoPart.fromFile(mp4);
        assertFalse(v.isDecoded());
        assertEquals(mp4, v.source().path());
        assertEquals(null, v.source().bytes());
        assertEquals(0.0, v.fps());
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> v.writeGif(dir.resolve("x.gif")));
        assertTrue(e.getMessage().contains(mp4.toString()), e.getMessage());
        Path missing = dir.resolve("missing.mp4");
        e = assertThrows(InvalidInputException.class, () -> VideoPart.fromFile(missing));
        assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
    }

    @Test
    void framesMustMatchAndFpsMustBePositive() {
        List<ImagePart> frames = new ArrayList<>(solidFrames(2, 4, 4));
        frames.add(ImagePart.ofArgb(2, 2, new int[4]));
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> VideoPart.ofFrames(frames, 8));
        assertTrue(e.getMessage().contains("frame 2 is 2x2"), e.getMessage());
        e = assertThrows(InvalidInputException.class, () -> VideoPart.ofFrames(solidFrames(1, 4, 4), 0));
        assertTrue(e.getMessage().contains("VideoPart.fps"), e.getMessage());
        assertThrows(InvalidInputException.class, () -> VideoPart.ofFrames(List.of(), 8));
        VideoPart v = VideoPart.ofFrames(solidFrames(24, 4, 4), 8);
        assertEquals(3.0, v.durationSeconds(), 1e-12);
        assertThrows(UnsupportedOperationException.class, () -> v.frames().clear());
    }

    @Test
    void readGifCompositesPartialFramesAtTheirOffsets() throws IOException {
        javax.imageio.ImageWriter w = ImageIO.getImageWritersByFormatName("gif").next();
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        try (javax.imageio.stream.ImageOutputStream out = ImageIO.createImageOutputStream(bytes)) {
            w.setOutput(out);
            w.prepareWriteSequence(null);
            java.awt.image.BufferedImage full = solidFrames(1, 6, 4).get(0).toBufferedImage(); // red, white (0,0)
            java.awt.image.BufferedImage patch = solidFrames(2, 2, 2).get(1).toBufferedImage(); // green 2x2
            for (int i = 0; i < 2; i++) {
                java.awt.image.BufferedImage img = i == 0 ? full : patch;
                IIOMetadata meta = w.getDefaultImageMetadata(
                        javax.imageio.ImageTypeSpecifier.createFromRenderedImage(img), null);
                IIOMetadataNode root = (IIOMetadataNode) meta.getAsTree("javax_imageio_gif_image_1.0");
                IIOMetadataNode desc = find(root, "ImageDescriptor");
                desc.setAttribute("imageLeftPosition", i == 0 ? "0" : "3");
                desc.setAttribute("imageTopPosition", i == 0 ? "0" : "1");
                IIOMetadataNode gce = find(root, "GraphicControlExtension");
                gce.setAttribute("delayTime", "25");
                gce.setAttribute("disposalMethod", "doNotDispose");
                meta.setFromTree("javax_imageio_gif_image_1.0", root);
                w.writeToSequence(new javax.imageio.IIOImage(img, null, meta), null);
            }
            w.endWriteSequence();
        } finally {
            w.dispose();
        }
        VideoPart v = VideoPart.fromGifBytes(bytes.toByteArray());
        assertEquals(2, v.frameCount());
        assertEquals(4.0, v.fps(), 1e-9);
        ImagePart second = v.frames().get(1);
        assertEquals(6, second.width());
        assertEquals(4, second.height());
        assertEquals(0xFFFFFFFF, second.pixel(0, 0), "kept from frame 0");
        assertEquals(0xFFFF0000, second.pixel(2, 1), "kept from frame 0");
        assertEquals(0xFFFFFFFF, second.pixel(3, 1), "patch's own white corner");
        assertEquals(0xFF00FF00, second.pixel(4, 2), "patch drawn at offset (3,1)");
        assertEquals(0xFFFF0000, second.pixel(5, 3), "outside the patch");
    }
}
