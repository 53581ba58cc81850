package dev.nextgpt.runtime.media;

import dev.nextgpt.InvalidInputException;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * ImageBind's {@code load_and_transform_video_data} / NExT-GPT's {@code VideoProcessor}: {@code clipsPerVideo}
 * clips of {@code clipDuration} s ({@link ClipSampler} over duration = frames/fps), clip frames
 * {@code range(ceil(fps·start), min(ceil(fps·end), N))} (pytorchvideo's decord rule), {@code UniformTemporalSubsample}
 * ({@code long(linspace(0, T−1, n))}), {@code /255}, {@code ShortSideScale(size)} (bilinear, align_corners=False,
 * no antialias, like {@code F.interpolate}), CLIP normalisation and {@code SpatialCrop(size, 3)}
 * (offsets 0, {@code ceil((L−size)/2)}, {@code L−size} along the long side). Output
 * {@code [clips·3, 3, framesPerClip, size, size]}, index {@code clip·3 + crop}; float32 arithmetic as torch.
 */
public final class VideoPreprocessor {

    /** The arguments of {@code load_and_transform_video_data}. */
    public record Options(double clipDuration, int clipsPerVideo, int framesPerClip, int size) {
        public static Options defaults() {
            return new Options(2, 5, 2, 224);
        }
    }

    /** Output tensor plus the sampling decisions (for checks). */
    public record Result(float[] values, long[] shape, double[][] clipTimepoints, int[][] sourceFrameIndices) {
    }

    private final Options options;

    public VideoPreprocessor() {
        this(Options.defaults());
    }

    public VideoPreprocessor(Options options) {
        this.options = options;
    }

    /** Decodes an MP4 (H.264) file and preprocesses it. */
    public Result process(Path file) {
        Mp4VideoDecoder.DecodedVideo v = Mp4VideoDecoder.decode(file);
        return processFrames(v.frames(), v.fps(), file);
    }

    /** Preprocesses already decoded frames (presentation order) at {@code fps}. */
    public Result process(List<BufferedImage> frames, double fps) {
        List<RgbImage> rgb = new ArrayList<>();
        for (BufferedImage b : frames) {
            rgb.add(RgbImage.fromBufferedImage(b));
        }
        return processFrames(rgb, fps, null);
    }

    public Result processFrames(List<RgbImage> frames, double fps, Path source) {
        if (frames == null || frames.isEmpty()) {
            throw new MediaDecodeException(source, "video holds no frames");
        }
        if (!(fps > 0) || Double.isInfinite(fps)) {
            throw new InvalidInputException("frame rate must be positive, got " + fps);
        }
        int w = frames.get(0).width();
        int h = frames.get(0).height();
        for (RgbImage f : frames) {
            if (f.width() != w || f.height() != h) {
                throw new InvalidInputException("video frames have different sizes: " + w + "x" + h + " vs "
                        + f.width() + "x" + f.height());
            }
        }
        int n = frames.size();
        List<ClipSampler.Clip> clips = ClipSampler.clips(n / fps, options.clipDuration(), options.clipsPerVideo());
        int size = options.size();
        int newH;
        int newW;
        if (w < h) {
            newW = size;
            newH = (int) Math.floor((double) h / w * size);
        } else {
            newH = size;
            newW = (int) Math.floor((double) w / h * size);
        }
        if (newW < size || newH < size) {
            throw new InvalidInputException("video frames " + w + "x" + h + " are too small");
        }
        int[][] offsets = cropOffsets(newH, newW, size);
        int t = options.framesPerClip();
        int plane = size * size;
        int perCrop = 3 * t * plane;
        float[] out = new float[clips.size() * 3 * perCrop];
        double[][] times = new double[clips.size()][2];
        int[][] sourceIdx = new int[clips.size()][t];
        Bilinear bh = new Bilinear(h, newH);
        Bilinear bw = new Bilinear(w, newW);
        float[] scaled = new float[newH * newW];
        float[] rowTmp = new float[newW];
        for (int ci = 0; ci < clips.size(); ci++) {
            ClipSampler.Clip clip = clips.get(ci);
            times[ci][0] = clip.startSec();
            times[ci][1] = clip.endSec();
            int from = clip.startIndexCeil(fps);
            int to = Math.min(clip.endIndexCeil(fps), n);
            int count = to - from;
            if (count <= 0) {
                throw new MediaDecodeException(source, "clip " + ci + " [" + clip.startSec() + ", " + clip.endSec()
                        + ") s holds no frames (" + n + " frames at " + fps + " fps)");
            }
            int[] picks = uniformSubsample(count, t);
            for (int ti = 0; ti < t; ti++) {
                RgbImage frame = frames.get(from + picks[ti]);
                sourceIdx[ci][ti] = from + picks[ti];
                for (int c = 0; c < 3; c++) {
                    scale(frame, c, bh, bw, scaled, rowTmp);
                    float mean = ImagePreprocessor.CLIP_MEAN[c];
                    float std = ImagePreprocessor.CLIP_STD[c];
                    for (int crop = 0; crop < 3; crop++) {
                        int oy = offsets[crop][0];
                        int ox = offsets[crop][1];
                        int base = (ci * 3 + crop) * perCrop + c * t * plane + ti * plane;
                        for (int y = 0; y < size; y++) {
                            int srow = (y + oy) * newW + ox;
                            int drow = base + y * size;
                            for (int x = 0; x < size; x++) {
                                out[drow + x] = (scaled[srow + x] - mean) / std;
                            }
                        }
                    }
                }
            }
        }
        return new Result(out, new long[] {clips.size() * 3L, 3, t, size, size}, times, sourceIdx);
    }

    /** {@code torch.linspace(0, count−1, n).clamp(0, count−1).long()}, with torch's float32 linspace. */
    static int[] uniformSubsample(int count, int n) {
        int[] idx = new int[n];
        if (n == 1) {
            return idx;
        }
        float start = 0f;
        float end = count - 1;
        float step = (end - start) / (n - 1);
        int halfway = n / 2;
        for (int i = 0; i < n; i++) {
            float v = i < halfway ? start + step * i : end - step * (n - i - 1);
            idx[i] = Math.max(0, Math.min(count - 1, (int) v));
        }
        return idx;
    }

    /** {@code uniform_crop} offsets {y, x} for spatial indices 0, 1, 2. */
    static int[][] cropOffsets(int height, int width, int size) {
        int[][] o = new int[3][2];
        for (int i = 0; i < 3; i++) {
            int y = (int) Math.ceil((height - size) / 2.0);
            int x = (int) Math.ceil((width - size) / 2.0);
            if (height > width) {
                y = i == 0 ? 0 : (i == 2 ? height - size : y);
            } else {
                x = i == 0 ? 0 : (i == 2 ? width - size : x);
            }
            o[i][0] = y;
            o[i][1] = x;
        }
        return o;
    }

    /** Indices and weights of {@code F.interpolate(mode="bilinear", align_corners=False)} along one axis. */
    private static final class Bilinear {
        final int[] i0;
        final int[] i1;
        final float[] l0;
        final float[] l1;

        Bilinear(int in, int out) {
            i0 = new int[out];
            i1 = new int[out];
            l0 = new float[out];
            l1 = new float[out];
            float scale = (float) in / out;
            for (int d = 0; d < out; d++) {
                float src = scale * (d + 0.5f) - 0.5f;
                if (src < 0) {
                    src = 0;
                }
                int a = Math.min((int) src, in - 1);
                float lam = Math.min(Math.max(src - a, 0f), 1f);
                i0[d] = a;
                i1[d] = a + (a < in - 1 ? 1 : 0);
                l1[d] = lam;
                l0[d] = 1f - lam;
            }
        }
    }

    /** One channel of a frame, /255 then bilinear-resized into {@code dst}. */
    private static void scale(RgbImage f, int c, Bilinear bh, Bilinear bw, float[] dst, float[] rowTmp) {
        int w = f.width();
        byte[] rgb = f.rgb();
        int newW = bw.i0.length;
        for (int y = 0; y < bh.i0.length; y++) {
            int r0 = bh.i0[y] * w;
            int r1 = bh.i1[y] * w;
            float h0 = bh.l0[y];
            float h1 = bh.l1[y];
            for (int x = 0; x < newW; x++) {
                float x00 = (rgb[(r0 + bw.i0[x]) * 3 + c] & 0xFF) / 255f;
                float x01 = (rgb[(r0 + bw.i1[x]) * 3 + c] & 0xFF) / 255f;
                float x10 = (rgb[(r1 + bw.i0[x]) * 3 + c] & 0xFF) / 255f;
                float x11 = (rgb[(r1 + bw.i1[x]) * 3 + c] & 0xFF) / 255f;
                float top = x00 * bw.l0[x] + x01 * bw.l1[x];
                float bottom = x10 * bw.l0[x] + x11 * bw.l1[x];
                dst[y * newW + x] = top * h0 + bottom * h1;
            }
        }
    }
}
