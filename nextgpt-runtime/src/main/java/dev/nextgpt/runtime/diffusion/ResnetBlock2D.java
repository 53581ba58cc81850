package dev.nextgpt.runtime.diffusion;

import ai.djl.ndarray.NDArray;
import dev.nextgpt.runtime.diffusion.Layers.Conv2d;
import dev.nextgpt.runtime.diffusion.Layers.GroupNorm;
import dev.nextgpt.runtime.diffusion.Layers.Linear;

/**
 * diffusers {@code ResnetBlock2D}: {@code h = conv1(act(norm1(x)))}, plus the projected time embedding (added, or
 * {@code scale_shift} after norm2), {@code h = conv2(act(norm2(h)))}, {@code out = (shortcut(x) + h) / scale}.
 * The time projection and the 1x1 (or 3x3) shortcut are present when the checkpoint has them.
 */
public final class ResnetBlock2D {
    private final GroupNorm norm1;
    private final Conv2d conv1;
    private final Linear timeEmbProj;
    private final GroupNorm norm2;
    private final Conv2d conv2;
    private final Conv2d shortcut;
    private final String act;
    private final boolean scaleShift;
    private final boolean skipTimeAct;
    private final float outputScale;

    /**
     * @param groups       GroupNorm groups (the same for norm1 and norm2, as diffusers' default)
     * @param eps          GroupNorm eps
     * @param act          activation ({@code silu} in SD)
     * @param timeNorm     {@code default} (add) or {@code scale_shift}
     * @param outputScale  the {@code output_scale_factor} the sum is divided by
     */
    public ResnetBlock2D(Weights w, int groups, double eps, String act, String timeNorm, boolean skipTimeAct,
                         double outputScale) {
        this.norm1 = GroupNorm.load(w, "norm1", groups, eps);
        this.conv1 = Conv2d.load(w, "conv1", 1);
        this.timeEmbProj = w.has("time_emb_proj.weight") ? Linear.load(w, "time_emb_proj") : null;
        this.norm2 = GroupNorm.load(w, "norm2", groups, eps);
        this.conv2 = Conv2d.load(w, "conv2", 1);
        this.shortcut = w.has("conv_shortcut.weight") ? Conv2d.load(w, "conv_shortcut", 1) : null;
        this.act = act;
        this.scaleShift = "scale_shift".equals(timeNorm);
        this.skipTimeAct = skipTimeAct;
        this.outputScale = (float) outputScale;
        if (!"default".equals(timeNorm) && !scaleShift) {
            throw new dev.nextgpt.UnsupportedConfigurationException("resnet_time_scale_shift '" + timeNorm
                    + "' is not supported (default, scale_shift)");
        }
    }

    /** SD's usual resnet: silu, additive time embedding, scale 1. */
    public ResnetBlock2D(Weights w, int groups, double eps) {
        this(w, groups, eps, "silu", "default", false, 1.0);
    }

    /**
     * @param x    [B, C, H, W] (or any rank with channels on axis 1 when the 2-D convs are applied per frame by
     *             the caller)
     * @param temb [B, T] time embedding or null (VAE)
     */
    public NDArray forward(NDArray x, NDArray temb) {
        NDArray h = conv1.forward(Layers.activation(act, norm1.forward(x)));
        NDArray scale = null;
        NDArray shift = null;
        if (timeEmbProj != null && temb != null) {
            NDArray t = timeEmbProj.forward(skipTimeAct ? temb : Layers.activation(act, temb));
            t = t.reshape(t.getShape().get(0), t.getShape().get(1), 1, 1);
            if (scaleShift) {
                long c = t.getShape().get(1) / 2;
                scale = t.get(":, :{}", c);
                shift = t.get(":, {}:", c);
            } else {
                h = h.add(t);
            }
        }
        h = norm2.forward(h);
        if (scale != null) {
            h = h.mul(scale.add(1f)).add(shift);
        }
        h = conv2.forward(Layers.activation(act, h));
        NDArray skip = shortcut != null ? shortcut.forward(x) : x;
        NDArray out = skip.add(h);
        return outputScale == 1f ? out : out.div(outputScale);
    }

    public long outChannels() {
        return conv2.outChannels();
    }
}
