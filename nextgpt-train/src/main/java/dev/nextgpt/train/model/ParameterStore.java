package dev.nextgpt.train.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.io.SafetensorsWriter;
import dev.nextgpt.runtime.io.TensorStore;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * The named weights of a model being trained, keyed by their original checkpoint names. Trainable tensors carry
 * {@code requiresGradient}; frozen ones do not (so they never hold a gradient or optimiser state). All tensors live
 * in one floating-point type (FLOAT32 for training, FLOAT64 for gradient checks). The store records which tensors a
 * forward pass read, so a caller can tell which trainable tensors received a gradient.
 */
public final class ParameterStore implements AutoCloseable {
    private final NDManager manager;
    private final DataType dtype;
    private final Map<String, NDArray> values = new LinkedHashMap<>();
    private final Set<String> trainable = new LinkedHashSet<>();
    private final Set<String> used = new LinkedHashSet<>();
    private final Map<String, NDArray> castForForward = new java.util.HashMap<>();
    private final Map<String, NDArray> frozenCast = new java.util.HashMap<>();
    private DataType computeType;

    public ParameterStore(NDManager parent, DataType dtype) {
        if (dtype != DataType.FLOAT32 && dtype != DataType.FLOAT64) {
            throw new InvalidInputException("parameters must be FLOAT32 or FLOAT64, not " + dtype);
        }
        this.manager = parent.newSubManager();
        this.dtype = dtype;
        this.computeType = dtype;
    }

    public NDManager manager() {
        return manager;
    }

    public DataType dtype() {
        return dtype;
    }

    /**
     * The type the forward computes in (mixed precision, as apex O2 / DeepSpeed fp16): {@link #get} returns a copy of
     * each weight in that type; a trainable weight's copy is made at every forward as a leaf that collects the
     * gradient, which {@link #takeGradients} casts back to the master type (DJL's {@code toType} is not recorded by
     * autograd, so the cast cannot sit on the graph). Frozen copies are made once. Default: the master type.
     */
    public void setComputeType(DataType type) {
        if (type == DataType.BFLOAT16) {
            // DJL 0.35.1's PyTorch JNI has no bfloat16 mapping: creating such a tensor aborts the JVM natively
            throw new dev.nextgpt.UnsupportedConfigurationException("bfloat16 compute is not supported: DJL 0.35.1's "
                    + "PyTorch engine cannot create BFLOAT16 tensors (the native library aborts); use float16");
        }
        if (type != dtype && type != DataType.FLOAT16 && type != DataType.BFLOAT16 && type != DataType.FLOAT32) {
            throw new InvalidInputException("compute type must be FLOAT32, FLOAT16 or BFLOAT16 (or the master type "
                    + dtype + "), not " + type);
        }
        this.computeType = type;
        frozenCast.values().forEach(NDArray::close);
        frozenCast.clear();
    }

    /** The forward's compute type (the master type unless mixed precision is on). */
    public DataType computeType() {
        return computeType;
    }

    /** Adds (or replaces) a tensor; the array is converted to the store's type and owned by the store. */
    public void put(String name, NDArray value) {
        // toType(sameType, copy=true) may alias the source in DJL 0.35.1; duplicate() is a real torch clone, so the
        // store never depends on memory the caller owns (e.g. an array made from a Java buffer).
        NDArray v = value.getDataType() == dtype ? value.duplicate() : value.toType(dtype, true);
        v.attach(manager);
        NDArray stale = frozenCast.remove(name);
        if (stale != null) {
            stale.close();
        }
        NDArray old = values.put(name, v);
        if (old != null && old != v) {
            old.close();
        }
        if (trainable.contains(name)) {
            v.setRequiresGradient(true);
        }
    }

    /** Loads every tensor of {@code store} accepted by {@code filter}, renamed by {@code rename}. */
    public void loadAll(TensorStore store, Predicate<String> filter, java.util.function.UnaryOperator<String> rename) {
        for (String name : store.names()) {
            if (filter.test(name)) {
                NDArray loaded = store.load(manager, name);
                put(rename.apply(name), loaded);
                if (values.get(rename.apply(name)) != loaded) {
                    loaded.close();
                }
            }
        }
    }

    public boolean has(String name) {
        return values.containsKey(name);
    }

