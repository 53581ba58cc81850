package dev.nextgpt.runtime.nextgpt.current;

import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.io.TensorInfo;
import dev.nextgpt.runtime.io.TensorStore;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * A view of another store under new names ({@code new name → base name}); reads go through to the base, which stays
 * owned by the caller. Used for the key rewriting rules of the current checkpoint layouts.
 */
public final class RenamedTensorStore implements TensorStore {
    private final TensorStore base;
    private final Map<String, String> toBase;
    private final String description;

    public RenamedTensorStore(TensorStore base, Map<String, String> newToBase, String description) {
        this.base = base;
        this.toBase = Collections.unmodifiableMap(new TreeMap<>(newToBase));
        this.description = description;
        for (String b : newToBase.values()) {
            if (!base.contains(b)) {
                throw new ModelFormatException("tensor '" + b + "' is not in " + base.source());
            }
        }
    }

    /** The base name of {@code name}. */
    public String baseName(String name) {
        String b = toBase.get(name);
        if (b == null) {
            throw new ModelFormatException("tensor '" + name + "' is not in " + description + " (" + base.source()
                    + ")");
        }
        return b;
    }

    @Override
    public Path source() {
        return base.source();
    }

    @Override
    public Set<String> names() {
        return toBase.keySet();
    }

    @Override
    public TensorInfo info(String name) {
        TensorInfo i = base.info(baseName(name));
        return new TensorInfo(name, i.dtype(), i.shape());
    }

    @Override
    public ByteBuffer rawBytes(String name) {
        return base.rawBytes(baseName(name));
    }

    @Override
    public void close() {
    }

    @Override
    public String toString() {
        return description + " of " + base.source();
    }
}
