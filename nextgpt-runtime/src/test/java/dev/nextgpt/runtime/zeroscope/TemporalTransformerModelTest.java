package dev.nextgpt.runtime.zeroscope;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.io.SafetensorsFile;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/**
 * TransformerTemporalModel ({@code transformer_in} and a block's {@code temp_attentions}) with the fixture UNet3D's
 * real weights against a naive float64 per-pixel implementation. Tolerance 1e-5·s.
 */
class TemporalTransformerModelTest {

    /** Multi-head self-attention over the frames of one pixel: x [F][D]. */
    private static double[][] attention(SafetensorsFile st, String p, double[][] x, int heads, int hd) {
        int f = x.length;
        int d = heads * hd;
        double[][] q = new double[f][];
        double[][] k = new double[f][];
        double[][] v = new double[f][];
        for (int t = 0; t < f; t++) {
            q[t] = ZeroscopeGolden.linear(x[t], st.readFloats(p + "to_q.weight"), null, d);
            k[t] = ZeroscopeGolden.linear(x[t], st.readFloats(p + "to_k.weight"), null, d);
            v[t] = ZeroscopeGolden.linear(x[t], st.readFloats(p + "to_v.weight"), null, d);
        }
        double[][] ctx = new double[f][d];
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < f; i++) {
                double[] s = new double[f];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < f; j++) {
                    double dot = 0;
                    for (int e = 0; e < hd; e++) {
                        dot += q[i][h * hd + e] * k[j][h * hd + e];
                    }
                    s[j] = dot / Math.sqrt(hd);
                    max = Math.max(max, s[j]);
                }
                double z = 0;
                for (int j = 0; j < f; j++) {
                    s[j] = Math.exp(s[j] - max);
                    z += s[j];
                }
                for (int j = 0; j < f; j++) {
                    for (int e = 0; e < hd; e++) {
                        ctx[i][h * hd + e] += s[j] / z * v[j][h * hd + e];
                    }
                }
            }
        }
        double[][] out = new double[f][];
        for (int t = 0; t < f; t++) {
            out[t] = ZeroscopeGolden.linear(ctx[t], st.readFloats(p + "to_out.0.weight"),
                    st.readFloats(p + "to_out.0.bias"), d);
        }
        return out;
    }

    private static double[] reference(SafetensorsFile st, String prefix, float[] x, int b, int f, int c, int p,
                                      int heads, int hd, int groups) {
        double[][][][] v = ZeroscopeGolden.toVideo(x, b, f, c, p);
        double[][][][] n = ZeroscopeGolden.groupNorm(v, groups, st.readFloats(prefix + "norm.weight"),
                st.readFloats(prefix + "norm.bias"), 1e-6);
        int d = heads * hd;
        String blk = prefix + "transformer_blocks.0.";
        int ffInner = (int) st.info(blk + "ff.net.2.weight").shape()[1];
        double[][][][] out = new double[b][c][f][p];
        for (int bb = 0; bb < b; bb++) {
            for (int q = 0; q < p; q++) {
                double[][] tok = new double[f][];
                for (int t = 0; t < f; t++) {
                    double[] in = new double[c];
                    for (int ch = 0; ch < c; ch++) {
                        in[ch] = n[bb][ch][t][q];
                    }
                    tok[t] = ZeroscopeGolden.linear(in, st.readFloats(prefix + "proj_in.weight"),
                            st.readFloats(prefix + "proj_in.bias"), d);
                }
                for (int a = 1; a <= 2; a++) {
                    double[][] normed = new double[f][];
                    for (int t = 0; t < f; t++) {
                        normed[t] = ZeroscopeGolden.layerNorm(tok[t], st.readFloats(blk + "norm" + a + ".weight"),
                                st.readFloats(blk + "norm" + a + ".bias"), 1e-5);
                    }
                    double[][] att = attention(st, blk + "attn" + a + ".", normed, heads, hd);
                    for (int t = 0; t < f; t++) {
                        for (int e = 0; e < d; e++) {
                            tok[t][e] += att[t][e];
                        }
                    }
                }
                for (int t = 0; t < f; t++) {
                    double[] ln = ZeroscopeGolden.layerNorm(tok[t], st.readFloats(blk + "norm3.weight"),
                            st.readFloats(blk + "norm3.bias"), 1e-5);
                    double[] proj = ZeroscopeGolden.linear(ln, st.readFloats(blk + "ff.net.0.proj.weight"),
                            st.readFloats(blk + "ff.net.0.proj.bias"), 2 * ffInner);
                    double[] geglu = new double[ffInner];
                    for (int e = 0; e < ffInner; e++) {
                        geglu[e] = proj[e] * ZeroscopeGolden.gelu(proj[ffInner + e]);
                    }
                    double[] ff = ZeroscopeGolden.linear(geglu, st.readFloats(blk + "ff.net.2.weight"),
                            st.readFloats(blk + "ff.net.2.bias"), d);
                    for (int e = 0; e < d; e++) {
                        tok[t][e] += ff[e];
                    }
                    double[] o = ZeroscopeGolden.linear(tok[t], st.readFloats(prefix + "proj_out.weight"),
                            st.readFloats(prefix + "proj_out.bias"), c);
                    for (int ch = 0; ch < c; ch++) {
                        out[bb][ch][t][q] = o[ch] + v[bb][ch][t][q];
                    }
                }
            }
        }
        return ZeroscopeGolden.toFrames(out);
    }

    private static void check(NDManager m, SafetensorsFile st, String prefix, int heads, int hd, int c) {
        int b = 2;
        int f = 3;
        int hgt = 2;
        int wid = 3;
        TransformerTemporalModel model = TransformerTemporalModel.load(st, prefix,
                TransformerTemporalModel.Config.of(heads, hd, 4), m);
        assertEquals(c, model.channels());
        float[] x = ZeroscopeGolden.gaussian(b * f * c * hgt * wid, prefix.hashCode());
        NDArray out = model.forward(m.create(x).reshape(b * f, c, hgt, wid), f);
        assertEquals(new Shape(b * f, c, hgt, wid), out.getShape());
        double[] ref = reference(st, prefix, x, b, f, c, hgt * wid, heads, hd, 4);
        double err = ZeroscopeGolden.maxAbs(out.toFloatArray(), ref);
        double tol = 1e-5 * ZeroscopeGolden.maxAbsRef(ref);
        System.out.printf("TransformerTemporalModel %s: max abs %.3e (tol %.1e)%n", prefix, err, tol);
        assertTrue(err <= tol, prefix + " max abs " + err);
    }

    @Test
    void transformerInMatchesNaiveReference() {
        // transformer_in: 8 heads of attention_head_dim (4) → inner 32, on conv_in's 12 channels.
        try (NDManager m = NDManager.newBaseManager(); SafetensorsFile st = ZeroscopeGolden.unet()) {
            check(m, st, "transformer_in.", 8, 4, 12);
        }
    }

    @Test
    void blockTemporalAttentionMatchesNaiveReference() {
        // temp_attentions in a 16-channel block: C / attention_head_dim = 4 heads of 4.
        try (NDManager m = NDManager.newBaseManager(); SafetensorsFile st = ZeroscopeGolden.unet()) {
            check(m, st, "down_blocks.1.temp_attentions.0.", 4, 4, 16);
            check(m, st, "mid_block.temp_attentions.0.", 6, 4, 24);
        }
    }

    @Test
    void permutingFramesPermutesTheOutput() {
        // No positional embedding and frame-symmetric GroupNorm statistics: frame order is only carried along.
        try (NDManager m = NDManager.newBaseManager(); SafetensorsFile st = ZeroscopeGolden.unet()) {
            TransformerTemporalModel model = TransformerTemporalModel.load(st, "transformer_in.",
                    TransformerTemporalModel.Config.of(8, 4, 4), m);
            NDArray x = m.create(ZeroscopeGolden.gaussian(3 * 12 * 4, 9)).reshape(3, 12, 2, 2);
            NDArray perm = m.create(new long[] {2, 0, 1});
            NDArray out = model.forward(x, 3);
            NDArray outOfPermuted = model.forward(x.get(new NDIndex("{}", perm)), 3);
            assertEquals(0f, outOfPermuted.sub(out.get(new NDIndex("{}", perm))).abs().max().getFloat(), 1e-5f);
            // ...but frames do see each other.
            NDArray x2 = x.duplicate();
            x2.set(new NDIndex("0"), x.get(0).add(1f));
            assertTrue(model.forward(x2, 3).sub(out).get("1:").abs().max().getFloat() > 1e-3);
        }
    }

    @Test
    void errors() {
        try (NDManager m = NDManager.newBaseManager(); SafetensorsFile st = ZeroscopeGolden.unet()) {
            assertThrows(ModelFormatException.class, () -> TransformerTemporalModel.load(st, "transformer_in.",
                    TransformerTemporalModel.Config.of(4, 4, 4), m)); // 16 ≠ inner 32
            assertThrows(ModelFormatException.class, () -> TransformerTemporalModel.load(st, "missing.",
                    TransformerTemporalModel.Config.of(8, 4, 4), m));
            TransformerTemporalModel model = TransformerTemporalModel.load(st, "transformer_in.",
                    TransformerTemporalModel.Config.of(8, 4, 4), m);
            assertThrows(InvalidInputException.class, () -> model.forward(m.zeros(new Shape(4, 12, 2, 2)), 3));
        }
    }
}
