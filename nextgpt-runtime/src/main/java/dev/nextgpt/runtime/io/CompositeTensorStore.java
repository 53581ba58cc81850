package dev.nextgpt.runtime.io;

import dev.nextgpt.ModelFormatException;

import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Several stores merged into one name space, e.g. a base model plus a delta checkpoint. By default a later store
 * overrides earlier ones for a name they share; in strict mode a name present in two stores is an error naming
 * both sources. Closing the composite closes all its stores.
 */
public final class CompositeTensorStore extends RoutedTensorStore {
    private final List<TensorStore> stores;
    private final Map<String, TensorStore> owner;

    private CompositeTensorStore(List<TensorStore> stores, Map<String, TensorStore> owner) {
        this.stores = stores;
        this.owner = owner;
    }

    /** Merges {@code stores}; for a name in several stores the last one wins. */
    public static CompositeTensorStore overriding(List<? extends TensorStore> stores) {
        return of(stores, false);
    }

    /** Merges {@code stores}; a name in more than one store is a {@link ModelFormatException}. */
    public static CompositeTensorStore strict(List<? extends TensorStore> stores) {
        return of(stores, true);
    }

    private static CompositeTensorStore of(List<? extends TensorStore> stores, boolean strict) {
        if (stores.isEmpty()) {
            throw new IllegalArgumentException("a composite tensor store needs at least one store");
        }
        Map<String, TensorStore> owner = new TreeMap<>();
        for (TensorStore s : stores) {
            for (String n : s.names()) {
                TensorStore prev = owner.put(n, s);
                if (strict && prev != null) {
                    throw new ModelFormatException("tensor '" + n + "' is ambiguous: it is in both " + prev.source()
                            + " and " + s.source());
                }
            }
        }
        return new CompositeTensorStore(List.copyOf(stores), Collections.unmodifiableMap(owner));
    }

    /** The member stores, in merge order. */
    public List<TensorStore> stores() {
        return stores;
    }

    /** The store a tensor is read from. */
    public TensorStore storeOf(String name) {
        TensorStore s = owner.get(name);
        if (s == null) {
            throw new ModelFormatException("tensor '" + name + "' is in none of " + stores.stream()
                    .map(TensorStore::source).toList());
        }
        return s;
    }

    @Override
    protected TensorStore storeFor(String name) {
        return storeOf(name);
    }

    /** The first store's source. */
    @Override
    public Path source() {
        return stores.get(0).source();
    }

    @Override
    public Set<String> names() {
        return owner.keySet();
    }

    @Override
    public void close() {
        RuntimeException first = null;
        for (TensorStore s : stores) {
            try {
                s.close();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
