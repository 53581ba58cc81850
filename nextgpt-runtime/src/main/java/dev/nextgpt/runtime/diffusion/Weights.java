package dev.nextgpt.runtime.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.io.TensorStore;

import java.util.NavigableSet;
import java.util.TreeSet;

/**
 * A prefix-scoped view of a checkpoint used while building a network: tensors are loaded as FLOAT32 copies into the
 * network's manager, and missing tensors are reported with their full name and the checkpoint path.
 */
public final class Weights {
    private final TensorStore store;
    private final NDManager manager;
    private final String prefix;
    private final NavigableSet<String> names;

    public Weights(TensorStore store, NDManager manager) {
        this(store, manager, "", new TreeSet<>(store.names()));
    }

    private Weights(TensorStore store, NDManager manager, String prefix, NavigableSet<String> names) {
        this.store = store;
        this.manager = manager;
        this.prefix = prefix;
        this.names = names;
    }

    /** The view under {@code name + "."}. */
    public Weights sub(String name) {
        return new Weights(store, manager, prefix + name + ".", names);
    }

    public NDManager manager() {
        return manager;
    }

    /** Full tensor name of {@code name} in this view. */
    public String path(String name) {
        return prefix + name;
    }

    public boolean has(String name) {
        return names.contains(prefix + name);
    }

    /** Whether any tensor name starts with {@code name + "."} in this view. */
    public boolean hasModule(String name) {
        String p = prefix + name + ".";
        String next = names.ceiling(p);
        return next != null && next.startsWith(p);
    }

    /** Number of consecutive children {@code name.0, name.1, ...} present. */
    public int count(String name) {
        int n = 0;
        while (hasModule(name + "." + n)) {
            n++;
        }
        return n;
    }

    /** Loads a required tensor. */
    public NDArray get(String name) {
        String full = prefix + name;
        if (!names.contains(full)) {
            throw new ModelFormatException("tensor '" + full + "' is missing from " + store.source());
        }
        return store.load(manager, full);
    }

    /** Loads a tensor or returns null when absent. */
    public NDArray opt(String name) {
        return has(name) ? get(name) : null;
    }

    /** Shape of a required tensor without loading it. */
    public long[] shape(String name) {
        String full = prefix + name;
        if (!names.contains(full)) {
            throw new ModelFormatException("tensor '" + full + "' is missing from " + store.source());
        }
        return store.info(full).shape();
    }

    /** A {@link ModelFormatException} naming a tensor of this view. */
    public ModelFormatException error(String name, String message) {
        return new ModelFormatException(store.source() + ": tensor '" + prefix + name + "' " + message);
    }
}
