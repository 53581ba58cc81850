package dev.nextgpt.runtime.nextgpt;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.UnsupportedConfigurationException;
import dev.nextgpt.runtime.io.TensorStore;
import dev.nextgpt.runtime.nextgpt.ProjectorOps.Dense;
import dev.nextgpt.runtime.nn.NN;

import java.util.Locale;

/**
 * The simple input projectors and the factory for all of them. Widths come from the weight shapes.
 * <ul>
 *   <li>{@code linear} (also the legacy {@code llama_proj}): one {@code nn.Linear} applied per token;</li>
 *   <li>{@code mlp}: {@code MLP(num_layers=n)} = Linear, then (GELU erf, Linear) × (n−1), keys {@code layer.0},
 *       {@code layer.2}, {@code layer.4}, …;</li>
 *   <li>{@code group}: {@link GroupProjector};</li>
 *   <li>{@code identity}: passthrough.</li>
 * </ul>
 */
public final class InputProjectors {
    private InputProjectors() {
    }

    /** Supported {@code type} names. */
    public static final java.util.List<String> TYPES = java.util.List.of("linear", "mlp", "group", "identity");

    /**
     * Loads an input projector of {@code type} from the keys under {@code prefix} (e.g. {@code llama_proj.} or
     * {@code model.mm_input_projector.}). {@code type} may be null to detect it from the keys.
     */
    public static InputProjector load(TensorStore store, String prefix, String type, NDManager parent) {
        String t = type == null ? detectType(store, prefix) : type.toLowerCase(Locale.ROOT);
        return switch (t) {
            case "linear", "llama_proj" -> LinearProjector.load(store, prefix, parent);
            case "mlp" -> MlpProjector.load(store, prefix, parent);
            case "group", "group_projector" -> GroupProjector.load(store, prefix, GroupProjector.DEFAULT_HEADS, parent);
            case "identity" -> new IdentityProjector(-1);
            case "qformer" -> throw new UnsupportedConfigurationException(
                    "input projector type 'qformer' is not supported (NExT-GPT only defines it as an output projector)");
            default -> throw new UnsupportedConfigurationException("unknown input projector type '" + type
                    + "'; supported: " + TYPES);
        };
    }

    /** Detects {@code linear}, {@code mlp} or {@code group} from the keys under {@code prefix}. */
    public static String detectType(TensorStore store, String prefix) {
        PrefixedWeights w = new PrefixedWeights(store, prefix, null);
        if (w.has("in_fc.weight") && w.hasAny("layers.0.blocks.")) {
            return "group";
        }
        if (w.has("layer.0.weight")) {
            return "mlp";
        }
        if (w.has("weight")) {
            return "linear";
        }
        throw new ModelFormatException("no input projector under key prefix '" + prefix + "' in " + store.source()
                + " (expected '" + prefix + "weight' (linear), '" + prefix + "layer.0.weight' (mlp) or '" + prefix
                + "in_fc.weight' + '" + prefix + "layers.*' (group))");
    }

    static void checkLastDim(NDArray x, int expected, String what) {
        Shape s = x.getShape();
        if (s.dimension() < 1 || s.get(s.dimension() - 1) != expected) {
            throw new InvalidInputException(what + " expects input features of width " + expected
                    + " on the last axis; got shape " + s);
        }
    }

    /** {@code nn.Linear(in, out)} per token (legacy {@code llama_proj}, current {@code linear}). */
    public static final class LinearProjector implements InputProjector {
        private final NDManager manager;
        private final Dense dense;

        private LinearProjector(NDManager manager, Dense dense) {
            this.manager = manager;
            this.dense = dense;
        }

        public static LinearProjector load(TensorStore store, String prefix, NDManager parent) {
            PrefixedWeights probe = new PrefixedWeights(store, prefix, null);
            int out = probe.dim("weight", 2, 0);
            int in = probe.dim("weight", 2, 1);
            NDManager m = parent.newSubManager();
            try {
                return new LinearProjector(m, Dense.load(new PrefixedWeights(store, prefix, m), "", out, in, true));
            } catch (RuntimeException e) {
                m.close();
                throw e;
            }
        }

        @Override
        public String type() {
            return "linear";
        }

        @Override
        public int inDim() {
            return (int) dense.inFeatures();
        }

        @Override
        public int outDim() {
            return (int) dense.outFeatures();
        }

        @Override
        public NDArray forward(NDArray x) {
            checkLastDim(x, inDim(), "linear input projector");
            return dense.apply(x);
        }

        @Override
        public void close() {
            manager.close();
        }
    }

    /** {@code MLP(num_layers)}: Linear, then (GELU erf, Linear) repeated; keys {@code layer.0}, {@code layer.2}, …. */
    public static final class MlpProjector implements InputProjector {
        private final NDManager manager;
        private final Dense[] layers;

        private MlpProjector(NDManager manager, Dense[] layers) {
            this.manager = manager;
            this.layers = layers;
        }

        public static MlpProjector load(TensorStore store, String prefix, NDManager parent) {
            PrefixedWeights probe = new PrefixedWeights(store, prefix, null);
            int n = 0;
            while (probe.has("layer." + (2 * n) + ".weight")) {
                n++;
            }
            if (n == 0) {
                throw new ModelFormatException("tensor '" + prefix + "layer.0.weight' (mlp input projector) is "
                        + "missing from " + store.source());
            }
            NDManager m = parent.newSubManager();
            try {
                PrefixedWeights w = new PrefixedWeights(store, prefix, m);
                Dense[] layers = new Dense[n];
                long in = probe.dim("layer.0.weight", 2, 1);
                for (int i = 0; i < n; i++) {
                    String name = "layer." + (2 * i);
                    long out = probe.dim(name + ".weight", 2, 0);
                    layers[i] = Dense.load(w, name, out, in, true);
                    in = out;
                }
                return new MlpProjector(m, layers);
            } catch (RuntimeException e) {
                m.close();
                throw e;
            }
        }

        @Override
        public String type() {
            return "mlp";
        }

        @Override
        public int inDim() {
            return (int) layers[0].inFeatures();
        }

        @Override
        public int outDim() {
            return (int) layers[layers.length - 1].outFeatures();
        }

        @Override
        public NDArray forward(NDArray x) {
            checkLastDim(x, inDim(), "mlp input projector");
            NDManager target = x.getManager();
            try (NDManager scratch = target.newSubManager()) {
                NDArray h = layers[0].apply(ProjectorOps.into(x, scratch));
                for (int i = 1; i < layers.length; i++) {
                    h = layers[i].apply(NN.gelu(h));
                }
                return ProjectorOps.keep(h, target);
            }
        }

        @Override
        public void close() {
            manager.close();
        }
    }

    /** Passthrough ({@code identity}); {@code width} −1 means any width. */
    public static final class IdentityProjector implements InputProjector {
        private final int width;

        public IdentityProjector(int width) {
            this.width = width;
        }

        @Override
        public String type() {
            return "identity";
        }

        @Override
        public int inDim() {
            return width;
        }

        @Override
        public int outDim() {
            return width;
        }

        @Override
        public NDArray forward(NDArray x) {
            if (width >= 0) {
                checkLastDim(x, width, "identity input projector");
            }
            return x.duplicate();
        }

        @Override
        public void close() {
        }
    }
}
