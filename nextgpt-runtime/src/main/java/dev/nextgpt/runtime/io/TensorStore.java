package dev.nextgpt.runtime.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.nextgpt.ModelFormatException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Set;

/**
 * Read-only, lazy access to the named tensors of a checkpoint (safetensors, sharded safetensors, torch pickle).
 * Nothing is read until a tensor is asked for; raw bytes are memory-mapped where the format allows it.
 */
public interface TensorStore extends AutoCloseable {

    /** The file or folder this store reads. */
    Path source();

    /** All tensor names, sorted. */
    Set<String> names();

    default boolean contains(String name) {
        return names().contains(name);
    }

    /** Metadata of one tensor; a {@link ModelFormatException} naming the tensor and source if absent. */
    TensorInfo info(String name);

    /**
     * The tensor's elements as contiguous little-endian bytes in the stored dtype (row-major). The buffer is
     * read-only and may be a memory-mapped view of the file; it stays valid until the store is closed.
     */
    ByteBuffer rawBytes(String name);

    /** Loads a tensor; floating point tensors become {@code FLOAT32}, integer and bool tensors keep their type. */
    default NDArray load(NDManager manager, String name) {
        return TensorConversions.toNDArray(manager, info(name), rawBytes(name), null);
    }

    /**
     * Zero-copy load of an F32 or integer tensor: the array reads the memory-mapped file directly. It must never be
     * modified in place and must be closed before the store. Other dtypes are converted (and so copied).
     */
    default NDArray loadShared(NDManager manager, String name) {
        return TensorConversions.toNDArray(manager, info(name), rawBytes(name), null, false);
    }

    /** Loads a tensor converted to {@code target}. */
    default NDArray load(NDManager manager, String name, DataType target) {
        return TensorConversions.toNDArray(manager, info(name), rawBytes(name), target);
    }

    /** Reads a floating-point (or integer) tensor into a Java float array (row-major). */
    default float[] readFloats(String name) {
        return TensorConversions.toFloats(info(name), rawBytes(name));
    }

    /** Reads an integer (or bool) tensor into a Java long array (row-major). */
    default long[] readLongs(String name) {
        return TensorConversions.toLongs(info(name), rawBytes(name));
    }

    /** Total number of elements over all tensors. */
    default long parameterCount() {
        long n = 0;
        for (String name : names()) {
            n += info(name).numel();
        }
        return n;
    }

    @Override
    void close();

    /** Little-endian read-only duplicate, positioned at 0. */
    static ByteBuffer littleEndian(ByteBuffer b) {
        return b.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    }
}
