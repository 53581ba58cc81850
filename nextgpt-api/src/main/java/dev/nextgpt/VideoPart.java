package dev.nextgpt;

import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.ImageOutputStream;
import org.w3c.dom.Node;

/**
 * An immutable video: either decoded frames with a frame rate, or only a file reference.
 *
 * <p>{@link #fromFile(Path)} does not decode: container/codec decoding (MP4 and the like) is the runtime's job, so a
 * file-backed part has no frames ({@link #isDecoded()} is false, {@link #fps()} is 0) and keeps the path in
 * {@link #source()}. Generated videos come back decoded (24 frames at 8 fps for the legacy model).
 *
 * <p>Writing: {@link #writeGif(Path)} produces a looping animated GIF with javax.imageio. MP4 is produced by the
 * runtime when a codec library is present; this module deliberately has no codec dependency.
 *
 * @param frames the frames, all the same size (immutable copy; empty only for a file-backed part)
 * @param fps    frames per second ({@code > 0} when decoded, 0 when unknown)
 * @param source the original file, never null ({@link MediaSource#NONE} when built in memory)
 */
public record VideoPart(List<ImagePart> frames, double fps, MediaSource source) implements Part {

    /** Validates frame sizes and the frame rate. */
    public VideoPart {
        Checks.notNull("VideoPart.frames", frames);
        source = source == null ? MediaSource.NONE : source;
        frames = List.copyOf(frames);
        if (frames.isEmpty()) {
            if (source.isEmpty()) {
                throw new InvalidInputException("VideoPart needs at least one frame or a source file");
            }
            if (fps != 0 && !(fps > 0 && fps <= 1000)) {
                throw new InvalidInputException("VideoPart.fps must be 0 (unknown) or in (0, 1000], got " + fps);
            }
        } else {
            Checks.doubleRange("VideoPart.fps", fps, 0, true, 1000);
            ImagePart first = frames.get(0);
            for (int i = 1; i < frames.size(); i++) {
                ImagePart f = frames.get(i);
                if (f.width() != first.width() || f.height() != first.height()) {
                    throw new InvalidInputException("VideoPart frame " + i + " is " + f.width() + "x" + f.height()
                            + " but frame 0 is " + first.width() + "x" + first.height());
                }
            }
        }
    }

    /**
     * References a video file (MP4, GIF, …) without decoding it; the runtime decodes it.
     *
     * @throws InvalidInputException if the file does not exist
     */
    public static VideoPart fromFile(Path path) {
        Checks.notNull("video path", path);
        if (!Files.isRegularFile(path)) {
            throw new InvalidInputException("video file does not exist or is not a regular file: " + path);
        }
        return new VideoPart(List.of(), 0, MediaSource.of(path, null));
    }

    /** A decoded video from frames (all the same size) at {@code fps} frames per second. */
    public static VideoPart ofFrames(List<ImagePart> frames, double fps) {
        Checks.notNull("frames", frames);
        if (frames.isEmpty()) {
            throw new InvalidInputException("VideoPart.ofFrames needs at least one frame, got 0");
        }
        return new VideoPart(frames, fps, MediaSource.NONE);
    }

    /**
     * Decodes an animated GIF into frames (composited onto the logical screen, honouring the frame offsets and
     * disposal methods). The frame rate comes from the first frame's delay (10 fps when the delay is 0).
     */
    public static VideoPart readGif(Path path) {
        byte[] bytes = MediaIo.readAll(path, "GIF");
        return decodeGif(bytes, MediaSource.of(path, bytes), path.toString());
    }

    /** Decodes animated GIF bytes, keeping them as the source. */
    public static VideoPart fromGifBytes(byte[] gif) {
        Checks.notNull("GIF bytes", gif);
        return decodeGif(gif, MediaSource.of(null, gif), "GIF bytes (" + gif.length + " bytes)");
    }

    /** Always {@link Modality#VIDEO}. */
    @Override
    public Modality modality() {
        return Modality.VIDEO;
    }

