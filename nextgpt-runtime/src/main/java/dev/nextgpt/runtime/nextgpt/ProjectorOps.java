package dev.nextgpt.runtime.nextgpt;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import dev.nextgpt.runtime.nn.NN;

/**
 * Small tensor helpers for the projectors. Every op takes the activation as its first operand so that results land
 * in the activation's manager (never in the long-lived weight manager).
 */
final class ProjectorOps {
    private ProjectorOps() {
    }

    /** {@code x·Wᵀ + b} (PyTorch {@code F.linear}); {@code bias} may be null. */
    static NDArray linear(NDArray x, NDArray weight, NDArray bias) {
        return (bias == null ? Linear.linear(x, weight) : Linear.linear(x, weight, bias)).singletonOrThrow();
    }

    static NDArray layerNorm(NDArray x, NDArray weight, NDArray bias, float eps) {
        return NN.layerNorm(x, weight, bias, eps);
    }

    /** A Linear layer's parameters ({@code bias} may be null). */
    record Dense(NDArray weight, NDArray bias) {
        NDArray apply(NDArray x) {
            return linear(x, weight, bias);
        }

        long outFeatures() {
            return weight.getShape().get(0);
        }

        long inFeatures() {
            return weight.getShape().get(1);
        }

        static Dense load(PrefixedWeights w, String name, long out, long in, boolean requireBias) {
            String dot = name.isEmpty() ? "" : name + ".";
            NDArray weight = w.get(dot + "weight", out, in);
            NDArray bias = requireBias ? w.get(dot + "bias", out) : w.optional(dot + "bias", out);
            return new Dense(weight, bias);
        }
    }

    /** LayerNorm parameters. */
    record Norm(NDArray weight, NDArray bias, float eps) {
        NDArray apply(NDArray x) {
            return layerNorm(x, weight, bias, eps);
        }

        static Norm load(PrefixedWeights w, String name, long dim, float eps) {
            return new Norm(w.get(name + ".weight", dim), w.get(name + ".bias", dim), eps);
        }
    }

    /**
     * Scaled dot-product attention over already projected {@code q [B,N,C]}, {@code k, v [B,S,C]} with {@code heads}
     * heads of width {@code C/heads}; softmax over the keys, no mask. Returns the concatenated heads {@code [B,N,C]}.
     */
    static NDArray attention(NDArray q, NDArray k, NDArray v, int heads, double scale) {
        Shape qs = q.getShape();
        long b = qs.get(0);
        long n = qs.get(1);
        long c = qs.get(2);
        long s = k.getShape().get(1);
        long d = c / heads;
        NDArray qh = q.reshape(b, n, heads, d).transpose(0, 2, 1, 3);
        NDArray kh = k.reshape(b, s, heads, d).transpose(0, 2, 3, 1);
        NDArray vh = v.reshape(b, s, heads, d).transpose(0, 2, 1, 3);
        NDArray probs = qh.matMul(kh).mul((float) scale).softmax(-1);
        return probs.matMul(vh).transpose(0, 2, 1, 3).reshape(b, n, c);
    }

    /** Makes a private copy of {@code x} inside {@code manager}, so the following ops allocate there. */
    static NDArray into(NDArray x, NDManager manager) {
        NDArray copy = x.duplicate();
        copy.attach(manager);
        return copy;
    }

    /** Moves {@code a} to {@code target} (it survives the closing of the scratch manager). */
    static NDArray keep(NDArray a, NDManager target) {
        a.attach(target);
        return a;
    }
}
