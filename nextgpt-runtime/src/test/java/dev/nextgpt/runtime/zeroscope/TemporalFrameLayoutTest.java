package dev.nextgpt.runtime.zeroscope;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.runtime.io.SafetensorsFile;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** Frame layouts and the pipeline's video output conversions (against the fixture's own video → frames). */
class TemporalFrameLayoutTest {

    @Test
    void frameRowsAreBatchMajorFrameFastest() {
        try (NDManager m = NDManager.newBaseManager()) {
            int b = 2;
            int c = 3;
            int f = 4;
            NDArray video = m.arange((float) (b * c * f * 2 * 5)).reshape(b, c, f, 2, 5);
            NDArray frames = FrameLayout.videoToFrames(video);
            assertEquals(new Shape(b * f, c, 2, 5), frames.getShape());
            for (int bb = 0; bb < b; bb++) {
                for (int ff = 0; ff < f; ff++) {
                    assertEquals(video.get(bb + ",:," + ff).toFloatArray().length,
                            frames.get(bb * f + ff).toFloatArray().length);
                    assertArrayEquals(video.get(bb + ",:," + ff).toFloatArray(), frames.get(bb * f + ff).toFloatArray());
                }
            }
            assertArrayEquals(video.toFloatArray(), FrameLayout.toVideo(frames, f).toFloatArray());
        }
    }

    @Test
    void repeatInterleaveRepeatsEachRowInARow() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray emb = m.create(new float[][] {{1, 2}, {3, 4}});
            NDArray r = FrameLayout.repeatInterleave(emb, 3);
            assertArrayEquals(new float[] {1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4}, r.toFloatArray());
            NDArray ehs = m.arange(2 * 2 * 3f).reshape(2, 2, 3);
            assertEquals(new Shape(4, 2, 3), FrameLayout.repeatInterleave(ehs, 2).getShape());
            assertArrayEquals(ehs.get(1).toFloatArray(), FrameLayout.repeatInterleave(ehs, 2).get(2).toFloatArray());
        }
    }

    @Test
    void groupNormMatchesReference() {
        try (NDManager m = NDManager.newBaseManager()) {
            float[] x = ZeroscopeGolden.gaussian(2 * 8 * 3 * 5, 1);
            float[] g = ZeroscopeGolden.gaussian(8, 2);
            float[] be = ZeroscopeGolden.gaussian(8, 3);
            NDArray got = FrameLayout.groupNorm(m.create(x).reshape(2, 8, 3, 5), 4, m.create(g), m.create(be), 1e-6f);
            double[][][][] v = new double[2][8][3][5];
            for (int i = 0; i < x.length; i++) {
                v[i / 120][(i / 15) % 8][(i / 5) % 3][i % 5] = x[i];
            }
            double[][][][] ref = ZeroscopeGolden.groupNorm(v, 4, g, be, 1e-6);
            float[] out = got.toFloatArray();
            double max = 0;
            for (int i = 0; i < x.length; i++) {
                max = Math.max(max, Math.abs(out[i] - ref[i / 120][(i / 15) % 8][(i / 5) % 3][i % 5]));
            }
            assertTrue(max < 1e-5, "max abs " + max);
        }
    }

    private static void checkFrames(String caseName) {
        try (NDManager m = NDManager.newBaseManager(); SafetensorsFile f = ZeroscopeGolden.openCase(caseName)) {
            NDArray video = f.load(m, "video");
            NDArray u8 = VideoOutput.tensor2vidUint8(video);
            assertArrayEquals(f.info("frames_uint8").shape(), u8.getShape().getShape());
            long[] ref = f.readLongs("frames_uint8");
            byte[] got = u8.toByteArray();
            int differ = 0;
            int maxDiff = 0;
            for (int i = 0; i < ref.length; i++) {
                int d = Math.abs((got[i] & 0xff) - (int) ref[i]);
                maxDiff = Math.max(maxDiff, d);
                differ += d > 0 ? 1 : 0;
            }
            System.out.printf("%s frames_uint8: max diff %d, %d of %d differ%n", caseName, maxDiff, differ,
                    ref.length);
            assertTrue(maxDiff <= 1);
            assertTrue(differ <= 0.005 * ref.length);
            if (f.contains("frames_float01_diffusers030")) {
                float[] r = f.readFloats("frames_float01_diffusers030");
                NDArray f01 = VideoOutput.float01Frames(video);
                assertArrayEquals(f.info("frames_float01_diffusers030").shape(), f01.getShape().getShape());
                float[] g = f01.toFloatArray();
                double max = 0;
                for (int i = 0; i < r.length; i++) {
                    max = Math.max(max, Math.abs(g[i] - r[i]));
                }
                System.out.printf("%s frames_float01: max abs %.3e (tol 5e-4)%n", caseName, max);
                assertTrue(max <= 5e-4);
            }
        }
    }

    @Test
    void tensor2vidMatchesCase3() {
        checkFrames("case3_vae_decode");
    }

    @Test
    void tensor2vidAndFloat01MatchCase4() {
        checkFrames("case4_e2e_embeds_given");
    }
}
