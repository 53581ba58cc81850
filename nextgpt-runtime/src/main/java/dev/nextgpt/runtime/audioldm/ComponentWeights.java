package dev.nextgpt.runtime.audioldm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.io.TensorStore;

import java.util.function.Function;

/** Weight-loading steps shared by the AudioLDM sub-models (CLAP text tower, HiFi-GAN vocoder). */
final class ComponentWeights {
    private ComponentWeights() {
    }

    /** Builds a model whose weights live in a new sub-manager of {@code manager}, closed again if building fails. */
    static <T> T buildInSubManager(NDManager manager, Function<NDManager, T> build) {
        NDManager weights = manager.newSubManager();
        try {
            return build.apply(weights);
        } catch (RuntimeException e) {
            weights.close();
            throw e;
        }
    }

    /** Loads a required tensor into {@code weights}, checking its shape against the one the config implies. */
    static NDArray tensor(TensorStore store, NDManager weights, String name, long... shape) {
        if (!store.contains(name)) {
            throw new ModelFormatException(store.source() + ": tensor '" + name + "' is missing");
        }
        NDArray a = store.load(weights, name);
        if (!a.getShape().equals(new Shape(shape))) {
            throw new ModelFormatException(store.source() + ": tensor '" + name + "' has shape " + a.getShape()
                    + ", config implies " + new Shape(shape));
        }
        return a;
    }
}
