package dev.nextgpt.runtime.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.io.TorchUnpickler.PyTuple;
import dev.nextgpt.runtime.io.TorchUnpickler.StorageRef;
import dev.nextgpt.runtime.io.TorchUnpickler.TensorRef;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A PyTorch checkpoint written by {@code torch.save}: the zip format of torch &gt;= 1.6 ({@code .bin}, {@code .pth},
 * {@code .pt}, {@code .ckpt}) and the older non-zip "legacy" format. The pickle is read with a restricted
 * unpickler that accepts only tensors and plain containers (see {@link TorchUnpickler}); nothing else is executed.
 *
 * <p><b>Names.</b> The pickled object must be a dict (or list). Nested containers are flattened with "." joined
 * keys: {@code {"model": {"fc.weight": t}}} gives {@code model.fc.weight}, lists give their index. Use
 * {@link TensorStores#view(TensorStore, String)} to strip such a wrapper prefix ({@code "model."},
 * {@code "state_dict."}). Non-tensor values (a {@code step}, an {@code epoch}, hyper-parameters) are not in
 * {@link #names()}; they are listed by {@link #nonTensorEntries()}.
 *
 * <p><b>Memory.</b> Opening reads only the zip directory and the pickle. Storages of STORED zip entries (what torch
 * writes, uncompressed and 64-byte aligned) are memory-mapped on first use and contiguous tensors are zero-copy
 * slices of them; tensors with other strides are materialised as contiguous row-major copies. DEFLATED entries are
 * inflated on demand (the last inflated storage is cached). Several tensors may share one storage.
 */
public final class TorchCheckpointFile implements TensorStore {
    /** Legacy (torch &lt; 1.6) magic number, the first pickled object of such files. */
    private static final java.math.BigInteger LEGACY_MAGIC = new java.math.BigInteger("1950a86a20f9469cfc6c", 16);
    private static final int MAX_NESTING = 64;

    /** Where a storage's bytes live in the file. {@code deflated != null} means they must be inflated. */
    private record StorageData(String key, long offset, long length, ZipArchive.Entry deflated) {
    }

    private record Tensor(TensorInfo info, TensorRef ref, StorageData data, boolean contiguous) {
    }

    private final Path path;
    private final FileChannel channel;
    private final ZipArchive zip;
    private final Map<String, Tensor> tensors;
    private final Map<String, String> nonTensor;
    private final String format;
    private final Map<String, ByteBuffer> mapped = new ConcurrentHashMap<>();
    private volatile Map.Entry<String, ByteBuffer> lastInflated;

    private TorchCheckpointFile(Path path, FileChannel channel, ZipArchive zip, Map<String, Tensor> tensors,
                                Map<String, String> nonTensor, String format) {
        this.path = path;
        this.channel = channel;
        this.zip = zip;
        this.tensors = tensors;
        this.nonTensor = nonTensor;
        this.format = format;
    }

    /** Opens a torch.save checkpoint (zip or legacy format), reading only its directory and pickle. */
    public static TorchCheckpointFile open(Path path) {
        FileChannel ch;
        try {
            ch = FileChannel.open(path, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new ModelFormatException("cannot open torch checkpoint " + path + ": " + e.getMessage(), e);
        }
        try {
            if (ch.size() < 4) {
                throw new ModelFormatException(path + ": not a torch checkpoint (only " + ch.size() + " bytes)");
            }
            ByteBuffer magic = ZipArchive.readAt(ch, 0, 4);
            if (magic.get(0) == 'P' && magic.get(1) == 'K') {
                return openZip(path, ch);
            }
            if ((magic.get(0) & 0xff) == 0x80) {
                return openLegacy(path, ch);
            }
            throw new ModelFormatException(path + " is not a torch.save checkpoint (neither a zip archive nor a"
                    + " pickle)");
        } catch (IOException e) {
            closeQuietly(ch);
            throw new ModelFormatException("cannot read torch checkpoint " + path + " (truncated or corrupt): "
                    + e.getMessage(), e);
        } catch (RuntimeException e) {
            closeQuietly(ch);
            throw e;
        } catch (StackOverflowError e) {
            closeQuietly(ch);
            throw new ModelFormatException(path + ": the pickle holds self-referencing containers (hostile or corrupt)");
        }
    }

    private static TorchCheckpointFile openZip(Path path, FileChannel ch) throws IOException {
        ZipArchive zip = ZipArchive.read(path, ch);
        ZipArchive.Entry pkl = null;
        for (ZipArchive.Entry e : zip.entries().values()) {
            if (e.name().endsWith("data.pkl") && (e.name().equals("data.pkl") || e.name().endsWith("/data.pkl"))) {
                if (pkl == null || e.name().length() < pkl.name().length()) {
                    pkl = e;
                }
            }
        }
        if (pkl == null) {
            throw new ModelFormatException(path + " is a zip archive without a data.pkl record: not a torch.save"
                    + " checkpoint");
        }
        String prefix = pkl.name().substring(0, pkl.name().length() - "data.pkl".length());
        ZipArchive.Entry byteorder = zip.entry(prefix + "byteorder");
        if (byteorder != null) {
            String order = StandardCharsets.US_ASCII.decode(zip.readEntry(byteorder)).toString().trim();
            if (!order.equals("little")) {
                throw new ModelFormatException(path + ": tensors are stored in '" + order
                        + "' byte order; only little-endian checkpoints are supported");
            }
        }
        String where = path + " (" + pkl.name() + ")";
        Map<String, StorageRef> storages = new HashMap<>();
        Object root = new TorchUnpickler(where, zip.readEntry(pkl), pid -> storageRef(where, pid, storages)).load();
        Map<String, StorageData> data = new HashMap<>();
        for (StorageRef s : storages.values()) {
            String name = prefix + "data/" + s.key();
            ZipArchive.Entry e = zip.entry(name);
            if (e == null) {
                throw new ModelFormatException(path + ": storage '" + s.key() + "' has no zip record " + name
                        + " (truncated or corrupt checkpoint)");
            }
            if (e.method() != ZipArchive.STORED && e.method() != ZipArchive.DEFLATED) {
                throw new ModelFormatException(path + ": zip record " + name + " uses unsupported compression method "
                        + e.method());
            }
            checkStorageSize(path, s, e.size());
            long offset = zip.dataOffset(e);
            data.put(s.key(), new StorageData(s.key(), offset, e.size(),
                    e.method() == ZipArchive.DEFLATED ? e : null));
        }
        return build(path, ch, zip, root, data, "torch zip");
    }

    /**
     * Legacy format: pickles of the magic number, the protocol version and sys info, then the object, then the list
     * of storage keys; then, per key in that order, an int64 element count and the raw storage bytes.
     */
    private static TorchCheckpointFile openLegacy(Path path, FileChannel ch) throws IOException {
        long size = ch.size();
        if (size > Integer.MAX_VALUE) {
            throw new ModelFormatException(path + ": legacy (non-zip) torch checkpoints over 2 GiB are not"
                    + " supported; re-save it with torch>=1.6 (torch.save(torch.load(f), f2))");
        }
        String where = path + " (legacy torch format)";
        // Pickles are small relative to data, but their length is unknown: read through a mapped view.
        ByteBuffer all = ch.map(FileChannel.MapMode.READ_ONLY, 0, size).order(ByteOrder.LITTLE_ENDIAN);
        java.util.function.Function<PyTuple, Object> noPid = pid -> {
            throw new ModelFormatException(where + ": unexpected persistent id outside the pickled object");
        };
        Object magic = new TorchUnpickler(where, all, noPid).load();
        if (!LEGACY_MAGIC.equals(magic)) {
            throw new ModelFormatException(path + " starts with a pickle but not with the torch legacy magic"
                    + " number: not a torch.save checkpoint (a plain pickle or a tar-format torch file is not"
                    + " supported; re-save it with torch>=1.6)");
        }
        Object protocol = new TorchUnpickler(where, all, noPid).load();
        if (!(protocol instanceof Long p) || p != 1001L) {
            throw new ModelFormatException(where + ": unsupported legacy protocol version " + protocol);
        }
        new TorchUnpickler(where, all, noPid).load(); // sys info: little_endian, type sizes
        Map<String, StorageRef> storages = new HashMap<>();
        Object root = new TorchUnpickler(where, all, pid -> storageRef(where, pid, storages)).load();
        Object keys = new TorchUnpickler(where, all, noPid).load();
        if (!(keys instanceof List<?> keyList)) {
            throw new ModelFormatException(where + ": storage key list missing after the object");
        }
        Map<String, StorageData> data = new HashMap<>();
        long pos = all.position();
        for (Object k : keyList) {
            String key = String.valueOf(k);
            StorageRef s = storages.get(key);
            if (pos + 8 > size) {
                throw new ModelFormatException(where + ": data of storage '" + key + "' is missing (truncated file)");
            }
            long numel = all.getLong((int) pos);
            if (s == null) {
                throw new ModelFormatException(where + ": storage '" + key + "' is listed but never referenced");
            }
            int es = s.dtype() == null ? 1 : s.dtype().byteSize();
            if (numel < 0 || numel > size) {
                throw new ModelFormatException(where + ": storage '" + key + "' has an impossible size " + numel);
            }
            long len = numel * es;
            if (pos + 8 + len > size) {
                throw new ModelFormatException(where + ": storage '" + key + "' (" + len + " bytes at " + (pos + 8)
                        + ") runs past the end of the file (" + size + " bytes); the file is truncated");
            }
            checkStorageSize(path, s, len);
            data.put(key, new StorageData(key, pos + 8, len, null));
            pos += 8 + len;
        }
        for (String key : storages.keySet()) {
            if (!data.containsKey(key)) {
                throw new ModelFormatException(where + ": storage '" + key + "' has no data (truncated or corrupt)");
            }
        }
        return build(path, ch, null, root, data, "torch legacy");
    }

    private static void checkStorageSize(Path path, StorageRef s, long stored) {
        long expected = s.dtype() == null ? s.numel() : s.numel() * s.dtype().byteSize();
        if (s.numel() < 0 || stored != expected) {
            throw new ModelFormatException(path + ": storage '" + s.key() + "' should hold " + s.numel() + " "
                    + (s.dtype() == null ? "bytes" : s.dtype() + " elements (" + expected + " bytes)")
                    + " but " + stored + " bytes are stored (corrupt checkpoint)");
        }
    }

    /** Resolves a persistent id {@code ('storage', type, key, location, numel[, view_metadata])}. */
    private static Object storageRef(String where, PyTuple pid, Map<String, StorageRef> storages) {
        if (pid.size() < 5 || !"storage".equals(pid.get(0))) {
            throw new ModelFormatException(where + ": unsupported persistent id " + pid.items());
        }
        if (pid.size() > 5 && pid.get(5) != null) {
            throw new ModelFormatException(where + ": legacy storage views (view_metadata) are not supported;"
                    + " re-save the checkpoint with torch>=1.6");
        }
        TensorDType dtype;
        if (pid.get(1) instanceof TorchUnpickler.PyGlobal g && g.module().equals("torch")
                && TorchUnpickler.STORAGE_TYPES.containsKey(g.name())) {
            dtype = TorchUnpickler.STORAGE_TYPES.get(g.name());
        } else if (pid.get(1) instanceof TorchUnpickler.PyGlobal g && g.name().equals("UntypedStorage")) {
            dtype = null;
        } else {
            throw new ModelFormatException(where + ": unsupported storage type "
                    + TorchUnpickler.describe(pid.get(1)) + " in persistent id " + pid.items());
        }
        String key = String.valueOf(pid.get(2));
        if (!(pid.get(4) instanceof Long numel)) {
            throw new ModelFormatException(where + ": storage '" + key + "' has no element count");
        }
        StorageRef ref = new StorageRef(key, dtype, String.valueOf(pid.get(3)), numel);
        StorageRef prev = storages.putIfAbsent(key, ref);
        if (prev != null && !prev.equals(ref)) {
            throw new ModelFormatException(where + ": storage '" + key + "' is referenced with different types or"
                    + " sizes (" + prev + " vs " + ref + ")");
        }
        return prev != null ? prev : ref;
    }

    private static TorchCheckpointFile build(Path path, FileChannel ch, ZipArchive zip, Object root,
                                             Map<String, StorageData> data, String format) {
        Map<String, Tensor> tensors = new TreeMap<>();
        Map<String, String> other = new LinkedHashMap<>();
        if (!(root instanceof Map<?, ?>) && !(root instanceof List<?>) && !(root instanceof PyTuple)) {
            throw new ModelFormatException(path + " holds a " + TorchUnpickler.describe(root)
                    + ", not a state dict (a dict of tensors)");
        }
        flatten(path, "", root, tensors, other, data, 0);
        return new TorchCheckpointFile(path, ch, zip, Collections.unmodifiableMap(tensors),
                Collections.unmodifiableMap(other), format);
    }

    private static void flatten(Path path, String prefix, Object value, Map<String, Tensor> tensors,
                                Map<String, String> other, Map<String, StorageData> data, int depth) {
        if (depth > MAX_NESTING) {
            throw new ModelFormatException(path + ": containers nested deeper than " + MAX_NESTING + " levels at '"
                    + prefix + "' (cyclic or hostile pickle)");
        }
        if (value instanceof Map<?, ?> m) {
            for (Map.Entry<?, ?> e : m.entrySet()) {
                flatten(path, join(prefix, keyString(e.getKey())), e.getValue(), tensors, other, data, depth + 1);
            }
        } else if (value instanceof List<?> || value instanceof PyTuple) {
            List<?> items = value instanceof PyTuple t ? t.items() : (List<?>) value;
            boolean anyTensor = items.stream().anyMatch(x -> x instanceof TensorRef || x instanceof Map<?, ?>
                    || x instanceof List<?> || x instanceof PyTuple);
            if (!anyTensor) {
                other.put(prefix, items.toString());
                return;
            }
            for (int i = 0; i < items.size(); i++) {
                flatten(path, join(prefix, Integer.toString(i)), items.get(i), tensors, other, data, depth + 1);
            }
        } else if (value instanceof TensorRef t) {
            if (tensors.containsKey(prefix)) {
                throw new ModelFormatException(path + ": tensor name '" + prefix + "' occurs twice after flattening");
            }
            tensors.put(prefix, tensor(path, prefix, t, data.get(t.storage().key())));
        } else {
            other.put(prefix, value instanceof byte[] b ? "bytes[" + b.length + "]" : String.valueOf(value));
        }
    }

    private static String keyString(Object k) {
        return k instanceof PyTuple t ? t.items().toString() : String.valueOf(k);
    }

    private static String join(String prefix, String key) {
        return prefix.isEmpty() ? key : prefix + "." + key;
    }

    private static Tensor tensor(Path path, String name, TensorRef t, StorageData data) {
        String where = path + ": tensor '" + name + "'";
        long[] shape = t.shape();
        long[] stride = t.stride();
        TensorInfo info = new TensorInfo(name, t.dtype(), shape);
        long numel;
        try {
            numel = info.numel();
            Math.multiplyExact(numel, t.dtype().byteSize());
        } catch (ArithmeticException e) {
            throw new ModelFormatException(where + " has an impossible shape " + Arrays.toString(shape));
        }
        StorageRef s = t.storage();
        int es = t.dtype().byteSize();
        long storageBytes = s.dtype() == null ? s.numel() : s.numel() * s.dtype().byteSize();
        if (s.dtype() != null && s.dtype() != t.dtype()) {
            throw new ModelFormatException(where + " is " + t.dtype() + " but its storage '" + s.key() + "' holds "
                    + s.dtype());
        }
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] < 0 || stride[i] < 0) {
                throw new ModelFormatException(where + " has a negative size or stride: size "
                        + Arrays.toString(shape) + ", stride " + Arrays.toString(stride));
            }
        }
        if (t.offset() < 0) {
            throw new ModelFormatException(where + " has a negative storage offset " + t.offset());
        }
        if (numel > 0) {
            long last;
            try {
                last = t.offset();
                for (int i = 0; i < shape.length; i++) {
                    last = Math.addExact(last, Math.multiplyExact(shape[i] - 1, stride[i]));
                }
                last = Math.multiplyExact(Math.addExact(last, 1), es);
            } catch (ArithmeticException e) {
                throw new ModelFormatException(where + " has an impossible view (size " + Arrays.toString(shape)
                        + ", stride " + Arrays.toString(stride) + ")");
            }
            if (last > storageBytes) {
                throw new ModelFormatException(where + " (" + t.dtype() + Arrays.toString(shape) + ", stride "
                        + Arrays.toString(stride) + ", offset " + t.offset() + ") reaches byte " + last
                        + " of its storage '" + s.key() + "', which holds only " + storageBytes + " bytes");
            }
        }
        if (data == null) {
            throw new ModelFormatException(where + ": the data of storage '" + s.key() + "' is missing");
        }
        boolean contiguous = true;
        long expect = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            if (shape[i] != 1 && stride[i] != expect) {
                contiguous = false;
            }
            expect *= shape[i];
        }
        if (numel == 0) {
            contiguous = true;
        }
        return new Tensor(info, t, data, contiguous);
    }

    @Override
    public Path source() {
        return path;
    }

    /** "torch zip" or "torch legacy". */
    public String format() {
        return format;
    }

    @Override
    public Set<String> names() {
        return tensors.keySet();
    }

    /** Non-tensor values of the pickled object (flattened key → Python-like text), e.g. {@code epoch → 3}. */
    public Map<String, String> nonTensorEntries() {
        return nonTensor;
    }

    /** Number of distinct storages the tensors point into (fewer than tensors when storages are shared). */
    public int storageCount() {
        return (int) tensors.values().stream().map(t -> t.data.key()).distinct().count();
    }

    @Override
    public TensorInfo info(String name) {
        return tensor(name).info;
    }

    private Tensor tensor(String name) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new ModelFormatException("tensor '" + name + "' is not in " + path);
        }
        return t;
    }

    /** True if the tensor's bytes can be returned without copying (a contiguous view of an uncompressed record). */
    public boolean isZeroCopy(String name) {
        Tensor t = tensor(name);
        return t.contiguous && t.data.deflated == null;
    }

    /**
     * Zero-copy only for {@link #isZeroCopy} tensors (views of the mapped file, kept alive until {@link #close});
     * strided views and deflated records are materialised in memory the store does not keep, so they are copied
     * into the array.
     */
    @Override
    public NDArray loadShared(NDManager manager, String name) {
        return TensorConversions.toNDArray(manager, info(name), rawBytes(name), null, !isZeroCopy(name));
    }

    @Override
    public ByteBuffer rawBytes(String name) {
        Tensor t = tensor(name);
        long bytes = t.info.byteSize();
        if (bytes > Integer.MAX_VALUE) {
            throw new ModelFormatException("tensor '" + name + "' in " + path + " is " + bytes
                    + " bytes; tensors over 2 GiB are not supported by the Java buffer API");
        }
        if (bytes == 0) {
            return ByteBuffer.allocateDirect(0).order(ByteOrder.LITTLE_ENDIAN);
        }
        ByteBuffer storage = storageBytes(t.data);
        int es = t.info.dtype().byteSize();
        if (t.contiguous) {
            int start = Math.toIntExact(t.ref.offset() * es);
            return storage.duplicate().position(start).limit(start + (int) bytes).slice()
                    .order(ByteOrder.LITTLE_ENDIAN).asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
        }
        return gather(storage, t, (int) bytes, es);
    }

    /** Copies a strided view into contiguous row-major order. */
    private static ByteBuffer gather(ByteBuffer storage, Tensor t, int bytes, int es) {
        long[] shape = t.ref.shape();
        long[] stride = t.ref.stride();
        int rank = shape.length;
        ByteBuffer out = ByteBuffer.allocateDirect(bytes).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer src = storage.duplicate();
        long[] idx = new long[rank];
        long inner = rank == 0 ? 1 : shape[rank - 1];
        long innerStride = rank == 0 ? 1 : stride[rank - 1];
        long rows = t.info.numel() / Math.max(inner, 1);
        byte[] elem = new byte[es];
        for (long r = 0; r < rows; r++) {
            long base = t.ref.offset();
            for (int d = 0; d < rank - 1; d++) {
                base += idx[d] * stride[d];
            }
            if (innerStride == 1) {
                int from = (int) (base * es);
                out.put(src.duplicate().position(from).limit(from + (int) (inner * es)));
            } else {
                for (long j = 0; j < inner; j++) {
                    src.get((int) ((base + j * innerStride) * es), elem);
                    out.put(elem);
                }
            }
            for (int d = rank - 2; d >= 0; d--) {
                if (++idx[d] < shape[d]) {
                    break;
                }
                idx[d] = 0;
            }
        }
        out.flip();
        return out.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    private ByteBuffer storageBytes(StorageData d) {
        if (d.length > Integer.MAX_VALUE) {
            throw new ModelFormatException("storage '" + d.key + "' of " + path + " is " + d.length
                    + " bytes; storages over 2 GiB are not supported by the Java buffer API");
        }
        if (d.deflated == null) {
            return mapped.computeIfAbsent(d.key, k -> {
                try {
                    return channel.map(FileChannel.MapMode.READ_ONLY, d.offset, d.length)
                            .order(ByteOrder.LITTLE_ENDIAN);
                } catch (IOException e) {
                    throw new ModelFormatException("cannot map storage '" + d.key + "' of " + path + ": "
                            + e.getMessage(), e);
                }
            });
        }
        Map.Entry<String, ByteBuffer> last = lastInflated;
        if (last != null && last.getKey().equals(d.key)) {
            return last.getValue();
        }
        try {
            ByteBuffer compressed = ZipArchive.readAt(channel, d.offset, Math.toIntExact(d.deflated.compressedSize()));
            ByteBuffer out = zip.inflate(d.deflated, compressed, ByteBuffer.allocateDirect((int) d.length));
            lastInflated = Map.entry(d.key, out);
            return out;
        } catch (IOException e) {
            throw new ModelFormatException("cannot read storage '" + d.key + "' of " + path + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        mapped.clear();
        lastInflated = null;
        closeQuietly(channel);
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // nothing to do
        }
    }

    /** Tensors that share their storage with another tensor (tied weights), grouped by storage key. */
    public Map<String, List<String>> sharedStorages() {
        Map<String, List<String>> byKey = new TreeMap<>();
        for (Tensor t : tensors.values()) {
            byKey.computeIfAbsent(t.data.key, k -> new ArrayList<>()).add(t.info.name());
        }
        byKey.values().removeIf(l -> l.size() < 2);
        return byKey;
    }
}
