package dev.nextgpt.train.optim;

import ai.djl.ndarray.NDArray;

import java.util.Collection;

/** Global-norm gradient clipping as {@code torch.nn.utils.clip_grad_norm_} (and DeepSpeed) computes it. */
public final class GradientClipping {
    private GradientClipping() {
    }

    /** The global L2 norm over all gradients. */
    public static double globalNorm(Collection<NDArray> grads) {
        double sum = 0;
        for (NDArray g : grads) {
            sum += g.square().sum().toType(ai.djl.ndarray.types.DataType.FLOAT64, false).getDouble();
        }
        return Math.sqrt(sum);
    }

    /**
     * Scales all gradients in place by {@code maxNorm / (norm + 1e-6)} when that factor is below 1; returns the
     * norm before clipping.
     */
    public static double clipGlobalNorm(Collection<NDArray> grads, double maxNorm) {
        double norm = globalNorm(grads);
        double coef = maxNorm / (norm + 1e-6);
        if (coef < 1) {
            for (NDArray g : grads) {
                g.muli(coef);
            }
        }
        return norm;
    }
}
