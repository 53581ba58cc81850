package dev.nextgpt.runtime.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.runtime.diffusion.Layers.GroupNorm;
import dev.nextgpt.runtime.diffusion.Layers.Linear;

/**
 * diffusers {@code Transformer2DModel} (continuous input): GroupNorm (eps 1e-6), {@code proj_in} (1x1 conv before
 * flattening, or Linear after flattening when {@code use_linear_projection}: detected from the weight rank),
 * transformer blocks over the H·W tokens (token = h·W + w), {@code proj_out} mirrored, plus the input residual.
 */
public final class Transformer2D {
    private final GroupNorm norm;
    private final Linear projIn;
    private final Linear projOut;
    /** Whether the checkpoint uses Linear projections ({@code use_linear_projection}) rather than 1x1 convs. */
    private final boolean linearProjection;
    private final BasicTransformerBlock[] blocks;

    /**
     * @param heads  attention heads
     * @param groups GroupNorm groups ({@code norm_num_groups})
     */
    public Transformer2D(Weights w, int heads, int groups, boolean onlyCrossAttention, String activationFn) {
        this.norm = GroupNorm.load(w, "norm", groups, 1e-6);
        this.linearProjection = w.shape("proj_in.weight").length == 2;
        this.projIn = Linear.load(w, "proj_in");
        this.projOut = Linear.load(w, "proj_out");
        int n = w.count("transformer_blocks");
        if (n == 0) {
            throw w.error("transformer_blocks.0", "is missing (no transformer blocks)");
        }
        this.blocks = new BasicTransformerBlock[n];
        for (int i = 0; i < n; i++) {
            blocks[i] = new BasicTransformerBlock(w.sub("transformer_blocks." + i), heads, 1e-5, onlyCrossAttention,
                    activationFn);
        }
    }

    public boolean linearProjection() {
        return linearProjection;
    }

    /**
     * @param x       [B, C, H, W]
     * @param context [B, M, Cc] or null
     */
    public NDArray forward(NDArray x, NDArray context) {
        Shape s = x.getShape();
        long b = s.get(0);
        long c = s.get(1);
        long hw = s.get(2) * s.get(3);
        NDArray h = norm.forward(x);
        // linear projection flattens first; a 1x1 conv projection (SD-1.x) is the same Linear over channels
        h = projIn.forward(h.reshape(b, c, hw).transpose(0, 2, 1));
        for (BasicTransformerBlock blk : blocks) {
            h = blk.forward(h, context);
        }
        h = projOut.forward(h);
        h = h.transpose(0, 2, 1).reshape(b, projOut.outFeatures(), s.get(2), s.get(3));
        return h.add(x);
    }
}
