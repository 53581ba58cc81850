package dev.nextgpt.runtime.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.runtime.diffusion.Layers.GroupNorm;
import dev.nextgpt.runtime.diffusion.Layers.Linear;

/**
 * diffusers {@code Attention} with the classic processor: {@code softmax(q·kᵀ·d^-1/2)·v} per head, heads split
 * head-major from the channel axis, then {@code to_out.0}. Keys/values come from the context (cross-attention) or
 * from the input itself when the context is null. Biases are used when present (the VAE has them, the UNet's
 * q/k/v do not). Old checkpoint names {@code query/key/value/proj_attn} are accepted.
 *
 * <p>The spatial form ({@link #forwardSpatial}) is the VAE mid-block attention: optional GroupNorm, NCHW →
 * tokens, attention, back to NCHW, plus the residual, divided by the rescale factor.
 */
public final class Attention {
    private final Linear toQ;
    private final Linear toK;
    private final Linear toV;
    private final Linear toOut;
    private final int heads;
    private final GroupNorm groupNorm;
    private final float rescale;

    /**
     * @param heads     number of heads (head dim = inner dim / heads)
     * @param groups    groups of the optional {@code group_norm} (VAE); ignored when absent
     * @param normEps   eps of that GroupNorm
     */
    public Attention(Weights w, int heads, int groups, double normEps, double rescaleOutputFactor) {
        boolean legacy = !w.has("to_q.weight") && w.has("query.weight");
        this.toQ = Linear.load(w, legacy ? "query" : "to_q");
        this.toK = Linear.load(w, legacy ? "key" : "to_k");
        this.toV = Linear.load(w, legacy ? "value" : "to_v");
        this.toOut = Linear.load(w, legacy ? "proj_attn" : "to_out.0");
        this.heads = heads;
        if (toQ.outFeatures() % heads != 0) {
            throw w.error(legacy ? "query.weight" : "to_q.weight", "has " + toQ.outFeatures()
                    + " output features, not divisible by " + heads + " heads");
        }
        this.groupNorm = w.has("group_norm.weight") ? GroupNorm.load(w, "group_norm", groups, normEps) : null;
        this.rescale = (float) rescaleOutputFactor;
    }

    /** Transformer-block attention without GroupNorm. */
    public Attention(Weights w, int heads) {
        this(w, heads, 1, 1e-6, 1.0);
    }

    /**
     * @param x       [B, N, C] queries
     * @param context [B, M, Cc] keys/values source, or null for self-attention
     */
    public NDArray forward(NDArray x, NDArray context) {
        NDArray kv = context != null ? context : x;
        NDArray q = toQ.forward(x);
        NDArray k = toK.forward(kv);
        NDArray v = toV.forward(kv);
        return toOut.forward(attend(q, k, v, heads));
    }

    /** Spatial self-attention over H·W tokens with GroupNorm and residual (VAE mid block). */
    public NDArray forwardSpatial(NDArray x) {
        Shape s = x.getShape();
        long b = s.get(0);
        long c = s.get(1);
        long hw = s.size() / (b * c);
        NDArray h = groupNorm != null ? groupNorm.forward(x) : x;
        h = h.reshape(b, c, hw).transpose(0, 2, 1);
        h = forward(h, null);
        h = h.transpose(0, 2, 1).reshape(s);
        NDArray out = h.add(x);
        return rescale == 1f ? out : out.div(rescale);
    }

    /** Multi-head scaled dot-product attention on [B, N, H·d] projections; returns [B, N, H·d]. */
    public static NDArray attend(NDArray q, NDArray k, NDArray v, int heads) {
        long b = q.getShape().get(0);
        long n = q.getShape().get(1);
        long m = k.getShape().get(1);
        long inner = q.getShape().get(2);
        long d = inner / heads;
        NDArray qh = q.reshape(b, n, heads, d).transpose(0, 2, 1, 3);
        NDArray kh = k.reshape(b, m, heads, d).transpose(0, 2, 3, 1);
        NDArray vh = v.reshape(b, m, heads, d).transpose(0, 2, 1, 3);
        NDArray scores = qh.matMul(kh).muli((float) (1.0 / Math.sqrt(d)));
        NDArray probs = scores.softmax(-1);
        return probs.matMul(vh).transpose(0, 2, 1, 3).reshape(b, n, inner);
    }
}
