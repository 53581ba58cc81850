package dev.nextgpt.runtime.zeroscope;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.io.TensorStore;
import dev.nextgpt.runtime.nn.NN;

import java.util.ArrayList;
import java.util.List;

/**
 * diffusers' {@code TransformerTemporalModel}: attention across the frames of each pixel. Input
 * {@code (B·F, C, H, W)} → GroupNorm (eps 1e-6) over {@code (B, C, F, H, W)} → tokens {@code (B·H·W, F, C)} →
 * {@code proj_in} → {@code BasicTransformerBlock}s whose {@code attn1} and {@code attn2} are both self-attention
 * over frames (no positional embedding) and a GEGLU feed-forward → {@code proj_out} → back to
 * {@code (B·F, C, H, W)} → + input.
 *
 * <p>In {@code UNet3DConditionModel}, {@code transformer_in} has 8 heads of {@code attention_head_dim}, and each
 * block's {@code temp_attentions.N} has {@code C / attention_head_dim} heads of {@code attention_head_dim}.
 */
public final class TransformerTemporalModel {

    /**
     * @param numHeads    attention heads
     * @param headDim     size of one head; inner dim = numHeads·headDim
     * @param normGroups  GroupNorm groups ({@code norm_num_groups})
     * @param normEps     GroupNorm eps (1e-6 in diffusers)
     * @param layerNormEps LayerNorm eps of the transformer blocks (1e-5)
     */
    public record Config(int numHeads, int headDim, int normGroups, double normEps, double layerNormEps) {
        public Config {
            if (numHeads <= 0 || headDim <= 0 || normGroups <= 0) {
                throw new InvalidInputException("TransformerTemporalModel needs positive heads/head dim/groups, got "
                        + numHeads + "/" + headDim + "/" + normGroups);
            }
        }

        /** diffusers' defaults: GroupNorm eps 1e-6, LayerNorm eps 1e-5. */
        public static Config of(int numHeads, int headDim, int normGroups) {
            return new Config(numHeads, headDim, normGroups, 1e-6, 1e-5);
        }

        public int innerDim() {
            return numHeads * headDim;
        }
    }

    /** Linear with the weight pre-transposed to {@code [in, out]} (so results live in the input's manager). */
    private record Dense(NDArray weightT, NDArray bias) {
        NDArray apply(NDArray x) {
            NDArray y = x.matMul(weightT);
            return bias == null ? y : y.add(bias);
        }
    }

    private record Attention(Dense q, Dense k, Dense v, Dense out) {
    }

    private record Block(NDArray norm1W, NDArray norm1B, Attention attn1, NDArray norm2W, NDArray norm2B,
                         Attention attn2, NDArray norm3W, NDArray norm3B, Dense ffProj, Dense ffOut) {
    }

    private final Config config;
    private final int channels;
    private final NDArray normWeight;
    private final NDArray normBias;
    private final Dense projIn;
    private final List<Block> blocks;
    private final Dense projOut;

    private TransformerTemporalModel(Config config, int channels, NDArray normWeight, NDArray normBias, Dense projIn,
                                     List<Block> blocks, Dense projOut) {
        this.config = config;
        this.channels = channels;
        this.normWeight = normWeight;
        this.normBias = normBias;
        this.projIn = projIn;
        this.blocks = blocks;
        this.projOut = projOut;
    }

    /** Loads {@code prefix + "norm.weight"}, {@code proj_in}, {@code transformer_blocks.N.*}, {@code proj_out}. */
    public static TransformerTemporalModel load(TensorStore store, String prefix, Config cfg, NDManager weights) {
        String normName = prefix + "norm.weight";
        if (!store.contains(normName)) {
            throw new ModelFormatException(store.source() + ": tensor '" + normName + "' is missing");
        }
        int c = (int) store.info(normName).shape()[0];
        int d = cfg.innerDim();
        if (c % cfg.normGroups() != 0) {
            throw new ModelFormatException(store.source() + ": " + prefix + " has " + c
                    + " channels, not divisible into " + cfg.normGroups() + " groups");
        }
        Loader l = new Loader(store, weights);
        List<Block> blocks = new ArrayList<>();
        for (int i = 0; store.contains(prefix + "transformer_blocks." + i + ".norm1.weight"); i++) {
            String p = prefix + "transformer_blocks." + i + ".";
            long ffInner = store.info(p + "ff.net.2.weight").shape()[1];
            blocks.add(new Block(l.tensor(p + "norm1.weight", d), l.tensor(p + "norm1.bias", d),
                    l.attention(p + "attn1.", d), l.tensor(p + "norm2.weight", d), l.tensor(p + "norm2.bias", d),
                    l.attention(p + "attn2.", d), l.tensor(p + "norm3.weight", d), l.tensor(p + "norm3.bias", d),
                    l.dense(p + "ff.net.0.proj.", d, 2 * ffInner, true), l.dense(p + "ff.net.2.", ffInner, d, true)));
        }
        if (blocks.isEmpty()) {
            throw new ModelFormatException(store.source() + ": no '" + prefix + "transformer_blocks.0.*' tensors");
        }
        return new TransformerTemporalModel(cfg, c, FrameLayout.affineShaped(l.tensor(normName, c), 5),
                FrameLayout.affineShaped(l.tensor(prefix + "norm.bias", c), 5), l.dense(prefix + "proj_in.", c, d, true),
                List.copyOf(blocks), l.dense(prefix + "proj_out.", d, c, true));
    }

