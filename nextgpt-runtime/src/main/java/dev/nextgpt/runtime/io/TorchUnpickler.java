package dev.nextgpt.runtime.io;

import dev.nextgpt.ModelFormatException;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * A restricted unpickler for what {@code torch.save} writes. It never instantiates arbitrary classes: only an
 * allow-list of globals (tensor rebuild functions, storage types, dtypes, {@code collections.OrderedDict} and plain
 * builtins containers) is accepted, any other global fails with a {@link ModelFormatException} naming it.
 *
 * <p>Python values map to Java as: None → {@code null}, bool → {@link Boolean}, int → {@link Long} (or
 * {@link BigInteger}), float → {@link Double}, str → {@link String}, bytes → {@code byte[]}, list/set →
 * {@link ArrayList}, tuple → {@link PyTuple}, dict/OrderedDict → {@link LinkedHashMap}, tensors → {@link TensorRef}.
 */
final class TorchUnpickler {

    /** A Python tuple. */
    record PyTuple(List<Object> items) {
        Object get(int i) {
            return items.get(i);
        }

        int size() {
            return items.size();
        }
    }

    /** A resolved, allowed global (a function or class we know how to emulate). */
    record PyGlobal(String module, String name) {
        String qualified() {
            return module + "." + name;
        }
    }

    /** A storage referenced by a persistent id; {@code dtype == null} marks an untyped (byte) storage. */
    record StorageRef(String key, TensorDType dtype, String location, long numel) {
    }

    /** A tensor view on a storage, in elements of {@code dtype}. */
    record TensorRef(StorageRef storage, TensorDType dtype, long offset, long[] shape, long[] stride) {
    }

    private static final Object MARK = new Object() {
        @Override
        public String toString() {
            return "MARK";
        }
    };

    static final Map<String, TensorDType> STORAGE_TYPES = Map.ofEntries(
            Map.entry("FloatStorage", TensorDType.F32), Map.entry("HalfStorage", TensorDType.F16),
            Map.entry("BFloat16Storage", TensorDType.BF16), Map.entry("DoubleStorage", TensorDType.F64),
            Map.entry("LongStorage", TensorDType.I64), Map.entry("IntStorage", TensorDType.I32),
            Map.entry("ShortStorage", TensorDType.I16), Map.entry("CharStorage", TensorDType.I8),
            Map.entry("ByteStorage", TensorDType.U8), Map.entry("BoolStorage", TensorDType.BOOL));

    static final Map<String, TensorDType> DTYPES = Map.ofEntries(
            Map.entry("float32", TensorDType.F32), Map.entry("float", TensorDType.F32),
            Map.entry("float16", TensorDType.F16), Map.entry("half", TensorDType.F16),
            Map.entry("bfloat16", TensorDType.BF16), Map.entry("float64", TensorDType.F64),
            Map.entry("double", TensorDType.F64), Map.entry("int64", TensorDType.I64),
            Map.entry("long", TensorDType.I64), Map.entry("int32", TensorDType.I32), Map.entry("int", TensorDType.I32),
            Map.entry("int16", TensorDType.I16), Map.entry("short", TensorDType.I16),
            Map.entry("int8", TensorDType.I8), Map.entry("uint8", TensorDType.U8), Map.entry("bool", TensorDType.BOOL));

    private static final Set<String> TORCH_FUNCTIONS = Set.of(
            "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor_v3", "torch._utils._rebuild_parameter",
            "torch._utils._rebuild_parameter_with_state", "torch._tensor._rebuild_from_type_v2",
            "torch.Size", "torch.device", "torch.Tensor", "torch.nn.parameter.Parameter",
            "torch.storage.UntypedStorage", "torch.UntypedStorage", "torch.storage._load_from_bytes",
            "collections.OrderedDict", "_codecs.encode");

    private static final Set<String> BUILTINS = Set.of("dict", "list", "tuple", "set", "frozenset", "bytearray");

    private final String where;
    private final ByteBuffer in;
    private final Function<PyTuple, Object> persistentLoad;
    private final ArrayList<Object> stack = new ArrayList<>();
    private final ArrayList<Integer> marks = new ArrayList<>();
    private final Map<Long, Object> memo = new HashMap<>();

