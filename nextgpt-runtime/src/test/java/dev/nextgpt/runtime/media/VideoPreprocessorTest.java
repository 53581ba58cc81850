package dev.nextgpt.runtime.media;

import dev.nextgpt.runtime.io.SafetensorsFile;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static dev.nextgpt.runtime.media.MediaFixtures.resource;
import static org.junit.jupiter.api.Assertions.*;

class VideoPreprocessorTest {
    private static VideoPreprocessor.Result result;
    private static final int S = 224;

    @BeforeAll
    static void run() {
        result = new VideoPreprocessor().process(resource("golden/imagebind/media/test.mp4"));
    }

    private static float at(int clip, int c, int t, int y, int x) {
        return result.values()[(((clip * 3 + c) * 2 + t) * S + y) * S + x];
    }

    private static SafetensorsFile golden() {
        return SafetensorsFile.open(resource("golden/imagebind/preprocess/video_test.safetensors"));
    }

    @Test
    void samplingMatchesGolden() {
        assertArrayEquals(new long[] {15, 3, 2, 224, 224}, result.shape());
        try (SafetensorsFile f = golden()) {
            long[] idx = f.readLongs("source_frame_indices");
            float[] tp = f.readFloats("clip_timepoints_sec");
            for (int c = 0; c < 5; c++) {
                assertEquals(idx[2 * c], result.sourceFrameIndices()[c][0]);
                assertEquals(idx[2 * c + 1], result.sourceFrameIndices()[c][1]);
                assertEquals(tp[2 * c], result.clipTimepoints()[c][0], 1e-9);
                assertEquals(tp[2 * c + 1], result.clipTimepoints()[c][1], 1e-9);
            }
        }
    }

    @Test
    void pixelsMatchGoldenSlices() {
        float[] row;
        float[] rows;
        float[] cols;
        float[] mean;
        float[] std;
        try (SafetensorsFile f = golden()) {
            row = f.readFloats("row112_all_clips");
            rows = f.readFloats("clip0_rows_0_223");
            cols = f.readFloats("clip0_cols_0_112_223");
            mean = f.readFloats("per_clip_frame_channel_mean");
            std = f.readFloats("per_clip_frame_channel_std");
        }
        float[] mineRow = new float[row.length];
        int i = 0;
        for (int clip = 0; clip < 15; clip++) {
            for (int c = 0; c < 3; c++) {
                for (int t = 0; t < 2; t++) {
                    for (int x = 0; x < S; x++) {
                        mineRow[i++] = at(clip, c, t, 112, x);
                    }
                }
            }
        }
        float[] mineRows = new float[rows.length];
        float[] mineCols = new float[cols.length];
        i = 0;
        int j = 0;
        for (int c = 0; c < 3; c++) {
            for (int t = 0; t < 2; t++) {
                for (int y : new int[] {0, 223}) {
                    for (int x = 0; x < S; x++) {
                        mineRows[i++] = at(0, c, t, y, x);
                    }
                }
                for (int y = 0; y < S; y++) {
                    for (int x : new int[] {0, 112, 223}) {
                        mineCols[j++] = at(0, c, t, y, x);
                    }
                }
            }
        }
        double maxPix = Math.max(MediaFixtures.maxAbs(mineRow, row),
                Math.max(MediaFixtures.maxAbs(mineRows, rows), MediaFixtures.maxAbs(mineCols, cols)));
        double meanPix = MediaFixtures.meanAbs(mineRow, row);
        float[] myMean = new float[mean.length];
        float[] myStd = new float[std.length];
        for (int clip = 0; clip < 15; clip++) {
            for (int t = 0; t < 2; t++) {
                for (int c = 0; c < 3; c++) {
                    double s = 0;
                    double s2 = 0;
                    for (int y = 0; y < S; y++) {
                        for (int x = 0; x < S; x++) {
                            double v = at(clip, c, t, y, x);
                            s += v;
                            s2 += v * v;
                        }
                    }
                    int n = S * S;
                    double m = s / n;
                    myMean[(clip * 2 + t) * 3 + c] = (float) m;
                    myStd[(clip * 2 + t) * 3 + c] = (float) Math.sqrt((s2 - n * m * m) / (n - 1));
                }
            }
        }
        double maxStat = Math.max(MediaFixtures.maxAbs(myMean, mean), MediaFixtures.maxAbs(myStd, std));
        System.out.println("video_test pixel max abs " + maxPix + " mean abs " + meanPix + "; per-clip stats max abs " + maxStat);
        assertTrue(maxStat <= 0.01, "per-clip statistics max abs " + maxStat);
        // JCodec (bit-exact H.264) + libswscale's SIMD yuv->rgb arithmetic: only float rounding remains (measured 1.4e-5)
        assertTrue(maxPix <= 5e-5, "max abs pixel diff " + maxPix);
    }

