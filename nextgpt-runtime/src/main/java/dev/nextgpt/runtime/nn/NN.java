package dev.nextgpt.runtime.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * Functional building blocks shared by the networks (PyTorch semantics). Weights use the PyTorch layout: a Linear
 * weight is {@code [out, in]} and {@code y = x·Wᵀ + b}.
 */
public final class NN {
    private NN() {
    }

    /** {@code x·Wᵀ + b} over the last axis of {@code x} (any rank); {@code bias} may be null. */
    public static NDArray linear(NDArray x, NDArray weight, NDArray bias) {
        NDArray y = x.matMul(weight.transpose());
        if (bias != null) {
            y.addi(bias);
        }
        return y;
    }

    /** LayerNorm over the last axis, eps inside the square root, biased variance (PyTorch). */
    public static NDArray layerNorm(NDArray x, NDArray weight, NDArray bias, float eps) {
        long d = x.getShape().get(x.getShape().dimension() - 1);
        return ai.djl.nn.norm.LayerNorm.layerNorm(x, new Shape(d), weight, bias, eps).singletonOrThrow();
    }

    /** GELU, exact erf form: {@code 0.5·x·(1 + erf(x/√2))}. */
    public static NDArray gelu(NDArray x) {
        return x.mul(0.5f).mul(x.mul((float) (1.0 / Math.sqrt(2.0))).erf().add(1f));
    }

    /** GELU, tanh approximation ({@code gelu_pytorch_tanh} / {@code quick} variants are network specific). */
    public static NDArray geluTanh(NDArray x) {
        NDArray inner = x.add(x.pow(3).mul(0.044715f)).mul((float) Math.sqrt(2.0 / Math.PI)).tanh();
        return x.mul(0.5f).mul(inner.add(1f));
    }

    /** SiLU / swish: {@code x·sigmoid(x)}. */
    public static NDArray silu(NDArray x) {
        return x.mul(ai.djl.nn.Activation.sigmoid(x));
    }

    /** ReLU. */
    public static NDArray relu(NDArray x) {
        return ai.djl.nn.Activation.relu(x);
    }
}
