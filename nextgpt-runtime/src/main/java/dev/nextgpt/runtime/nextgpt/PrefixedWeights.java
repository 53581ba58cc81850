package dev.nextgpt.runtime.nextgpt;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.io.TensorInfo;
import dev.nextgpt.runtime.io.TensorStore;

import java.util.Arrays;

/**
 * The tensors of one module inside a checkpoint, addressed by names relative to a key prefix (for example
 * {@code model.mm_output_img_projector.}). Loaded tensors are FLOAT32 copies owned by {@link #manager()}; every
 * error names the full checkpoint key and the source file.
 */
final class PrefixedWeights {
    private final TensorStore store;
    private final String prefix;
    private final NDManager manager;

    PrefixedWeights(TensorStore store, String prefix, NDManager manager) {
        this.store = store;
        this.prefix = prefix == null ? "" : prefix;
        this.manager = manager;
    }

    NDManager manager() {
        return manager;
    }

    String prefix() {
        return prefix;
    }

    String key(String relative) {
        return prefix + relative;
    }

    boolean has(String relative) {
        return store.contains(key(relative));
    }

    /** True if any tensor name starts with {@code prefix + relativePrefix}. */
    boolean hasAny(String relativePrefix) {
        String p = key(relativePrefix);
        for (String n : store.names()) {
            if (n.startsWith(p)) {
                return true;
            }
        }
        return false;
    }

    TensorInfo info(String relative) {
        String k = key(relative);
        if (!store.contains(k)) {
            throw new ModelFormatException("tensor '" + k + "' is missing from " + store.source());
        }
        return store.info(k);
    }

    long[] shape(String relative) {
        return info(relative).shape();
    }

    /** Size of one axis of a tensor; also checks its rank. */
    int dim(String relative, int rank, int axis) {
        long[] s = shape(relative);
        if (s.length != rank) {
            throw new ModelFormatException("tensor '" + key(relative) + "' in " + store.source() + " has shape "
                    + Arrays.toString(s) + ", expected rank " + rank);
        }
        return Math.toIntExact(s[axis]);
    }

    /** Loads a tensor (any shape). */
    NDArray get(String relative) {
        info(relative);
        NDArray a = store.load(manager, key(relative));
        a.setName(key(relative));
        return a;
    }

    /** Loads a tensor and checks its shape. */
    NDArray get(String relative, long... expected) {
        long[] s = shape(relative);
        if (!Arrays.equals(s, expected)) {
            throw new ModelFormatException("tensor '" + key(relative) + "' in " + store.source() + " has shape "
                    + Arrays.toString(s) + ", expected " + Arrays.toString(expected));
        }
        return get(relative);
    }

    /** Loads a tensor if present, else null; the shape is checked when present. */
    NDArray optional(String relative, long... expected) {
        return has(relative) ? get(relative, expected) : null;
    }

    /**
     * Counts the consecutive indices {@code i = 0, 1, ...} for which some tensor starts with
     * {@code prefix + relativePrefix + i + "."} (for example the layers of {@code tfm.encoder.layers.}).
     */
    int countIndexed(String relativePrefix) {
        int n = 0;
        while (hasAny(relativePrefix + n + ".")) {
            n++;
        }
        return n;
    }

    String source() {
        return String.valueOf(store.source());
    }
}