    @Test
    void framesListInputMatchesFileInput() {
        Mp4VideoDecoder.DecodedVideo v = Mp4VideoDecoder.decode(resource("golden/imagebind/media/test.mp4"));
        assertEquals(24, v.frames().size());
        assertEquals(8.0, v.fps(), 1e-9);
        List<BufferedImage> imgs = new ArrayList<>();
        for (RgbImage r : v.frames()) {
            BufferedImage b = new BufferedImage(r.width(), r.height(), BufferedImage.TYPE_INT_RGB);
            for (int y = 0; y < r.height(); y++) {
                for (int x = 0; x < r.width(); x++) {
                    b.setRGB(x, y, (r.get(x, y, 0) << 16) | (r.get(x, y, 1) << 8) | r.get(x, y, 2));
                }
            }
            imgs.add(b);
        }
        VideoPreprocessor.Result fromList = new VideoPreprocessor().process(imgs, 8.0);
        assertArrayEquals(result.values(), fromList.values());
        for (int i = 1; i < v.ptsSec().length; i++) {
            assertTrue(v.ptsSec()[i] > v.ptsSec()[i - 1], "presentation order");
        }
    }

    @Test
    void helpersFollowPytorchvideo() {
        assertArrayEquals(new int[] {0, 15}, VideoPreprocessor.uniformSubsample(16, 2));
        assertArrayEquals(new int[] {0, 0}, VideoPreprocessor.uniformSubsample(1, 2));
        assertArrayEquals(new int[] {0, 2, 4, 7}, VideoPreprocessor.uniformSubsample(8, 4));
        assertArrayEquals(new int[][] {{0, 0}, {0, 90}, {0, 179}}, VideoPreprocessor.cropOffsets(224, 403, 224));
        assertArrayEquals(new int[][] {{0, 0}, {90, 0}, {179, 0}}, VideoPreprocessor.cropOffsets(403, 224, 224));
    }

    @Test
    void badVideosAreTypedErrors(@TempDir Path dir) throws Exception {
        Path junk = dir.resolve("junk.mp4");
        Files.writeString(junk, "definitely not an mp4 file");
        MediaDecodeException e = assertThrows(MediaDecodeException.class, () -> new VideoPreprocessor().process(junk));
        assertTrue(e.getMessage().contains(junk.toString()), e.getMessage());
        byte[] mp4 = Files.readAllBytes(resource("golden/imagebind/media/test.mp4"));
        Path cut = dir.resolve("cut.mp4");
        Files.write(cut, Arrays.copyOf(mp4, 200));
        assertThrows(MediaDecodeException.class, () -> new VideoPreprocessor().process(cut));
        assertThrows(MediaDecodeException.class, () -> new VideoPreprocessor().process(dir.resolve("missing.mp4")));
        assertThrows(MediaDecodeException.class, () -> new VideoPreprocessor().process(List.of(), 8.0));
        // the same file with its only track relabelled as a text track: no video track
        byte[] noVideo = mp4.clone();
        int hdlr = indexOf(noVideo, "hdlr".getBytes()) + 12;
        assertEquals("vide", new String(noVideo, hdlr, 4));
        System.arraycopy("text".getBytes(), 0, noVideo, hdlr, 4);
        Path audioOnly = dir.resolve("novideo.mp4");
        Files.write(audioOnly, noVideo);
        MediaDecodeException nv = assertThrows(MediaDecodeException.class, () -> new VideoPreprocessor().process(audioOnly));
        assertTrue(nv.getMessage().contains("no video track") && nv.getMessage().contains(audioOnly.toString()), nv.getMessage());
    }

    private static int indexOf(byte[] data, byte[] pattern) {
        outer:
        for (int i = 0; i + pattern.length <= data.length; i++) {
            for (int j = 0; j < pattern.length; j++) {
                if (data[i + j] != pattern[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
