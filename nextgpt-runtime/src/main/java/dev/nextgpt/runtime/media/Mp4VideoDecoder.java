package dev.nextgpt.runtime.media;

import dev.nextgpt.UnsupportedConfigurationException;
import org.jcodec.codecs.h264.H264Decoder;
import org.jcodec.common.Codec;
import org.jcodec.common.DemuxerTrack;
import org.jcodec.common.DemuxerTrackMeta;
import org.jcodec.common.io.NIOUtils;
import org.jcodec.common.io.SeekableByteChannel;
import org.jcodec.common.model.ColorSpace;
import org.jcodec.common.model.Packet;
import org.jcodec.common.model.Picture;
import org.jcodec.containers.mp4.demuxer.MP4Demuxer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Decodes every frame of the video track of an MP4/MOV file (H.264 Baseline/Main/High 8-bit 4:2:0, CAVLC or CABAC,
 * B-frames) with JCodec, a pure-Java decoder (optional dependency {@code org.jcodec:jcodec}). Frames are returned in
 * presentation order and converted to RGB like libswscale's default unscaled {@code yuv420p → rgb24} path
 * (BT.601 limited range, each chroma sample used for its 2×2 luma block), which is what PyAV's
 * {@code frame.to_rgb()} and decord give.
 */
public final class Mp4VideoDecoder {
    private Mp4VideoDecoder() {
    }

    /** Decoded frames in presentation order, their presentation times and the average frame rate. */
    public record DecodedVideo(List<RgbImage> frames, double[] ptsSec, double fps, double durationSec) {
    }

    /** True when JCodec is on the class path. */
    public static boolean available() {
        try {
            Class.forName("org.jcodec.codecs.h264.H264Decoder", false, Mp4VideoDecoder.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }

    public static DecodedVideo decode(Path file) {
        if (!available()) {
            throw new UnsupportedConfigurationException("decoding video files needs the optional dependency "
                    + "org.jcodec:jcodec:0.2.5 on the class path (or pass decoded frames to the video preprocessor)");
        }
        if (!Files.isRegularFile(file)) {
            throw new MediaDecodeException(file, "video file does not exist");
        }
        return Impl.decode(file);
    }

    /** Keeps JCodec references out of the outer class so that a missing jar gives a clear error. */
    private static final class Impl {
        static DecodedVideo decode(Path file) {
            MP4Demuxer demuxer;
            SeekableByteChannel ch;
            try {
                ch = NIOUtils.readableChannel(file.toFile());
            } catch (Exception e) {
                throw new MediaDecodeException(file, "cannot open video file: " + e.getMessage(), e);
            }
            try {
                try {
                    demuxer = MP4Demuxer.createMP4Demuxer(ch);
                } catch (Exception | AssertionError e) {
                    throw new MediaDecodeException(file, "not a readable MP4/MOV container: " + e, e);
                }
                DemuxerTrack track = demuxer.getVideoTrack();
                if (track == null) {
                    throw new MediaDecodeException(file, "the file has no video track");
                }
                DemuxerTrackMeta meta = track.getMeta();
                if (meta.getCodec() != Codec.H264) {
                    throw new MediaDecodeException(file, "unsupported video codec " + meta.getCodec()
                            + " (only H.264 is supported)");
                }
                H264Decoder decoder = H264Decoder.createH264DecoderFromCodecPrivate(meta.getCodecPrivate());
                int w = meta.getVideoCodecMeta().getSize().getWidth();
                int h = meta.getVideoCodecMeta().getSize().getHeight();
                List<double[]> order = new ArrayList<>();
                List<RgbImage> frames = new ArrayList<>();
                Packet p;
                while ((p = nextPacket(track, file, frames.size())) != null) {
                    byte[][] buf = Picture.create((w + 15) & ~15, (h + 15) & ~15, ColorSpace.YUV420).getData();
                    Picture pic;
                    try {
                        pic = decoder.decodeFrame(p.getData(), buf);
                    } catch (Exception | AssertionError e) {
                        throw new MediaDecodeException(file, "H.264 decoding failed at frame " + frames.size() + ": " + e, e);
                    }
                    if (pic == null) {
                        continue;
                    }
                    order.add(new double[] {p.getPtsD(), frames.size()});
                    frames.add(toRgb(pic));
                }
                if (frames.isEmpty()) {
                    throw new MediaDecodeException(file, "the video track holds no decodable frames");
                }
                order.sort(Comparator.comparingDouble(a -> a[0]));
                List<RgbImage> sorted = new ArrayList<>();
                double[] pts = new double[frames.size()];
                for (int i = 0; i < order.size(); i++) {
                    sorted.add(frames.get((int) order.get(i)[1]));
                    pts[i] = order.get(i)[0];
                }
                double duration = meta.getTotalDuration();
                double fps = duration > 0 ? meta.getTotalFrames() / duration : 0;
                if (!(fps > 0)) {
                    throw new MediaDecodeException(file, "cannot determine the frame rate (" + meta.getTotalFrames()
                            + " frames, " + duration + " s)");
                }
                return new DecodedVideo(sorted, pts, fps, duration);
            } finally {
                try {
                    ch.close();
                } catch (Exception ignored) {
                    // nothing to do
                }
            }
        }

        private static Packet nextPacket(DemuxerTrack track, Path file, int index) {
            try {
                return track.nextFrame();
            } catch (Exception | AssertionError e) {
                throw new MediaDecodeException(file, "cannot read video packet " + index + " (truncated file?): " + e, e);
            }
        }

        /** libswscale's yuv420p → rgb24 (BT.601, limited range) with replicated chroma. */
        static RgbImage toRgb(Picture pic) {
            Picture p = pic.getCrop() != null ? pic.cropped() : pic;
            int w = p.getWidth();
            int h = p.getHeight();
            byte[] y = p.getPlaneData(0);
            byte[] u = p.getPlaneData(1);
            byte[] v = p.getPlaneData(2);
            int yStride = p.getPlaneWidth(0);
            int cStride = p.getPlaneWidth(1);
            byte[] out = new byte[w * h * 3];
            for (int r = 0; r < h; r++) {
                for (int c = 0; c < w; c++) {
                    int yy = y[r * yStride + c] + 128;
                    int uu = u[(r >> 1) * cStride + (c >> 1)] + 128;
                    int vv = v[(r >> 1) * cStride + (c >> 1)] + 128;
                    int o = (r * w + c) * 3;
                    YuvToRgb.convert(yy, uu, vv, out, o);
                }
            }
            return new RgbImage(w, h, out);
        }
    }
}
