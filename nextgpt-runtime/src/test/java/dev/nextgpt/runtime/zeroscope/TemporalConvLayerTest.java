package dev.nextgpt.runtime.zeroscope;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.io.SafetensorsFile;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/**
 * TemporalConvLayer with the fixture UNet3D's real weights against a naive float64 implementation (the fixture has
 * no intermediate tensors for this layer). Tolerance 1e-5·s: float32 vs float64 over four stages.
 */
class TemporalConvLayerTest {

    private static double[] reference(SafetensorsFile st, String prefix, float[] x, int b, int f, int c, int p,
                                      int groups) {
        double[][][][] v = ZeroscopeGolden.toVideo(x, b, f, c, p);
        double[][][][] h = v;
        for (int s = 1; s <= 4; s++) {
            String gn = prefix + "conv" + s + ".0.";
            String conv = prefix + "conv" + s + (s == 1 ? ".2." : ".3.");
            double[][][][] n = ZeroscopeGolden.groupNorm(h, groups, st.readFloats(gn + "weight"),
                    st.readFloats(gn + "bias"), 1e-5);
            float[] w = st.readFloats(conv + "weight"); // [out][in][3][1][1]
            float[] bias = st.readFloats(conv + "bias");
            double[][][][] y = new double[b][c][f][p];
            for (int bb = 0; bb < b; bb++) {
                for (int o = 0; o < c; o++) {
                    for (int t = 0; t < f; t++) {
                        for (int q = 0; q < p; q++) {
                            double sum = bias[o];
                            for (int i = 0; i < c; i++) {
                                for (int k = 0; k < 3; k++) {
                                    int tt = t + k - 1;
                                    if (tt < 0 || tt >= f) {
                                        continue;
                                    }
                                    double a = n[bb][i][tt][q];
                                    double silu = a / (1 + Math.exp(-a));
                                    sum += w[(o * c + i) * 3 + k] * silu;
                                }
                            }
                            y[bb][o][t][q] = sum;
                        }
                    }
                }
            }
            h = y;
        }
        for (int bb = 0; bb < b; bb++) {
            for (int ch = 0; ch < c; ch++) {
                for (int t = 0; t < f; t++) {
                    for (int q = 0; q < p; q++) {
                        h[bb][ch][t][q] += v[bb][ch][t][q];
                    }
                }
            }
        }
        return ZeroscopeGolden.toFrames(h);
    }

    @Test
    void matchesNaiveReferenceOnFixtureWeights() {
        int b = 2;
        int f = 3;
        int hgt = 2;
        int wid = 3;
        String[] prefixes = {"down_blocks.0.temp_convs.0.", "down_blocks.1.temp_convs.1.", "mid_block.temp_convs.0."};
        try (NDManager m = NDManager.newBaseManager(); SafetensorsFile st = ZeroscopeGolden.unet()) {
            for (String prefix : prefixes) {
                TemporalConvLayer layer = TemporalConvLayer.load(st, prefix, 4, 1e-5f, m);
                int c = layer.channels();
                float[] x = ZeroscopeGolden.gaussian(b * f * c * hgt * wid, prefix.hashCode());
                NDArray out = layer.forward(m.create(x).reshape(b * f, c, hgt, wid), f);
                assertEquals(new Shape(b * f, c, hgt, wid), out.getShape());
                double[] ref = reference(st, prefix, x, b, f, c, hgt * wid, 4);
                double err = ZeroscopeGolden.maxAbs(out.toFloatArray(), ref);
                double tol = 1e-5 * ZeroscopeGolden.maxAbsRef(ref);
                System.out.printf("TemporalConvLayer %s: max abs %.3e (tol %.1e)%n", prefix, err, tol);
                assertTrue(err <= tol, prefix + " max abs " + err);
            }
        }
    }

    @Test
    void framesOfOneBatchItemInteractButBatchItemsDoNot() {
        try (NDManager m = NDManager.newBaseManager(); SafetensorsFile st = ZeroscopeGolden.unet()) {
            TemporalConvLayer layer = TemporalConvLayer.load(st, "down_blocks.0.temp_convs.0.", 4, 1e-5f, m);
            int f = 3;
            NDArray x = m.create(ZeroscopeGolden.gaussian(2 * f * 12 * 4, 5)).reshape(2 * f, 12, 2, 2);
            NDArray base = layer.forward(x, f);
            NDArray x2 = x.duplicate();
            x2.set(new ai.djl.ndarray.index.NDIndex("0"), x.get(0).add(1f)); // perturb frame 0 of item 0
            NDArray moved = layer.forward(x2, f).sub(base).abs();
            assertTrue(moved.get(1).max().getFloat() > 1e-3, "frame 1 of item 0 must change");
            assertEquals(0f, moved.get("3:").max().getFloat(), 0f, "item 1 must not change");
        }
    }

    @Test
    void errors() {
        try (NDManager m = NDManager.newBaseManager(); SafetensorsFile st = ZeroscopeGolden.unet()) {
            assertThrows(ModelFormatException.class, () -> TemporalConvLayer.load(st, "nope.", 4, 1e-5f, m));
            assertThrows(ModelFormatException.class,
                    () -> TemporalConvLayer.load(st, "down_blocks.0.temp_convs.0.", 5, 1e-5f, m));
            TemporalConvLayer layer = TemporalConvLayer.load(st, "down_blocks.0.temp_convs.0.", 4, 1e-5f, m);
            assertThrows(InvalidInputException.class, () -> layer.forward(m.zeros(new Shape(4, 12, 2, 2)), 3));
            assertThrows(InvalidInputException.class, () -> layer.forward(m.zeros(new Shape(3, 8, 2, 2)), 3));
        }
    }
}
