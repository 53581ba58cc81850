package dev.nextgpt.runtime.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import java.nio.ByteBuffer;

/**
 * A store that serves each tensor from one of several underlying stores (the shards of an index, the members of a
 * composite): metadata and bytes come from the store that {@link #storeFor} picks.
 */
abstract class RoutedTensorStore implements TensorStore {

    /** The store holding {@code name}; a {@link dev.nextgpt.ModelFormatException} naming it when none does. */
    protected abstract TensorStore storeFor(String name);

    @Override
    public final TensorInfo info(String name) {
        return storeFor(name).info(name);
    }

    /** Delegates, so that the owning store decides whether its bytes can be shared. */
    @Override
    public final NDArray loadShared(NDManager manager, String name) {
        return storeFor(name).loadShared(manager, name);
    }

    @Override
    public final ByteBuffer rawBytes(String name) {
        return storeFor(name).rawBytes(name);
    }
}
