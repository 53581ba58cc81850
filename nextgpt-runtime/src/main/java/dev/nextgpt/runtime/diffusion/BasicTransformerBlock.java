package dev.nextgpt.runtime.diffusion;

import ai.djl.ndarray.NDArray;
import dev.nextgpt.runtime.diffusion.Layers.LayerNorm;
import dev.nextgpt.runtime.diffusion.Layers.Linear;
import dev.nextgpt.runtime.nn.NN;

/**
 * diffusers {@code BasicTransformerBlock} (layer-norm type): {@code x += attn1(norm1(x))} (self-attention, or
 * cross-attention when {@code only_cross_attention}), {@code x += attn2(norm2(x), context)} when the checkpoint
 * has {@code attn2}, {@code x += ff(norm3(x))}. The feed-forward is GEGLU when {@code ff.net.0.proj} has twice the
 * inner width (SD), else GELU.
 */
public final class BasicTransformerBlock {
    private final LayerNorm norm1;
    private final Attention attn1;
    private final LayerNorm norm2;
    private final Attention attn2;
    private final LayerNorm norm3;
    private final FeedForward ff;
    private final boolean onlyCrossAttention;

    public BasicTransformerBlock(Weights w, int heads, double normEps, boolean onlyCrossAttention,
                                 String activationFn) {
        this.norm1 = LayerNorm.load(w, "norm1", normEps);
        this.attn1 = new Attention(w.sub("attn1"), heads);
        boolean hasAttn2 = w.hasModule("attn2");
        this.norm2 = hasAttn2 ? LayerNorm.load(w, "norm2", normEps) : null;
        this.attn2 = hasAttn2 ? new Attention(w.sub("attn2"), heads) : null;
        this.norm3 = LayerNorm.load(w, "norm3", normEps);
        this.ff = new FeedForward(w.sub("ff"), activationFn);
        this.onlyCrossAttention = onlyCrossAttention;
    }

    /**
     * @param x       [B, N, C]
     * @param context [B, M, Cc] encoder hidden states, or null (attention then attends to x itself)
     */
    public NDArray forward(NDArray x, NDArray context) {
        NDArray h = x.add(attn1.forward(norm1.forward(x), onlyCrossAttention ? context : null));
        if (attn2 != null) {
            h = h.add(attn2.forward(norm2.forward(h), context));
        }
        return h.add(ff.forward(norm3.forward(h)));
    }

    /** diffusers {@code FeedForward}: GEGLU / GELU projection then {@code net.2}. */
    public static final class FeedForward {
        private final Linear proj;
        private final Linear out;
        private final boolean geglu;
        private final boolean tanh;

        public FeedForward(Weights w, String activationFn) {
            this.proj = Linear.load(w, "net.0.proj");
            this.out = Linear.load(w, "net.2");
            this.geglu = proj.outFeatures() == 2 * out.inFeatures();
            this.tanh = activationFn != null && activationFn.contains("approximate");
        }

        public NDArray forward(NDArray x) {
            NDArray h = proj.forward(x);
            if (geglu) {
                long inner = out.inFeatures();
                NDArray value = h.get("..., :{}", inner);
                NDArray gate = h.get("..., {}:", inner);
                h = value.mul(tanh ? NN.geluTanh(gate) : NN.gelu(gate));
            } else {
                h = tanh ? NN.geluTanh(h) : NN.gelu(h);
            }
            return out.forward(h);
        }
    }
}