    /**
     * @param where          the file (and entry) being read, for error messages
     * @param in             the pickle bytes from the current position; left positioned after STOP
     * @param persistentLoad resolves persistent ids (storages); receives the pid tuple
     */
    TorchUnpickler(String where, ByteBuffer in, Function<PyTuple, Object> persistentLoad) {
        this.where = where;
        this.in = in.order(ByteOrder.LITTLE_ENDIAN);
        this.persistentLoad = persistentLoad;
    }

    /** Reads one pickle up to and including its STOP opcode. */
    Object load() {
        try {
            while (true) {
                int op = in.get() & 0xff;
                switch (op) {
                    case 0x80 -> in.get(); // PROTO
                    case 0x95 -> in.getLong(); // FRAME: length of the next frame, nothing to do
                    case '}' -> push(new LinkedHashMap<>());
                    case ']' -> push(new ArrayList<>());
                    case ')' -> push(new PyTuple(List.of()));
                    case 0x8f -> push(new ArrayList<>()); // EMPTY_SET
                    case '(' -> {
                        marks.add(stack.size());
                        stack.add(MARK);
                    }
                    case 'X' -> push(string(length(in.getInt() & 0xffffffffL)));
                    case 0x8d -> push(string(length(in.getLong()))); // BINUNICODE8
                    case 0x8c -> push(string(in.get() & 0xff)); // SHORT_BINUNICODE
                    case 'C' -> push(bytes(in.get() & 0xff)); // SHORT_BINBYTES
                    case 'B' -> push(bytes(length(in.getInt() & 0xffffffffL))); // BINBYTES
                    case 0x8e, 0x96 -> push(bytes(length(in.getLong()))); // BINBYTES8, BYTEARRAY8
                    case 'U' -> push(latin1(in.get() & 0xff)); // SHORT_BINSTRING
                    case 'T' -> push(latin1(length(in.getInt() & 0xffffffffL))); // BINSTRING
                    case 'J' -> push((long) in.getInt()); // BININT
                    case 'K' -> push((long) (in.get() & 0xff)); // BININT1
                    case 'M' -> push((long) (in.getShort() & 0xffff)); // BININT2
                    case 0x8a -> push(longN(in.get() & 0xff)); // LONG1
                    case 0x8b -> push(longN(length(in.getInt() & 0xffffffffL))); // LONG4
                    case 'G' -> push(Double.longBitsToDouble(Long.reverseBytes(in.getLong()))); // BINFLOAT (BE)
                    case 0x88 -> push(Boolean.TRUE);
                    case 0x89 -> push(Boolean.FALSE);
                    case 'N' -> push(null);
                    case 0x85 -> {
                        List<Object> one = new ArrayList<>(1);
                        one.add(pop());
                        push(new PyTuple(one));
                    }
                    case 0x86 -> {
                        Object b = pop();
                        Object a = pop();
                        push(new PyTuple(Arrays.asList(a, b)));
                    }
                    case 0x87 -> {
                        Object c = pop();
                        Object b = pop();
                        Object a = pop();
                        push(new PyTuple(Arrays.asList(a, b, c)));
                    }
                    case 't' -> push(new PyTuple(popMark()));
                    case 'l' -> push(new ArrayList<>(popMark())); // LIST
                    case 'd' -> { // DICT
                        List<Object> items = popMark();
                        Map<Object, Object> m = new LinkedHashMap<>();
                        putPairs(m, items);
                        push(m);
                    }
                    case 's' -> { // SETITEM
                        Object v = pop();
                        Object k = pop();
                        asMap(peek(), "SETITEM").put(k, v);
                    }
                    case 'u' -> { // SETITEMS
                        List<Object> items = popMark();
                        putPairs(asMap(peek(), "SETITEMS"), items);
                    }
                    case 'a' -> { // APPEND
                        Object v = pop();
                        asList(peek(), "APPEND").add(v);
                    }
                    case 'e', 0x90 -> { // APPENDS, ADDITEMS
                        List<Object> items = popMark();
                        asList(peek(), "APPENDS").addAll(items);
                    }
                    case 0x91 -> push(new ArrayList<>(popMark())); // FROZENSET
                    case 'q' -> memo.put((long) (in.get() & 0xff), peek()); // BINPUT
                    case 'r' -> memo.put(in.getInt() & 0xffffffffL, peek()); // LONG_BINPUT
                    case 0x94 -> memo.put((long) memo.size(), peek()); // MEMOIZE
                    case 'h' -> push(memoGet(in.get() & 0xff)); // BINGET
                    case 'j' -> push(memoGet(in.getInt() & 0xffffffffL)); // LONG_BINGET
                    case '0' -> pop(); // POP
                    case '1' -> popMark(); // POP_MARK
                    case '2' -> push(peek()); // DUP
                    case 'c' -> { // GLOBAL
                        String module = line();
                        String name = line();
                        push(resolveGlobal(module, name));
                    }
                    case 0x93 -> { // STACK_GLOBAL
                        Object name = pop();
                        Object module = pop();
                        if (!(module instanceof String m) || !(name instanceof String n)) {
                            throw corrupt("STACK_GLOBAL expects two strings");
                        }
                        push(resolveGlobal(m, n));
                    }
                    case 'R' -> { // REDUCE
                        Object args = pop();
                        Object fn = pop();
                        push(call(fn, tuple(args, "REDUCE")));
                    }
                    case 0x81 -> { // NEWOBJ
                        Object args = pop();
                        Object cls = pop();
                        push(call(cls, tuple(args, "NEWOBJ")));
                    }
                    case 0x92 -> { // NEWOBJ_EX
                        pop(); // kwargs
                        Object args = pop();
                        Object cls = pop();
                        push(call(cls, tuple(args, "NEWOBJ_EX")));
                    }
                    case 'b' -> pop(); // BUILD: state of an allowed object (e.g. OrderedDict._metadata); ignored
                    case 'Q' -> { // BINPERSID
                        Object pid = pop();
                        push(persistentLoad.apply(tuple(pid, "BINPERSID")));
                    }
                    case '.' -> {
                        if (stack.size() != 1) {
                            throw corrupt("STOP with " + stack.size() + " values on the stack");
                        }
                        return stack.get(0);
                    }
                    default -> throw new ModelFormatException(where + ": unsupported pickle opcode 0x"
                            + Integer.toHexString(op) + " at byte " + (in.position() - 1)
                            + " (only the opcodes torch.save emits are supported)");
                }
            }
        } catch (java.nio.BufferUnderflowException e) {
            throw new ModelFormatException(where + ": pickle data ends before its STOP opcode (truncated or corrupt)", e);
        } catch (ClassCastException | IndexOutOfBoundsException | IllegalArgumentException | NullPointerException
                 | ArithmeticException e) {
            throw corrupt(e.toString());
        } catch (StackOverflowError e) {
            throw new ModelFormatException(where + ": pickle builds self-referencing containers (hostile or corrupt)");
        }
    }

