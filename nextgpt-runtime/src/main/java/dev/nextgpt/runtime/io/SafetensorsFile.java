package dev.nextgpt.runtime.io;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import dev.nextgpt.ModelFormatException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One safetensors file: an 8-byte little-endian header length, a JSON header, then the raw data. The header is
 * validated completely on open (bounds, dtype x shape sizes, no overlaps); tensor data is memory-mapped per tensor on
 * first use, so files of any size load without passing through the Java heap.
 */
public final class SafetensorsFile implements TensorStore {
    /** Upper bound on the JSON header, as in the reference implementation (100 MB). */
    public static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;

    private record Entry(TensorInfo info, long begin, long end) {
    }

    private final Path path;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, Entry> entries;
    private final Map<String, String> metadata;
    private final Map<String, ByteBuffer> mapped = new ConcurrentHashMap<>();

    private SafetensorsFile(Path path, FileChannel channel, long dataStart, Map<String, Entry> entries,
                            Map<String, String> metadata) {
        this.path = path;
        this.channel = channel;
        this.dataStart = dataStart;
        this.entries = entries;
        this.metadata = metadata;
    }

    /** Opens and validates a safetensors file. */
    public static SafetensorsFile open(Path path) {
        FileChannel ch;
        try {
            ch = FileChannel.open(path, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new ModelFormatException("cannot open safetensors file " + path + ": " + e.getMessage(), e);
        }
        try {
            long fileSize = ch.size();
            if (fileSize < 8) {
                throw new ModelFormatException(path + ": not a safetensors file (only " + fileSize + " bytes)");
            }
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0);
            long headerLen = lenBuf.getLong(0);
            if (headerLen <= 0 || headerLen > MAX_HEADER_BYTES) {
                throw new ModelFormatException(path + ": safetensors header length " + headerLen
                        + " is out of bounds (1.." + MAX_HEADER_BYTES + ")");
            }
            if (8 + headerLen > fileSize) {
                throw new ModelFormatException(path + ": safetensors header length " + headerLen
                        + " points past the end of the file (" + fileSize + " bytes); the file is truncated or corrupt");
            }
            ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
            readFully(ch, hb, 8);
            String json = new String(hb.array(), StandardCharsets.UTF_8);
            long dataStart = 8 + headerLen;
            long dataSize = fileSize - dataStart;
            Map<String, String> meta = new LinkedHashMap<>();
            Map<String, Entry> entries = parseHeader(path, json, dataSize, meta);
            return new SafetensorsFile(path, ch, dataStart, entries, meta);
        } catch (IOException e) {
            closeQuietly(ch);
            throw new ModelFormatException("cannot read safetensors file " + path + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            closeQuietly(ch);
            throw e;
        }
    }

    private static Map<String, Entry> parseHeader(Path path, String json, long dataSize, Map<String, String> meta) {
        JsonObject root;
        try {
            JsonElement el = JsonParser.parseString(json);
            if (!el.isJsonObject()) {
                throw new ModelFormatException(path + ": safetensors header is not a JSON object");
            }
            root = el.getAsJsonObject();
        } catch (JsonParseException e) {
            throw new ModelFormatException(path + ": safetensors header is not valid JSON: " + e.getMessage(), e);
        }
        Map<String, Entry> entries = new TreeMap<>();
        List<Entry> byOffset = new ArrayList<>();
        for (Map.Entry<String, JsonElement> e : root.entrySet()) {
            String name = e.getKey();
            if (name.equals("__metadata__")) {
                if (e.getValue().isJsonObject()) {
                    for (Map.Entry<String, JsonElement> m : e.getValue().getAsJsonObject().entrySet()) {
                        meta.put(m.getKey(), m.getValue().isJsonPrimitive() ? m.getValue().getAsString()
                                : m.getValue().toString());
                    }
                }
                continue;
            }
            String where = path + ": tensor '" + name + "'";
            try {
                JsonObject t = e.getValue().getAsJsonObject();
                TensorDType dtype = TensorDType.fromSafetensors(t.get("dtype").getAsString(), where);
                var shapeArr = t.getAsJsonArray("shape");
                long[] shape = new long[shapeArr.size()];
                for (int i = 0; i < shape.length; i++) {
                    shape[i] = shapeArr.get(i).getAsLong();
                    if (shape[i] < 0) {
                        throw new ModelFormatException(where + " has a negative dimension in shape " + shapeArr);
                    }
                }
                var offs = t.getAsJsonArray("data_offsets");
                if (offs == null || offs.size() != 2) {
                    throw new ModelFormatException(where + " has no valid data_offsets");
                }
                long begin = offs.get(0).getAsLong();
                long end = offs.get(1).getAsLong();
                TensorInfo info = new TensorInfo(name, dtype, shape);
                if (begin < 0 || end < begin || end > dataSize) {
                    throw new ModelFormatException(where + " has data_offsets [" + begin + ", " + end
                            + "] outside the data section of " + dataSize + " bytes (truncated or corrupt file)");
                }
                long expected;
                try {
                    expected = info.byteSize();
                } catch (ArithmeticException ex) {
                    throw new ModelFormatException(where + " has an impossible shape " + info.shapeString());
                }
                if (end - begin != expected) {
                    throw new ModelFormatException(where + " is " + dtype + info.shapeString() + " = " + expected
                            + " bytes, but its data_offsets span " + (end - begin) + " bytes");
                }
                Entry entry = new Entry(info, begin, end);
                entries.put(name, entry);
                byOffset.add(entry);
            } catch (IllegalStateException | NullPointerException | UnsupportedOperationException
                     | NumberFormatException | ClassCastException ex) {
                throw new ModelFormatException(where + " has a malformed header entry: " + e.getValue(), ex);
            }
        }
        byOffset.sort(Comparator.comparingLong(Entry::begin));
        for (int i = 1; i < byOffset.size(); i++) {
            Entry a = byOffset.get(i - 1);
            Entry b = byOffset.get(i);
            if (b.begin < a.end) {
                throw new ModelFormatException(path + ": tensors '" + a.info.name() + "' and '" + b.info.name()
                        + "' overlap in the data section");
            }
        }
        return Collections.unmodifiableMap(entries);
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos + buf.position());
            if (n < 0) {
                throw new IOException("unexpected end of file");
            }
        }
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // nothing to do
        }
    }

    @Override
    public Path source() {
        return path;
    }

    @Override
    public Set<String> names() {
        return entries.keySet();
    }

    /** The free-form {@code __metadata__} map of the header. */
    public Map<String, String> metadata() {
        return Collections.unmodifiableMap(metadata);
    }

    @Override
    public TensorInfo info(String name) {
        return entry(name).info;
    }

    private Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw new ModelFormatException("tensor '" + name + "' is not in " + path);
        }
        return e;
    }

    @Override
    public ByteBuffer rawBytes(String name) {
        Entry e = entry(name);
        ByteBuffer b = mapped.computeIfAbsent(name, n -> map(e));
        return b.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    }

    private ByteBuffer map(Entry e) {
        long len = e.end - e.begin;
        if (len == 0) {
            return ByteBuffer.allocateDirect(0);
        }
        if (len > Integer.MAX_VALUE) {
            throw new ModelFormatException("tensor '" + e.info.name() + "' in " + path + " is " + len
                    + " bytes; tensors over 2 GiB are not supported by the Java buffer API");
        }
        try {
            MappedByteBuffer m = channel.map(FileChannel.MapMode.READ_ONLY, dataStart + e.begin, len);
            return m.order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException ex) {
            throw new ModelFormatException("cannot map tensor '" + e.info.name() + "' of " + path + ": "
                    + ex.getMessage(), ex);
        }
    }

    @Override
    public void close() {
        mapped.clear();
        closeQuietly(channel);
    }

    /** True if the file starts like a safetensors file (plausible header length followed by '{'). */
    public static boolean looksLikeSafetensors(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            if (ch.size() < 10) {
                return false;
            }
            ByteBuffer b = ByteBuffer.allocate(9).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, b, 0);
            long len = b.getLong(0);
            return len > 0 && len <= MAX_HEADER_BYTES && b.get(8) == '{';
        } catch (IOException e) {
            return false;
        }
    }

    static boolean isFile(Path p) {
        return Files.isRegularFile(p);
    }
}