    /** Whether frames are present (false for a file reference from {@link #fromFile(Path)}). */
    public boolean isDecoded() {
        return !frames.isEmpty();
    }

    /** Number of decoded frames. */
    public int frameCount() {
        return frames.size();
    }

    /** Duration in seconds of the decoded frames (0 when not decoded). */
    public double durationSeconds() {
        return frames.isEmpty() ? 0 : frames.size() / fps;
    }

    /** GIF frame delay in hundredths of a second: {@code round(100 / fps)}, at least 1. */
    public int gifDelayCentiseconds() {
        requireDecoded("GIF encoding");
        return (int) Math.max(1, Math.round(100.0 / fps));
    }

    /** Encodes the frames as a looping animated GIF (colours are quantised to a palette per frame). */
    public byte[] toGifBytes() {
        requireDecoded("GIF encoding");
        Iterator<ImageWriter> writers = ImageIO.getImageWritersByFormatName("gif");
        if (!writers.hasNext()) {
            throw new RuntimeFailureException("no GIF writer available in javax.imageio");
        }
        ImageWriter writer = writers.next();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ImageOutputStream ios = ImageIO.createImageOutputStream(out)) {
            writer.setOutput(ios);
            ImageWriteParam param = writer.getDefaultWriteParam();
            writer.prepareWriteSequence(null);
            for (ImagePart frame : frames) {
                BufferedImage rgb = new BufferedImage(frame.width(), frame.height(), BufferedImage.TYPE_INT_RGB);
                rgb.setRGB(0, 0, frame.width(), frame.height(), frame.argb(), 0, frame.width());
                IIOMetadata meta = writer.getDefaultImageMetadata(ImageTypeSpecifier.createFromRenderedImage(rgb),
                        param);
                setGifFrameMetadata(meta, gifDelayCentiseconds());
                writer.writeToSequence(new IIOImage(rgb, null, meta), param);
            }
            writer.endWriteSequence();
        } catch (IOException e) {
            throw new RuntimeFailureException("GIF encoding failed: " + e.getMessage(), e);
        } finally {
            writer.dispose();
        }
        return out.toByteArray();
    }

    /** Writes a looping animated GIF through a temporary file and an atomic move; parent folders are created. */
    public void writeGif(Path path) {
        MediaIo.writeAtomically(path, toGifBytes());
    }

    private void requireDecoded(String what) {
        if (frames.isEmpty()) {
            throw new InvalidInputException(what + " needs decoded frames; this VideoPart only references "
                    + source.path() + " (decoding video files is done by the runtime)");
        }
    }

    private static void setGifFrameMetadata(IIOMetadata meta, int delayCs) throws IOException {
        String format = meta.getNativeMetadataFormatName();
        IIOMetadataNode root = (IIOMetadataNode) meta.getAsTree(format);
        IIOMetadataNode gce = child(root, "GraphicControlExtension");
        gce.setAttribute("disposalMethod", "none");
        gce.setAttribute("userInputFlag", "FALSE");
        gce.setAttribute("transparentColorFlag", "FALSE");
        gce.setAttribute("delayTime", Integer.toString(delayCs));
        gce.setAttribute("transparentColorIndex", "0");
        IIOMetadataNode apps = child(root, "ApplicationExtensions");
        IIOMetadataNode loop = new IIOMetadataNode("ApplicationExtension");
        loop.setAttribute("applicationID", "NETSCAPE");
        loop.setAttribute("authenticationCode", "2.0");
        loop.setUserObject(new byte[] {1, 0, 0}); // sub-block 1, loop count 0 = forever
        apps.appendChild(loop);
        meta.setFromTree(format, root);
    }

    private static IIOMetadataNode child(IIOMetadataNode parent, String name) {
        for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n.getNodeName().equalsIgnoreCase(name)) {
                return (IIOMetadataNode) n;
            }
        }
        IIOMetadataNode node = new IIOMetadataNode(name);
        parent.appendChild(node);
        return node;
    }

    private static VideoPart decodeGif(byte[] bytes, MediaSource source, String what) {
        Iterator<ImageReader> readers = ImageIO.getImageReadersByFormatName("gif");
        if (!readers.hasNext()) {
            throw new RuntimeFailureException("no GIF reader available in javax.imageio");
        }
        ImageReader reader = readers.next();
        try (ImageInputStream iis = ImageIO.createImageInputStream(new ByteArrayInputStream(bytes))) {
            reader.setInput(iis, false);
            int n = reader.getNumImages(true);
            if (n < 1) {
                throw new InvalidInputException("GIF has no frames: " + what);
            }
            int screenW = 0;
            int screenH = 0;
            IIOMetadata stream = reader.getStreamMetadata();
            if (stream != null) {
                IIOMetadataNode sroot = (IIOMetadataNode) stream.getAsTree(stream.getNativeMetadataFormatName());
                IIOMetadataNode lsd = child(sroot, "LogicalScreenDescriptor");
                screenW = intAttr(lsd, "logicalScreenWidth", 0);
                screenH = intAttr(lsd, "logicalScreenHeight", 0);
            }
            List<ImagePart> frames = new ArrayList<>(n);
            BufferedImage canvas = null;
            int firstDelay = 0;
            for (int i = 0; i < n; i++) {
                BufferedImage img = reader.read(i);
                IIOMetadata m = reader.getImageMetadata(i);
                IIOMetadataNode root = (IIOMetadataNode) m.getAsTree(m.getNativeMetadataFormatName());
                IIOMetadataNode desc = child(root, "ImageDescriptor");
                int x = intAttr(desc, "imageLeftPosition", 0);
                int y = intAttr(desc, "imageTopPosition", 0);
                IIOMetadataNode gce = child(root, "GraphicControlExtension");
                String disposal = gce.getAttribute("disposalMethod");
                if (i == 0) {
                    firstDelay = intAttr(gce, "delayTime", 0);
                    int w = Math.max(screenW, x + img.getWidth());
                    int h = Math.max(screenH, y + img.getHeight());
                    canvas = new BufferedImage(w, h, BufferedImage.TYPE_INT_ARGB);
                }
                BufferedImage before = disposal.equals("restoreToPrevious") ? copy(canvas) : null;
                Graphics2D g = canvas.createGraphics();
                g.drawImage(img, x, y, null);
                g.dispose();
                frames.add(ImagePart.fromImage(canvas));
                if (disposal.equals("restoreToBackgroundColor")) {
                    Graphics2D c = canvas.createGraphics();
                    c.setComposite(java.awt.AlphaComposite.Clear);
                    c.fillRect(x, y, img.getWidth(), img.getHeight());
                    c.dispose();
                } else if (before != null) {
                    canvas = before;
                }
            }
            double fps = firstDelay > 0 ? 100.0 / firstDelay : 10.0;
            return new VideoPart(frames, fps, source);
        } catch (IOException | RuntimeException e) {
            if (e instanceof NextGptException ne) {
                throw ne;
            }
            throw new InvalidInputException("cannot decode GIF " + what + ": " + e.getMessage(), e);
        } finally {
            reader.dispose();
        }
    }

    private static BufferedImage copy(BufferedImage src) {
        BufferedImage c = new BufferedImage(src.getWidth(), src.getHeight(), BufferedImage.TYPE_INT_ARGB);
        Graphics2D g = c.createGraphics();
        g.drawImage(src, 0, 0, null);
        g.dispose();
        return c;
    }

    private static int intAttr(IIOMetadataNode node, String name, int dflt) {
        String v = node.getAttribute(name);
        if (v == null || v.isEmpty()) {
            return dflt;
        }
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            return dflt;
        }
    }

    @Override
    public String toString() {
        return "VideoPart[" + (isDecoded() ? frames.size() + " frames " + frames.get(0).width() + "x"
                + frames.get(0).height() + " @ " + fps + " fps" : "not decoded") + ", source=" + source + "]";
    }
}