    private ModelFormatException corrupt(String what) {
        return new ModelFormatException(where + ": corrupt pickle near byte " + in.position() + ": " + what);
    }

    private void push(Object o) {
        stack.add(o);
    }

    private Object pop() {
        if (stack.isEmpty()) {
            throw corrupt("stack underflow");
        }
        Object o = stack.remove(stack.size() - 1);
        if (o == MARK) {
            throw corrupt("unexpected MARK");
        }
        return o;
    }

    private Object peek() {
        if (stack.isEmpty() || stack.get(stack.size() - 1) == MARK) {
            throw corrupt("stack underflow");
        }
        return stack.get(stack.size() - 1);
    }

    private List<Object> popMark() {
        if (marks.isEmpty()) {
            throw corrupt("no MARK on the stack");
        }
        int m = marks.remove(marks.size() - 1);
        List<Object> items = new ArrayList<>(stack.subList(m + 1, stack.size()));
        stack.subList(m, stack.size()).clear();
        return items;
    }

    private Object memoGet(long key) {
        if (!memo.containsKey(key)) {
            throw corrupt("memo key " + key + " was never stored");
        }
        return memo.get(key);
    }

    private int length(long n) {
        if (n < 0 || n > in.remaining()) {
            throw new ModelFormatException(where + ": pickle value of " + n + " bytes runs past the end of the data"
                    + " (truncated or corrupt)");
        }
        return (int) n;
    }

