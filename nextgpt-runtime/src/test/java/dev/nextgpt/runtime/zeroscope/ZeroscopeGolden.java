package dev.nextgpt.runtime.zeroscope;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.runtime.io.SafetensorsFile;

import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Copied Zeroscope fixture files, and a naive float64 reference of the temporal layers for the tests. */
final class ZeroscopeGolden {
    private ZeroscopeGolden() {
    }

    static Path root() {
        URL url = ZeroscopeGolden.class.getClassLoader().getResource("golden/zeroscope/unet/config.json");
        if (url == null) {
            throw new IllegalStateException("test resource golden/zeroscope is missing");
        }
        try {
            return Path.of(url.toURI()).getParent().getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static SafetensorsFile unet() {
        return SafetensorsFile.open(root().resolve("unet/diffusion_pytorch_model.safetensors"));
    }

    static SafetensorsFile openCase(String name) {
        return SafetensorsFile.open(root().resolve("cases").resolve(name + ".safetensors"));
    }

    /** Loads a case tensor into {@code m} as FLOAT32 (I64 stays I64). */
    static NDArray load(NDManager m, SafetensorsFile f, String name) {
        return f.load(m, name);
    }

    static double scale(float[] ref) {
        double m = 1;
        for (float v : ref) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }

    /**
     * Asserts the shape, {@code max|got-ref| <= absTol·s} (s = max(1, max|ref|) when {@code scaled}) and, when
     * {@code relL2Tol > 0}, {@code ‖got-ref‖/‖ref‖ <= relL2Tol}, all in double. Prints the measured errors.
     */
    static double assertClose(String what, NDArray got, float[] ref, long[] refShape, double absTol, boolean scaled,
                              double relL2Tol) {
        assertArrayEquals(refShape, got.getShape().getShape(), what + " shape");
        float[] g = got.toType(DataType.FLOAT32, false).toFloatArray();
        double max = 0;
        double num = 0;
        double den = 0;
        for (int i = 0; i < ref.length; i++) {
            double d = (double) g[i] - ref[i];
            max = Math.max(max, Math.abs(d));
            num += d * d;
            den += (double) ref[i] * ref[i];
        }
        double rel = Math.sqrt(num / den);
        double tol = absTol * (scaled ? scale(ref) : 1);
        System.out.printf("%s: max abs %.3e (tol %.1e), rel-L2 %.3e%s%n", what, max, tol, rel,
                relL2Tol > 0 ? String.format(" (tol %.1e)", relL2Tol) : "");
        assertTrue(max <= tol, what + ": max abs " + max + " > " + tol);
        if (relL2Tol > 0) {
            assertTrue(rel <= relL2Tol, what + ": rel-L2 " + rel + " > " + relL2Tol);
        }
        return max;
    }

    static double assertClose(String what, NDArray got, SafetensorsFile f, String refName, double absTol,
                              boolean scaled, double relL2Tol) {
        return assertClose(what, got, f.readFloats(refName), f.info(refName).shape(), absTol, scaled, relL2Tol);
    }

    /** uint8 frames: same shape, max difference ≤ 1 level and at most 0.5% of the values differ. */
    static void assertFramesUint8(String what, NDArray got, SafetensorsFile f, String refName) {
        assertArrayEquals(f.info(refName).shape(), got.getShape().getShape(), what + " shape");
        java.nio.ByteBuffer raw = f.rawBytes(refName);
        byte[] g = got.toByteArray();
        int differ = 0;
        int max = 0;
        for (int i = 0; i < g.length; i++) {
            int d = Math.abs((g[i] & 0xff) - (raw.get(raw.position() + i) & 0xff));
            max = Math.max(max, d);
            if (d != 0) {
                differ++;
            }
        }
        System.out.printf("%s: max level diff %d, %d of %d values differ%n", what, max, differ, g.length);
        assertTrue(max <= 1, what + ": max level difference " + max);
        assertTrue(differ <= 0.005 * g.length, what + ": " + differ + " values differ");
    }

    static float[] gaussian(int n, long seed) {
        Random r = new Random(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return a;
    }

    static double maxAbs(float[] a, double[] ref) {
        double m = 0;
        for (int i = 0; i < ref.length; i++) {
            m = Math.max(m, Math.abs(a[i] - ref[i]));
        }
        return m;
    }

    static double maxAbsRef(double[] ref) {
        double m = 1;
        for (double v : ref) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Naive reference, written index by index from the diffusers semantics (video index [b][c][f][p], p = h·W + w).

    /** GroupNorm over (B, C, F, P): per b and group, over the group's channels × F × P. */
    static double[][][][] groupNorm(double[][][][] x, int groups, float[] gamma, float[] beta, double eps) {
        int b = x.length;
        int c = x[0].length;
        int f = x[0][0].length;
        int p = x[0][0][0].length;
        int cg = c / groups;
        double[][][][] y = new double[b][c][f][p];
        for (int n = 0; n < b; n++) {
            for (int g = 0; g < groups; g++) {
                double sum = 0;
                int count = cg * f * p;
                for (int ch = g * cg; ch < (g + 1) * cg; ch++) {
                    for (int t = 0; t < f; t++) {
                        for (int q = 0; q < p; q++) {
                            sum += x[n][ch][t][q];
                        }
                    }
                }
                double mean = sum / count;
                double var = 0;
                for (int ch = g * cg; ch < (g + 1) * cg; ch++) {
                    for (int t = 0; t < f; t++) {
                        for (int q = 0; q < p; q++) {
                            var += (x[n][ch][t][q] - mean) * (x[n][ch][t][q] - mean);
                        }
                    }
                }
                var /= count;
                for (int ch = g * cg; ch < (g + 1) * cg; ch++) {
                    for (int t = 0; t < f; t++) {
                        for (int q = 0; q < p; q++) {
                            y[n][ch][t][q] = (x[n][ch][t][q] - mean) / Math.sqrt(var + eps) * gamma[ch] + beta[ch];
                        }
                    }
                }
            }
        }
        return y;
    }

    /** (B·F, C, H, W) flat row-major → [b][c][f][p]. */
    static double[][][][] toVideo(float[] frames, int b, int f, int c, int p) {
        double[][][][] v = new double[b][c][f][p];
        for (int n = 0; n < b; n++) {
            for (int t = 0; t < f; t++) {
                for (int ch = 0; ch < c; ch++) {
                    for (int q = 0; q < p; q++) {
                        v[n][ch][t][q] = frames[(((n * f + t) * c) + ch) * p + q];
                    }
                }
            }
        }
        return v;
    }

    /** [b][c][f][p] → (B·F, C, H, W) flat. */
    static double[] toFrames(double[][][][] v) {
        int b = v.length;
        int c = v[0].length;
        int f = v[0][0].length;
        int p = v[0][0][0].length;
        double[] out = new double[b * f * c * p];
        for (int n = 0; n < b; n++) {
            for (int t = 0; t < f; t++) {
                for (int ch = 0; ch < c; ch++) {
                    for (int q = 0; q < p; q++) {
                        out[(((n * f + t) * c) + ch) * p + q] = v[n][ch][t][q];
                    }
                }
            }
        }
        return out;
    }

    /** y = x·Wᵀ + b for one vector; W row-major [out][in]. */
    static double[] linear(double[] x, float[] w, float[] bias, int out) {
        int in = x.length;
        double[] y = new double[out];
        for (int o = 0; o < out; o++) {
            double s = bias == null ? 0 : bias[o];
            for (int i = 0; i < in; i++) {
                s += w[o * in + i] * x[i];
            }
            y[o] = s;
        }
        return y;
    }

    static double[] layerNorm(double[] x, float[] gamma, float[] beta, double eps) {
        double mean = 0;
        for (double v : x) {
            mean += v;
        }
        mean /= x.length;
        double var = 0;
        for (double v : x) {
            var += (v - mean) * (v - mean);
        }
        var /= x.length;
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            y[i] = (x[i] - mean) / Math.sqrt(var + eps) * gamma[i] + beta[i];
        }
        return y;
    }

    static double gelu(double x) {
        return 0.5 * x * (1 + erf(x / Math.sqrt(2)));
    }

    /** erf to ~1e-16 via its Maclaurin series for |x| < 3 and the complementary continued fraction beyond. */
    static double erf(double x) {
        double ax = Math.abs(x);
        double r;
        if (ax < 3) {
            double term = ax;
            double sum = ax;
            for (int n = 1; n < 200; n++) {
                term *= -ax * ax / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.abs(add) < 1e-18) {
                    break;
                }
            }
            r = 2 / Math.sqrt(Math.PI) * sum;
        } else {
            double cf = 0;
            for (int n = 60; n >= 1; n--) {
                cf = n / 2.0 / (ax + cf);
            }
            r = 1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + cf);
        }
        return x < 0 ? -r : r;
    }
}
