package dev.nextgpt.runtime.media;

import dev.nextgpt.ImagePart;
import dev.nextgpt.VideoPart;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class Mp4VideoWriterTest {

    @Test
    void writtenMp4DecodesBackToTheSameFramesWithinCodecLoss(@TempDir Path tmp) throws Exception {
        int w = 64;
        int h = 48;
        List<ImagePart> frames = new ArrayList<>();
        for (int f = 0; f < 6; f++) {
            int[] argb = new int[w * h];
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int r = (x * 4 + f * 20) & 0xff;
                    int g = (y * 5) & 0xff;
                    int b = f * 40;
                    argb[y * w + x] = 0xff000000 | (r << 16) | (g << 8) | b;
                }
            }
            frames.add(ImagePart.ofArgb(w, h, argb));
        }
        Path out = tmp.resolve("v.mp4");
        Mp4VideoWriter.write(VideoPart.ofFrames(frames, 8), out);
        assertTrue(Files.isRegularFile(out));
        Mp4VideoDecoder.DecodedVideo back = Mp4VideoDecoder.decode(out);
        assertEquals(6, back.frames().size());
        assertEquals(8.0, back.fps(), 0.05);
        for (int f = 0; f < 6; f++) {
            RgbImage img = back.frames().get(f);
            assertEquals(w, img.width());
            assertEquals(h, img.height());
            double err = 0;
            double[] bias = new double[3];
            int[] src = frames.get(f).toBufferedImage().getRGB(0, 0, w, h, null, 0, w);
            for (int i = 0; i < w * h; i++) {
                for (int c = 0; c < 3; c++) {
                    int want = (src[i] >> (16 - 8 * c)) & 0xff;
                    err += Math.abs(want - img.get(i % w, i / w, c));
                    bias[c] += img.get(i % w, i / w, c) - want;
                }
            }
            double mean = err / (w * h * 3);
            for (int c = 0; c < 3; c++) {
                double b = bias[c] / (w * h);
                assertTrue(Math.abs(b) < (f == 0 ? 4 : 20), "frame " + f + " channel " + c + " mean bias " + b);
            }

            // frame 0 is the intra frame; JCodec's basic encoder loses more on predicted frames
            assertTrue(mean < (f == 0 ? 5 : 20), "frame " + f + " mean abs error " + mean + " (lossy H.264)");
        }
        try (var s = Files.list(tmp)) {
            assertEquals(1, s.count(), "no temporary file left behind");
        }
    }
}