    private String string(int n) {
        byte[] b = new byte[length(n)];
        in.get(b);
        return new String(b, StandardCharsets.UTF_8);
    }

    private String latin1(int n) {
        byte[] b = new byte[length(n)];
        in.get(b);
        return new String(b, StandardCharsets.ISO_8859_1);
    }

    private byte[] bytes(int n) {
        byte[] b = new byte[length(n)];
        in.get(b);
        return b;
    }

    private Object longN(int n) {
        if (n == 0) {
            return 0L;
        }
        byte[] le = new byte[length(n)];
        in.get(le);
        byte[] be = new byte[n];
        for (int i = 0; i < n; i++) {
            be[i] = le[n - 1 - i];
        }
        BigInteger v = new BigInteger(be);
        return v.bitLength() < 64 ? (Object) v.longValue() : v;
    }

    private String line() {
        StringBuilder sb = new StringBuilder();
        while (true) {
            byte b = in.get();
            if (b == '\n') {
                return sb.toString();
            }
            if (sb.length() > 256) {
                throw corrupt("GLOBAL name too long");
            }
            sb.append((char) (b & 0xff));
        }
    }

    private PyTuple tuple(Object o, String op) {
        if (o instanceof PyTuple t) {
            return t;
        }
        throw corrupt(op + " expects a tuple, got " + describe(o));
    }

    @SuppressWarnings("unchecked")
    private Map<Object, Object> asMap(Object o, String op) {
        if (o instanceof Map<?, ?> m) {
            return (Map<Object, Object>) m;
        }
        throw corrupt(op + " on " + describe(o));
    }

    @SuppressWarnings("unchecked")
    private List<Object> asList(Object o, String op) {
        if (o instanceof List<?> l) {
            return (List<Object>) l;
        }
        throw corrupt(op + " on " + describe(o));
    }

    private void putPairs(Map<Object, Object> m, List<Object> items) {
        if (items.size() % 2 != 0) {
            throw corrupt("odd number of items for a dict");
        }
        for (int i = 0; i < items.size(); i += 2) {
            m.put(items.get(i), items.get(i + 1));
        }
    }

    private Object resolveGlobal(String module, String name) {
        if (module.equals("__builtin__")) {
            module = "builtins";
        }
        String q = module + "." + name;
        boolean ok = TORCH_FUNCTIONS.contains(q)
                || (module.equals("builtins") && BUILTINS.contains(name))
                || (module.equals("torch") && (STORAGE_TYPES.containsKey(name) || DTYPES.containsKey(name)));
        if (!ok) {
            throw new ModelFormatException("refusing to unpickle global " + q + " in " + where
                    + " (only tensors and plain containers are allowed)");
        }
        return new PyGlobal(module, name);
    }

    static String describe(Object o) {
        if (o == null) {
            return "None";
        }
        if (o instanceof PyGlobal g) {
            return "global " + g.qualified();
        }
        return o.getClass().getSimpleName();
    }