    public Config config() {
        return config;
    }

    public int channels() {
        return channels;
    }

    /** {@code (B·F, C, H, W)} → {@code (B·F, C, H, W)}. */
    public NDArray forward(NDArray x, int numFrames) {
        NDArray video = FrameLayout.toVideo(x, numFrames); // (B, C, F, H, W)
        Shape s = video.getShape();
        if (s.get(1) != channels) {
            throw new InvalidInputException("TransformerTemporalModel expects " + channels + " channels, input is "
                    + x.getShape());
        }
        long b = s.get(0);
        long f = s.get(2);
        long h = s.get(3);
        long w = s.get(4);
        NDArray n = FrameLayout.groupNorm(video, config.normGroups(), normWeight, normBias, (float) config.normEps());
        NDArray tokens = n.transpose(0, 3, 4, 2, 1).reshape(b * h * w, f, channels);
        NDArray t = projIn.apply(tokens);
        for (Block blk : blocks) {
            t = block(t, blk);
        }
        NDArray out = projOut.apply(t).reshape(b, h, w, f, channels).transpose(0, 3, 4, 1, 2)
                .reshape(b * f, channels, h, w);
        return out.add(x);
    }

    private NDArray block(NDArray x, Block b) {
        float eps = (float) config.layerNormEps();
        x = attention(NN.layerNorm(x, b.norm1W, b.norm1B, eps), b.attn1).add(x);
        x = attention(NN.layerNorm(x, b.norm2W, b.norm2B, eps), b.attn2).add(x);
        NDArray proj = b.ffProj.apply(NN.layerNorm(x, b.norm3W, b.norm3B, eps));
        long inner = proj.getShape().get(2) / 2;
        NDArray hidden = proj.get(":, :, :{}", inner);
        NDArray gate = proj.get(":, :, {}:", inner);
        return b.ffOut.apply(hidden.mul(NN.gelu(gate))).add(x);
    }

    /** Multi-head self-attention over the sequence axis: {@code softmax(q·kᵀ·d^-0.5)·v}, then {@code to_out.0}. */
    private NDArray attention(NDArray x, Attention a) {
        Shape s = x.getShape();
        long n = s.get(0);
        long len = s.get(1);
        int heads = config.numHeads();
        int hd = config.headDim();
        NDArray q = a.q.apply(x).reshape(n, len, heads, hd).transpose(0, 2, 1, 3);
        NDArray k = a.k.apply(x).reshape(n, len, heads, hd).transpose(0, 2, 1, 3);
        NDArray v = a.v.apply(x).reshape(n, len, heads, hd).transpose(0, 2, 1, 3);
        NDArray scores = q.matMul(k.transpose(0, 1, 3, 2)).mul((float) (1.0 / Math.sqrt(hd)));
        NDArray ctx = scores.softmax(-1).matMul(v).transpose(0, 2, 1, 3).reshape(n, len, (long) heads * hd);
        return a.out.apply(ctx);
    }

    /** Loads and shape-checks tensors into the weights manager. */
    private record Loader(TensorStore store, NDManager weights) {
        NDArray tensor(String name, long... shape) {
            if (!store.contains(name)) {
                throw new ModelFormatException(store.source() + ": tensor '" + name + "' is missing");
            }
            NDArray t = store.load(weights, name);
            if (!t.getShape().equals(new Shape(shape))) {
                throw new ModelFormatException(store.source() + ": tensor '" + name + "' has shape " + t.getShape()
                        + ", expected " + new Shape(shape));
            }
            return t;
        }

        Dense dense(String prefix, long in, long out, boolean bias) {
            NDArray wt = tensor(prefix + "weight", out, in);
            NDArray t = wt.transpose().duplicate();
            wt.close();
            return new Dense(t, bias ? tensor(prefix + "bias", out) : null);
        }

        Attention attention(String prefix, int d) {
            return new Attention(dense(prefix + "to_q.", d, d, false), dense(prefix + "to_k.", d, d, false),
                    dense(prefix + "to_v.", d, d, false), dense(prefix + "to_out.0.", d, d, true));
        }
    }
}
