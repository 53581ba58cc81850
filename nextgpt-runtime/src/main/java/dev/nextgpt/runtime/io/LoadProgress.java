package dev.nextgpt.runtime.io;

import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * Reports tensors as they are loaded into NDArrays, so that long loads (a 7B checkpoint) can show progress. A
 * listener receives the {@link TensorInfo} of every tensor loaded on any thread while it is registered.
 */
public final class LoadProgress {
    private static final CopyOnWriteArrayList<Consumer<TensorInfo>> LISTENERS = new CopyOnWriteArrayList<>();

    private LoadProgress() {
    }

    /** Registers {@code listener} until the returned handle is closed. */
    public static AutoCloseable listen(Consumer<TensorInfo> listener) {
        LISTENERS.add(listener);
        return () -> LISTENERS.remove(listener);
    }

    static void loaded(TensorInfo info) {
        for (Consumer<TensorInfo> l : LISTENERS) {
            l.accept(info);
        }
    }
}