    /**
     * Starts a forward pass whose intermediate arrays belong to {@code scope}: every tensor read with {@link #get}
     * is temporarily attached to it (so results of operations on weights land in the scope, not in the store) and
     * returns to the store when the scope closes. Also forgets the recorded uses.
     */
    public void beginForward(NDManager scope) {
        this.scope = scope;
        used.clear();
        castForForward.clear();
    }

    private NDManager scope;

    /**
     * The tensor (recorded as used by the current forward), in the compute type: with mixed precision a trainable
     * tensor's gradient-collecting copy (made once per forward, in the forward's scope) or a frozen tensor's cached
     * copy.
     */
    public NDArray get(String name) {
        NDArray v = master(name);
        if (computeType == dtype) {
            return v;
        }
        if (!trainable.contains(name)) {
            NDArray c = frozenCast.get(name);
            if (c == null) {
                c = v.toType(computeType, true);
                c.attach(manager);
                frozenCast.put(name, c);
            }
            if (scope != null && scope.isOpen()) {
                c.tempAttach(scope);
            }
            return c;
        }
        NDArray cast = castForForward.get(name);
        if (cast == null) {
            cast = v.toType(computeType, true);
            if (scope != null && scope.isOpen()) {
                cast.attach(scope);
            }
            cast.setRequiresGradient(true);
            castForForward.put(name, cast);
        }
        return cast;
    }

    private NDArray master(String name) {
        NDArray v = values.get(name);
        if (v == null) {
            throw new ModelFormatException("missing weight '" + name + "' (have " + values.size() + " tensors)");
        }
        if (used.add(name) && scope != null && scope.isOpen()) {
            v.tempAttach(scope);
        }
        return v;
    }

    /** The tensor without recording a use (for optimisers and checkpoints). */
    public NDArray peek(String name) {
        NDArray v = values.get(name);
        if (v == null) {
            throw new ModelFormatException("missing weight '" + name + "'");
        }
        return v;
    }

    /** All names, in insertion order. */
    public Set<String> names() {
        return Collections.unmodifiableSet(values.keySet());
    }

    /** Marks tensors trainable (they get {@code requiresGradient}); unknown names fail. */
    public void setTrainable(List<String> names) {
        for (String n : names) {
            NDArray v = peek(n);
            if (trainable.add(n)) {
                v.setRequiresGradient(true);
            }
        }
    }

    public boolean isTrainable(String name) {
        return trainable.contains(name);
    }

    /** The trainable names, in the order they were marked. */
    public List<String> trainableNames() {
        return List.copyOf(trainable);
    }

    /** The trainable tensors by name (live arrays, updated in place by the optimiser). */
    public Map<String, NDArray> trainableTensors() {
        Map<String, NDArray> out = new LinkedHashMap<>();
        for (String n : trainable) {
            out.put(n, values.get(n));
        }
        return out;
    }

    /** Names read since {@link #clearUsed()}. */
    public Set<String> used() {
        return Collections.unmodifiableSet(used);
    }

    /** Copies the gradients of the trainable tensors into {@code target} and resets them to zero. */
    public Map<String, NDArray> takeGradients(NDManager target) {
        Map<String, NDArray> out = new LinkedHashMap<>();
        for (String n : trainable) {
            NDArray v = values.get(n);
            if (computeType != dtype) {
                // mixed precision: the compute-type copy holds the gradient; cast it back to the master type
                NDArray c = castForForward.get(n);
                NDArray g = c == null ? target.zeros(v.getShape(), dtype) : c.getGradient().toType(dtype, true);
                g.attach(target);
                out.put(n, g);
                continue;
            }
            NDArray g = v.getGradient();
            NDArray copy = g.duplicate();
            copy.attach(target);
            out.put(n, copy);
            g.subi(g);
            g.close();
        }
        return out;
    }

    /** Writes the given tensors (e.g. the trainable ones) as float32 safetensors with their names. */
    public void save(Path file, Iterable<String> names, Map<String, String> metadata) {
        SafetensorsWriter w = new SafetensorsWriter();
        try (NDManager scope = manager.newSubManager()) {
            for (String n : names) {
                NDArray f = peek(n).toType(DataType.FLOAT32, true);
                f.attach(scope);
                w.add(n, f);
            }
            metadata.forEach(w::metadata);
            w.write(file);
        }
    }

    @Override
    public void close() {
        manager.close();
    }
}
