package dev.nextgpt.runtime.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.ModelFormatException;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Set;
import java.util.TreeSet;

/**
 * The tensors of another store whose names start with a prefix, with the prefix stripped: a view of
 * {@code model.layers.0.}/{@code state_dict.} sub-trees of a bigger checkpoint. The view reads through to the base
 * store (no copies); closing it closes the base only if it was created as owning.
 */
public final class PrefixedTensorStore implements TensorStore {
    private final TensorStore base;
    private final String prefix;
    private final boolean ownsBase;
    private final Set<String> names;

    /**
     * @param base     the store to view
     * @param prefix   the key prefix to select and strip (include the trailing "." for a sub-module)
     * @param ownsBase whether {@link #close()} closes {@code base}
     */
    public PrefixedTensorStore(TensorStore base, String prefix, boolean ownsBase) {
        this.base = base;
        this.prefix = prefix;
        this.ownsBase = ownsBase;
        Set<String> n = new TreeSet<>();
        for (String name : base.names()) {
            if (name.startsWith(prefix) && name.length() > prefix.length()) {
                n.add(name.substring(prefix.length()));
            }
        }
        this.names = Collections.unmodifiableSet(n);
    }

    public String prefix() {
        return prefix;
    }

    public TensorStore base() {
        return base;
    }

    @Override
    public Path source() {
        return base.source();
    }

    @Override
    public Set<String> names() {
        return names;
    }

    private String full(String name) {
        if (!names.contains(name)) {
            throw new ModelFormatException("tensor '" + name + "' (full name '" + prefix + name + "') is not in "
                    + base.source());
        }
        return prefix + name;
    }

    @Override
    public TensorInfo info(String name) {
        TensorInfo i = base.info(full(name));
        return new TensorInfo(name, i.dtype(), i.shape());
    }

    /** Delegates, so that the owning store decides whether its bytes can be shared. */
    @Override
    public NDArray loadShared(NDManager manager, String name) {
        return base.loadShared(manager, full(name));
    }

    @Override
    public ByteBuffer rawBytes(String name) {
        return base.rawBytes(full(name));
    }

    @Override
    public void close() {
        if (ownsBase) {
            base.close();
        }
    }

    @Override
    public String toString() {
        return base.source() + " [" + prefix + "*]";
    }
}
