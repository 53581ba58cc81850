package dev.nextgpt.runtime.io;

import java.util.List;

/** Factory helpers for combining and narrowing {@link TensorStore}s. */
public final class TensorStores {
    private TensorStores() {
    }

    /**
     * A view of the tensors of {@code store} under {@code prefix}, with the prefix stripped ({@code "model."}:
     * {@code model.fc.weight} → {@code fc.weight}). The view does not own the store: closing it leaves the store
     * open. An empty prefix views everything.
     */
    public static PrefixedTensorStore view(TensorStore store, String prefix) {
        return new PrefixedTensorStore(store, prefix, false);
    }

    /** Like {@link #view} but closing the view closes {@code store}. */
    public static PrefixedTensorStore owningView(TensorStore store, String prefix) {
        return new PrefixedTensorStore(store, prefix, true);
    }

    /** Merges stores; later stores override earlier ones for a shared name. The composite owns the stores. */
    public static CompositeTensorStore merge(TensorStore... stores) {
        return CompositeTensorStore.overriding(List.of(stores));
    }

    /** Merges stores whose names must be disjoint; a shared name is a ModelFormatException naming both files. */
    public static CompositeTensorStore mergeDisjoint(TensorStore... stores) {
        return CompositeTensorStore.strict(List.of(stores));
    }
}
