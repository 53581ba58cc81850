package dev.nextgpt.runtime.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.runtime.nn.NN;

/**
 * Primitive layers of the diffusion networks (PyTorch semantics, weights in the PyTorch layout). Each holds its
 * weights (owned by the network's manager) and never allocates in that manager when called: every result belongs
 * to the manager of the input, so a caller can scope per-step temporaries with a sub-manager.
 */
public final class Layers {
    private Layers() {
    }

    /** {@code y = x·Wᵀ + b} over the last axis; a 1x1 conv weight {@code [O, I, 1, 1]} is accepted as well. */
    public static final class Linear {
        private final NDArray weightT;
        private final NDArray bias;
        private final long in;
        private final long out;

        public Linear(NDArray weight, NDArray bias) {
            NDArray w = weight.getShape().dimension() == 4 ? weight.reshape(weight.getShape().get(0),
                    weight.getShape().get(1)) : weight;
            this.out = w.getShape().get(0);
            this.in = w.getShape().get(1);
            this.weightT = w.transpose();
            this.bias = bias;
        }

        /** Loads {@code name.weight} and the optional {@code name.bias}. */
        public static Linear load(Weights w, String name) {
            return new Linear(w.get(name + ".weight"), w.opt(name + ".bias"));
        }

        public NDArray forward(NDArray x) {
            NDArray y = x.matMul(weightT);
            return bias == null ? y : y.addi(bias);
        }

        public long inFeatures() {
            return in;
        }

        public long outFeatures() {
            return out;
        }
    }

    /** 2-D convolution, NCHW, square stride / padding. */
    public static final class Conv2d {
        private final NDArray weight;
        private final NDArray bias;
        private final Shape stride;
        private final Shape padding;
        private static final Shape DILATION = new Shape(1, 1);

        public Conv2d(NDArray weight, NDArray bias, int stride, int padding) {
            this.weight = weight;
            this.bias = bias;
            this.stride = new Shape(stride, stride);
            this.padding = new Shape(padding, padding);
        }

        /** Loads {@code name.weight}/{@code name.bias}; padding = kernel/2 ("same") unless given. */
        public static Conv2d load(Weights w, String name, int stride) {
            long k = w.shape(name + ".weight")[2];
            return new Conv2d(w.get(name + ".weight"), w.opt(name + ".bias"), stride, (int) (k / 2));
        }

        public static Conv2d load(Weights w, String name, int stride, int padding) {
            return new Conv2d(w.get(name + ".weight"), w.opt(name + ".bias"), stride, padding);
        }

        public NDArray forward(NDArray x) {
            return ai.djl.nn.convolutional.Conv2d.conv2d(x, weight, bias, stride, padding, DILATION, 1).singletonOrThrow();
        }

        public long outChannels() {
            return weight.getShape().get(0);
        }

        public long inChannels() {
            return weight.getShape().get(1);
        }
    }

    /**
     * GroupNorm over axis 1 (channels) of an input of any rank ≥ 3: statistics per (sample, group) over the
     * group's channels and all following axes, biased variance, eps inside the square root.
     */
    public static final class GroupNorm {
        private final int groups;
        private final float eps;
        private final NDArray weight;
        private final NDArray bias;
        private final NDArray[] weightByRank = new NDArray[8];
        private final NDArray[] biasByRank = new NDArray[8];

        public GroupNorm(int groups, float eps, NDArray weight, NDArray bias) {
            this.groups = groups;
            this.eps = eps;
            this.weight = weight;
            this.bias = bias;
            long c = weight.getShape().get(0);
            if (c % groups != 0) {
                throw new dev.nextgpt.ModelFormatException("GroupNorm: " + c + " channels are not divisible into "
                        + groups + " groups");
            }
        }

        public static GroupNorm load(Weights w, String name, int groups, double eps) {
            return new GroupNorm(groups, (float) eps, w.get(name + ".weight"), w.get(name + ".bias"));
        }

        public NDArray forward(NDArray x) {
            Shape s = x.getShape();
            int rank = s.dimension();
            NDArray g = x.reshape(s.get(0), groups, -1);
            NDArray mean = g.mean(new int[] {2}, true);
            NDArray centered = g.sub(mean);
            NDArray var = centered.square().mean(new int[] {2}, true);
            NDArray normed = centered.div(var.add(eps).sqrt()).reshape(s);
            return normed.muli(affine(weightByRank, weight, rank)).addi(affine(biasByRank, bias, rank));
        }

        private synchronized NDArray affine(NDArray[] cache, NDArray v, int rank) {
            if (cache[rank] == null) {
                long[] dims = new long[rank - 1];
                java.util.Arrays.fill(dims, 1);
                dims[0] = v.getShape().get(0);
                cache[rank] = v.reshape(new Shape(dims));
            }
            return cache[rank];
        }

        public long channels() {
            return weight.getShape().get(0);
        }
    }

    /** LayerNorm over the last axis. */
    public static final class LayerNorm {
        private final NDArray weight;
        private final NDArray bias;
        private final float eps;

        public LayerNorm(NDArray weight, NDArray bias, float eps) {
            this.weight = weight;
            this.bias = bias;
            this.eps = eps;
        }

        public static LayerNorm load(Weights w, String name, double eps) {
            return new LayerNorm(w.get(name + ".weight"), w.get(name + ".bias"), (float) eps);
        }

        public NDArray forward(NDArray x) {
            return NN.layerNorm(x, weight, bias, eps);
        }
    }

    /** The activations named by diffusers' {@code act_fn}. */
    public static NDArray activation(String name, NDArray x) {
        return switch (name) {
            case "silu", "swish" -> NN.silu(x);
            case "gelu" -> NN.gelu(x);
            case "relu" -> NN.relu(x);
            case "mish" -> x.mul(x.exp().add(1f).log().tanh());
            default -> throw new dev.nextgpt.UnsupportedConfigurationException("activation '" + name
                    + "' is not supported (silu, gelu, relu, mish)");
        };
    }
}