    private Object call(Object fn, PyTuple args) {
        if (!(fn instanceof PyGlobal g)) {
            throw corrupt("call of a non-callable " + describe(fn));
        }
        List<Object> a = args.items();
        switch (g.qualified()) {
            case "torch._utils._rebuild_tensor_v2" -> {
                StorageRef s = storage(arg(a, 0, g));
                if (s.dtype() == null) {
                    throw corrupt("_rebuild_tensor_v2 on an untyped storage (no dtype given)");
                }
                return tensor(s, s.dtype(), arg(a, 1, g), arg(a, 2, g), arg(a, 3, g));
            }
            case "torch._utils._rebuild_tensor_v3" -> {
                StorageRef s = storage(arg(a, 0, g));
                TensorDType dt = dtypeOf(arg(a, 6, g));
                return tensor(s, dt, arg(a, 1, g), arg(a, 2, g), arg(a, 3, g));
            }
            case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state" -> {
                return arg(a, 0, g);
            }
            case "torch._tensor._rebuild_from_type_v2" -> {
                // (func, new_type, args, state): rebuild with func(*args); the subclass type is dropped
                return call(arg(a, 0, g), tuple(arg(a, 2, g), "_rebuild_from_type_v2"));
            }
            case "torch.Size", "builtins.tuple" -> {
                return a.isEmpty() ? new PyTuple(List.of()) : new PyTuple(new ArrayList<>(iterable(a.get(0))));
            }
            case "builtins.list", "builtins.set", "builtins.frozenset" -> {
                return a.isEmpty() ? new ArrayList<>() : new ArrayList<>(iterable(a.get(0)));
            }
            case "builtins.dict", "collections.OrderedDict" -> {
                Map<Object, Object> m = new LinkedHashMap<>();
                if (!a.isEmpty() && a.get(0) != null) {
                    Object src = a.get(0);
                    if (src instanceof Map<?, ?> mm) {
                        m.putAll(mm);
                    } else {
                        for (Object pair : iterable(src)) {
                            List<Object> kv = iterable(pair);
                            if (kv.size() != 2) {
                                throw corrupt("dict item is not a pair");
                            }
                            m.put(kv.get(0), kv.get(1));
                        }
                    }
                }
                return m;
            }
            case "builtins.bytearray" -> {
                return a.isEmpty() ? new byte[0] : a.get(0);
            }
            case "_codecs.encode" -> {
                if (a.isEmpty() || !(a.get(0) instanceof String s)) {
                    throw corrupt("_codecs.encode expects a string");
                }
                return s.getBytes(StandardCharsets.ISO_8859_1);
            }
            case "torch.device" -> {
                return a.isEmpty() ? "cpu" : String.valueOf(a.get(0)) + (a.size() > 1 ? ":" + a.get(1) : "");
            }
            default -> throw new ModelFormatException("refusing to call " + g.qualified() + " in " + where
                    + " (only tensor rebuild functions and plain containers are allowed)");
        }
    }

    private Object arg(List<Object> a, int i, PyGlobal g) {
        if (i >= a.size()) {
            throw corrupt(g.qualified() + " called with " + a.size() + " arguments; argument " + i + " is missing");
        }
        return a.get(i);
    }

    private List<Object> iterable(Object o) {
        if (o instanceof PyTuple t) {
            return t.items();
        }
        if (o instanceof List<?> l) {
            @SuppressWarnings("unchecked")
            List<Object> lo = (List<Object>) l;
            return lo;
        }
        throw corrupt("expected a tuple or list, got " + describe(o));
    }

    private StorageRef storage(Object o) {
        if (o instanceof StorageRef s) {
            return s;
        }
        throw corrupt("tensor rebuilt from " + describe(o) + " instead of a storage");
    }

    private TensorDType dtypeOf(Object o) {
        if (o instanceof PyGlobal g && g.module().equals("torch") && DTYPES.containsKey(g.name())) {
            return DTYPES.get(g.name());
        }
        throw corrupt("expected a torch dtype, got " + describe(o));
    }

    private TensorRef tensor(StorageRef s, TensorDType dtype, Object offset, Object size, Object stride) {
        long off = asLong(offset, "storage offset");
        long[] shape = longs(size, "size");
        long[] strides = longs(stride, "stride");
        if (shape.length != strides.length) {
            throw corrupt("tensor size " + Arrays.toString(shape) + " and stride " + Arrays.toString(strides)
                    + " differ in rank");
        }
        return new TensorRef(s, dtype, off, shape, strides);
    }

    private long asLong(Object o, String what) {
        if (o instanceof Long l) {
            return l;
        }
        throw corrupt(what + " is " + describe(o) + ", not an int");
    }

    private long[] longs(Object o, String what) {
        List<Object> items = iterable(o);
        long[] r = new long[items.size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = asLong(items.get(i), what);
        }
        return r;
    }
}
