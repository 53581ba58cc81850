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
 * A {@link TensorStore} over float32 tensors held in memory: used for the embedded demo model, for the parts a caller
 * allowed to be randomly initialised and for computed tensors (e.g. resized embedding matrices). {@link #normal}, {@link #ones}, {@link #zeros} fill tensors
 * deterministically from a seeded generator.
 */
public final class InMemoryTensorStore implements TensorStore {
    private final String name;
    private final Path source;
    private final TreeMap<String, TensorInfo> infos = new TreeMap<>();
    private final TreeMap<String, ByteBuffer> data = new TreeMap<>();
    private final SplittableRandom random;

    /** A store whose random fills ({@link #normal}) draw from a generator seeded with {@code seed}. */
    public InMemoryTensorStore(String name, long seed) {
        this.name = name;
        this.source = Path.of("<in-memory:" + name + ">");
        this.random = new SplittableRandom(seed);
    }

    /** A store for explicitly {@link #put} tensors (random fills use seed 0). */
    public InMemoryTensorStore(String name) {
        this(name, 0L);
    }

    /** Adds a tensor (replacing one of the same name); the values are copied. */
    public InMemoryTensorStore put(String name, long[] shape, float[] values) {
        long n = count(shape);
        if (n != values.length) {
            throw new ModelFormatException("tensor '" + name + "' has " + values.length + " values but shape needs "
                    + n);
        }
        ByteBuffer b = ByteBuffer.allocateDirect(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        infos.put(name, new TensorInfo(name, TensorDType.F32, shape.clone()));
        data.put(name, b.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN));
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
        return data.get(name).duplicate().order(ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    public void close() {
        // nothing native
    }

    @Override
    public String toString() {
        return name;
    }
}
