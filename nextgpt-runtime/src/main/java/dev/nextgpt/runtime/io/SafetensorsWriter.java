package dev.nextgpt.runtime.io;

import ai.djl.ndarray.NDArray;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.RuntimeFailureException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Writes safetensors files tensor by tensor. Data is streamed from each tensor's supplier when {@link #write} runs,
 * into a temporary file that is atomically moved into place, so a failed write never leaves a half-written file.
 */
public final class SafetensorsWriter {
    private record Pending(TensorInfo info, Supplier<ByteBuffer> data) {
    }

    private final List<Pending> tensors = new ArrayList<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();
    private final java.util.Set<String> names = new java.util.HashSet<>();

    /** Adds a tensor whose little-endian bytes are produced lazily at write time. */
    public SafetensorsWriter add(TensorInfo info, Supplier<ByteBuffer> data) {
        if (!names.add(info.name())) {
            throw new InvalidInputException("tensor '" + info.name() + "' added twice");
        }
        tensors.add(new Pending(info, data));
        return this;
    }

    /** Adds an NDArray (copied out when written; the array must stay open until then). */
    public SafetensorsWriter add(String name, NDArray array) {
        TensorInfo info = new TensorInfo(name, TensorConversions.fromDjl(array.getDataType()), array.getShape().getShape());
        return add(info, () -> array.toByteBuffer().order(ByteOrder.LITTLE_ENDIAN));
    }

    /** Adds a float32 tensor. */
    public SafetensorsWriter addFloats(String name, long[] shape, float[] values) {
        TensorInfo info = new TensorInfo(name, TensorDType.F32, shape);
        return add(info, () -> {
            ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            b.asFloatBuffer().put(values);
            return b;
        });
    }

    /** Adds an int64 tensor. */
    public SafetensorsWriter addLongs(String name, long[] shape, long[] values) {
        TensorInfo info = new TensorInfo(name, TensorDType.I64, shape);
        return add(info, () -> {
            ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
            b.asLongBuffer().put(values);
            return b;
        });
    }

    public SafetensorsWriter metadata(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    public int size() {
        return tensors.size();
    }

    /** Writes all tensors to {@code target}; {@code progress} (may be null) receives each tensor name as written. */
    public void write(Path target, java.util.function.Consumer<TensorInfo> progress) {
        JsonObject header = new JsonObject();
        if (!metadata.isEmpty()) {
            JsonObject meta = new JsonObject();
            metadata.forEach(meta::addProperty);
            header.add("__metadata__", meta);
        }
        long offset = 0;
        for (Pending p : tensors) {
            JsonObject t = new JsonObject();
            t.addProperty("dtype", p.info.dtype().safetensorsName());
            JsonArray shape = new JsonArray();
            for (long d : p.info.shape()) {
                shape.add(d);
            }
            t.add("shape", shape);
            JsonArray offs = new JsonArray();
            offs.add(offset);
            offset += p.info.byteSize();
            offs.add(offset);
            t.add("data_offsets", offs);
            header.add(p.info.name(), t);
        }
        byte[] json = header.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) {
            head.put((byte) ' ');
        }
        head.flip();
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        Path tmp = null;
        try {
            Files.createDirectories(dir);
            tmp = Files.createTempFile(dir, "." + abs.getFileName(), ".tmp");
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                writeAll(ch, head);
                for (Pending p : tensors) {
                    ByteBuffer data = p.data.get().duplicate();
                    data.rewind();
                    if (data.remaining() != p.info.byteSize()) {
                        throw new InvalidInputException("tensor '" + p.info.name() + "' " + p.info.dtype()
                                + p.info.shapeString() + " supplied " + data.remaining() + " bytes, expected "
                                + p.info.byteSize());
                    }
                    writeAll(ch, data);
                    if (progress != null) {
                        progress.accept(p.info);
                    }
                }
                ch.force(true);
            }
            Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            tmp = null;
        } catch (IOException e) {
            throw new RuntimeFailureException("cannot write safetensors file " + target + ": " + e.getMessage(), e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // best effort
                }
            }
        }
    }

    public void write(Path target) {
        write(target, null);
    }

    private static void writeAll(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }
}
