package dev.nextgpt.runtime.nextgpt.current;

import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.io.TensorDType;
import dev.nextgpt.runtime.io.TensorInfo;
import dev.nextgpt.runtime.io.TensorStore;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/** A small {@link TensorStore} over float32 arrays held in memory (e.g. resized embedding matrices). */
public final class InMemoryTensorStore implements TensorStore {
    private final String description;
    private final Map<String, TensorInfo> infos = new TreeMap<>();
    private final Map<String, ByteBuffer> data = new TreeMap<>();

    public InMemoryTensorStore(String description) {
        this.description = description;
    }

    /** Adds (or replaces) a float32 tensor. */
    public InMemoryTensorStore putFloats(String name, long[] shape, float[] values) {
        TensorInfo info = new TensorInfo(name, TensorDType.F32, shape);
        if (info.numel() != values.length) {
            throw new ModelFormatException("tensor '" + name + "': " + values.length + " values for shape "
                    + info.shapeString());
        }
        ByteBuffer b = ByteBuffer.allocateDirect(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        infos.put(name, info);
        data.put(name, b.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN));
        return this;
    }

    @Override
    public Path source() {
        return Path.of("memory:" + description.replaceAll("[^A-Za-z0-9._-]", "_"));
    }

    @Override
    public Set<String> names() {
        return Collections.unmodifiableSet(infos.keySet());
    }

    @Override
    public TensorInfo info(String name) {
        TensorInfo i = infos.get(name);
        if (i == null) {
            throw new ModelFormatException("tensor '" + name + "' is not in " + description);
        }
        return i;
    }

    @Override
    public ByteBuffer rawBytes(String name) {
        info(name);
        return TensorStore.littleEndian(data.get(name));
    }

    @Override
    public void close() {
    }

    @Override
    public String toString() {
        return description;
    }
}
