package dev.nextgpt.runtime.nextgpt;

import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.io.TensorDType;
import dev.nextgpt.runtime.io.TensorInfo;
import dev.nextgpt.runtime.io.TensorStore;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;

/**
 * A {@link TensorStore} over float32 tensors held in Java arrays: used for the embedded demo model and for the parts
 * a caller allowed to be randomly initialised. {@link #normal}, {@link #ones}, {@link #zeros} fill tensors
 * deterministically from a seeded generator.
 */
public final class InMemoryTensorStore implements TensorStore {
    private final Path source;
    private final TreeMap<String, TensorInfo> infos = new TreeMap<>();
    private final TreeMap<String, float[]> data = new TreeMap<>();
    private final SplittableRandom random;

    public InMemoryTensorStore(String name, long seed) {
        this.source = Path.of("<in-memory:" + name + ">");
        this.random = new SplittableRandom(seed);
    }

    /** Adds a tensor (replacing one of the same name). */
    public InMemoryTensorStore put(String name, long[] shape, float[] values) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        if (n != values.length) {
            throw new ModelFormatException("tensor '" + name + "' has " + values.length + " values but shape needs "
                    + n);
        }
        infos.put(name, new TensorInfo(name, TensorDType.F32, shape.clone()));
        data.put(name, values);
        return this;
    }

    /** Adds a tensor of N(0, std²) values. */
    public InMemoryTensorStore normal(String name, double std, long... shape) {
        float[] v = new float[Math.toIntExact(count(shape))];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (gaussian() * std);
        }
        return put(name, shape, v);
    }

    /** Adds a tensor filled with {@code value}. */
    public InMemoryTensorStore constant(String name, float value, long... shape) {
        float[] v = new float[Math.toIntExact(count(shape))];
        java.util.Arrays.fill(v, value);
        return put(name, shape, v);
    }

    public InMemoryTensorStore ones(String name, long... shape) {
        return constant(name, 1f, shape);
    }

    public InMemoryTensorStore zeros(String name, long... shape) {
        return constant(name, 0f, shape);
    }

    private double gaussian() {
        // Box-Muller on the seeded generator (platform independent)
        double u1 = random.nextDouble();
        double u2 = random.nextDouble();
        return Math.sqrt(-2 * Math.log(Math.max(u1, 1e-300))) * Math.cos(2 * Math.PI * u2);
    }

    private static long count(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    @Override
    public Path source() {
        return source;
    }

    @Override
    public Set<String> names() {
        return Collections.unmodifiableSet(infos.keySet());
    }

    @Override
    public TensorInfo info(String name) {
        TensorInfo i = infos.get(name);
        if (i == null) {
            throw new ModelFormatException("tensor '" + name + "' is not in " + source);
        }
        return i;
    }

    @Override
    public ByteBuffer rawBytes(String name) {
        info(name);
        float[] v = data.get(name);
        ByteBuffer b = ByteBuffer.allocateDirect(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        return b.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    public void close() {
        // nothing native
    }
}
