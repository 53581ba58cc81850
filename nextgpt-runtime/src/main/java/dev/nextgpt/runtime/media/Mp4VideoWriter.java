package dev.nextgpt.runtime.media;

import dev.nextgpt.InvalidInputException;
import dev.nextgpt.ImagePart;
import dev.nextgpt.RuntimeFailureException;
import dev.nextgpt.UnsupportedConfigurationException;
import dev.nextgpt.VideoPart;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Writes decoded video frames as H.264 in an MP4 container with JCodec (pure Java, optional dependency
 * {@code org.jcodec:jcodec:0.2.5}). Frames are converted to YUV 4:2:0, so odd widths/heights are rounded down to
 * even numbers by the encoder. The file is written to a temporary name and moved into place when complete.
 */
public final class Mp4VideoWriter {
    private Mp4VideoWriter() {
    }

    /** Writes {@code video} (decoded frames) to {@code target}. */
    public static void write(VideoPart video, Path target) {
        if (!Mp4VideoDecoder.available()) {
            throw new UnsupportedConfigurationException("writing MP4 needs the optional dependency "
                    + "org.jcodec:jcodec:0.2.5 on the class path; VideoPart.writeGif works without it");
        }
        if (!video.isDecoded() || video.frameCount() == 0) {
            throw new InvalidInputException("video has no decoded frames to write to " + target);
        }
        Path abs = target.toAbsolutePath();
        Path tmp = null;
        try {
            Files.createDirectories(abs.getParent());
            tmp = Files.createTempFile(abs.getParent(), "." + abs.getFileName(), ".tmp");
            Impl.encode(video, tmp);
            Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            tmp = null;
        } catch (IOException e) {
            throw new RuntimeFailureException("cannot write MP4 " + target + ": " + e.getMessage(), e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // best effort
                }
            }
        }
    }

    /**
     * JCodec's encoder converts RGB with full-range (JPEG) BT.601 coefficients but writes no colour-range flag, so
     * players and decoders read the result as limited ("TV") range. Compressing RGB into [16, 235] first makes the
     * luma exactly the limited-range value (chroma saturation ends up 219/224, about 2 % low). Values are stored
     * signed (minus 128) as JCodec expects.
     */
    static byte[] toTvRangeRgb(int[] argb) {
        byte[] rgb = new byte[argb.length * 3];
        for (int i = 0; i < argb.length; i++) {
            int p = argb[i];
            for (int c = 0; c < 3; c++) {
                int v = (p >> (16 - 8 * c)) & 0xff;
                rgb[3 * i + c] = (byte) (Math.round(16 + v * 219 / 255.0) - 128);
            }
        }
        return rgb;
    }

    /** Keeps JCodec references out of the outer class so that a missing jar gives a clear error. */
    private static final class Impl {
        static void encode(VideoPart video, Path file) throws IOException {
            int fpsMilli = (int) Math.round(video.fps() * 1000);
            try (org.jcodec.common.io.SeekableByteChannel ch = org.jcodec.common.io.NIOUtils.writableChannel(
                    file.toFile())) {
                org.jcodec.api.SequenceEncoder enc = org.jcodec.api.SequenceEncoder.createWithFps(ch,
                        org.jcodec.common.model.Rational.R(fpsMilli, 1000));
                for (ImagePart frame : video.frames()) {
                    int w = frame.width() & ~1;
                    int h = frame.height() & ~1;
                    int[] argb = frame.toBufferedImage().getRGB(0, 0, w, h, null, 0, w);
                    enc.encodeNativeFrame(org.jcodec.common.model.Picture.createPicture(w, h,
                            new byte[][] {toTvRangeRgb(argb)}, org.jcodec.common.model.ColorSpace.RGB));
                }
                enc.finish();
            }
        }
    }
}
