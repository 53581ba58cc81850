package dev.nextgpt.runtime.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonObject;
import dev.nextgpt.ModelFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static dev.nextgpt.runtime.io.IoTestFiles.*;
import static org.junit.jupiter.api.Assertions.*;

class SafetensorsFileTest {
    private static final Path VICUNA = golden("nextgpt-e2e/system/ckpt/pretrained_ckpt/vicuna_ckpt/7b_v0/model.safetensors");

    @Test
    void loadCopiesWhileRawBytesStayUntouched() {
        try (SafetensorsFile f = SafetensorsFile.open(VICUNA); NDManager m = NDManager.newBaseManager()) {
            assertEquals(23, f.names().size());
            assertEquals("pt", f.metadata().get("format"));
            NDArray a = f.load(m, "model.norm.weight");
            float before = a.getFloat(0);
            a.addi(1f);
            assertEquals(before + 1f, a.getFloat(0), 1e-6);
            NDArray b = f.load(m, "model.norm.weight");
            assertEquals(before, b.getFloat(0), 0f);
            assertEquals(before, f.readFloats("model.norm.weight")[0], 0f);
        }
    }

    @Test
    void writeReadRoundTripKeepsEveryDtypeAndByte(@TempDir Path dir) {
        float[] values = {0.5f, -1.25f, 3.0f, 1024f, -0.0078125f, 0f};
        long[] longs = {-(1L << 40), 7, Long.MAX_VALUE};
        Path p = dir.resolve("rt.safetensors");
        new SafetensorsWriter()
                .addFloats("f32", new long[]{2, 3}, values)
                .addLongs("i64", new long[]{3}, longs)
                .add(new TensorInfo("f16", TensorDType.F16, new long[]{6}), () -> halves(values, false))
                .add(new TensorInfo("bf16", TensorDType.BF16, new long[]{3, 2}), () -> halves(values, true))
                .add(new TensorInfo("u8", TensorDType.U8, new long[]{2}), () -> ByteBuffer.wrap(new byte[]{(byte) 255, 1}))
                .add(new TensorInfo("empty", TensorDType.F32, new long[]{0, 4}), () -> ByteBuffer.allocate(0))
                .add(new TensorInfo("scalar", TensorDType.F64, new long[0]),
                        () -> ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putDouble(0, Math.PI))
                .metadata("format", "pt")
                .write(p);
        try (SafetensorsFile f = SafetensorsFile.open(p); NDManager m = NDManager.newBaseManager()) {
            assertEquals(List.of("bf16", "empty", "f16", "f32", "i64", "scalar", "u8"), new ArrayList<>(f.names()));
            assertEquals("pt", f.metadata().get("format"));
            assertArrayEquals(values, f.readFloats("f32"), 0f);
            assertArrayEquals(longs, f.readLongs("i64"));
            // fp16 and bf16 (these values are exact in both) widen to the same float32 values
            assertArrayEquals(values, f.readFloats("f16"), 0f);
            assertArrayEquals(values, f.readFloats("bf16"), 0f);
            try (NDArray h = f.load(m, "f16"); NDArray b = f.load(m, "bf16")) {
                assertEquals(DataType.FLOAT32, h.getDataType());
                assertArrayEquals(values, h.toFloatArray(), 0f);
                assertArrayEquals(new long[]{3, 2}, b.getShape().getShape());
                assertArrayEquals(values, b.toFloatArray(), 0f);
            }
            assertArrayEquals(new long[]{255, 1}, f.readLongs("u8"));
            assertEquals(0, f.info("empty").numel());
            assertEquals(Math.PI, f.rawBytes("scalar").getDouble(0), 0.0);
        }
    }

    @Test
    void halfPrecisionRoundsToNearestEven(@TempDir Path dir) {
        // 1 + 2^-11 is half-way between two fp16 values and rounds to even (1.0); 1 + 3*2^-11 rounds up
        float[] v = {1f + 0x1p-11f, 1f + 3 * 0x1p-11f, 65504f, 1e-7f, -2.5f};
        Path p = dir.resolve("half.safetensors");
        new SafetensorsWriter().add(new TensorInfo("h", TensorDType.F16, new long[]{5}), () -> halves(v, false))
                .add(new TensorInfo("b", TensorDType.BF16, new long[]{5}), () -> halves(v, true)).write(p);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertArrayEquals(new float[]{1f, 1f + 0x1p-9f, 65504f, 1.1920929e-7f, -2.5f}, f.readFloats("h"), 0f);
            float[] b = f.readFloats("b");
            assertEquals(1f, b[0], 0f);
            assertEquals(65536f, b[2], 0f);
            assertEquals(-2.5f, b[4], 0f);
        }
    }

    @Test
    void shardedCopyGivesTheSameTensorsAsTheSingleFile(@TempDir Path dir) throws IOException {
        JsonObject weightMap = new JsonObject();
        try (SafetensorsFile single = SafetensorsFile.open(VICUNA)) {
            List<String> names = new ArrayList<>(single.names());
            SafetensorsWriter[] shards = {new SafetensorsWriter(), new SafetensorsWriter(), new SafetensorsWriter()};
            for (int i = 0; i < names.size(); i++) {
                String n = names.get(i);
                int s = i % 3;
                shards[s].add(single.info(n), () -> single.rawBytes(n));
                weightMap.addProperty(n, String.format("model-%05d-of-00003.safetensors", s + 1));
            }
            for (int s = 0; s < 3; s++) {
                shards[s].write(dir.resolve(String.format("model-%05d-of-00003.safetensors", s + 1)));
            }
            JsonObject index = new JsonObject();
            index.add("metadata", new JsonObject());
            index.add("weight_map", weightMap);
            Files.writeString(dir.resolve("model.safetensors.index.json"), index.toString());
            try (TensorStore sharded = Checkpoints.open(dir)) {
                ShardedTensorStore st = assertInstanceOf(ShardedTensorStore.class, sharded);
                assertEquals(3, st.shardFiles().size());
                assertEquals(single.names(), sharded.names());
                assertEquals(single.parameterCount(), sharded.parameterCount());
                for (String n : names) {
                    assertEquals(single.info(n), sharded.info(n));
                    assertArrayEquals(bytes(single.rawBytes(n)), bytes(sharded.rawBytes(n)), n);
                }
            }
        }
        // an index naming a shard that does not exist
        Files.writeString(dir.resolve("bad.index.json"), "{\"weight_map\": {\"w\": \"nope.safetensors\"}}");
        ModelFormatException e = assertThrows(ModelFormatException.class,
                () -> Checkpoints.open(dir.resolve("bad.index.json")));
        assertTrue(e.getMessage().contains("nope.safetensors"), e.getMessage());
    }

    @Test
    void headerPointingPastTheEndFails(@TempDir Path dir) throws IOException {
        Path p = craft(dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8);
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(p));
        assertTrue(e.getMessage().contains("'w'") && e.getMessage().contains("outside the data section"),
                e.getMessage());
    }

    @Test
    void truncatedFileFails(@TempDir Path dir) throws IOException {
        byte[] full = Files.readAllBytes(VICUNA);
        for (int len : new int[]{0, 7, 9, 100, full.length - 1}) {
            Path p = dir.resolve("t" + len + ".safetensors");
            Files.write(p, java.util.Arrays.copyOf(full, len));
            assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(p).close(), "length " + len);
        }
    }

    @Test
    void overlappingOffsetsFail(@TempDir Path dir) throws IOException {
        Path p = craft(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12);
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(p));
        assertTrue(e.getMessage().contains("overlap"), e.getMessage());
    }

    @Test
    void headerLengthOutOfBoundsFails(@TempDir Path dir) throws IOException {
        for (long len : new long[]{-1, 0, Long.MAX_VALUE, 1L << 40, 5000}) {
            Path p = dir.resolve("len.safetensors");
            ByteBuffer b = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN).putLong(len).put("{}".getBytes());
            Files.write(p, b.array());
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(p));
            assertTrue(e.getMessage().contains("header length"), e.getMessage());
        }
    }

    @Test
    void dtypeShapeSizeMismatchAndBadHeadersFail(@TempDir Path dir) throws IOException {
        Path p = craft(dir, "{\"w\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[0,8]}}", 8);
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(p));
        assertTrue(e.getMessage().contains("12 bytes") && e.getMessage().contains("span 8"), e.getMessage());
        Path q = craft(dir, "{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2);
        e = assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(q));
        assertTrue(e.getMessage().contains("F8_E4M3"), e.getMessage());
        Path r = craft(dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]", 8);
        e = assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(r));
        assertTrue(e.getMessage().contains("JSON"), e.getMessage());
        Path s = craft(dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8);
        assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(s));
        Path t = craft(dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":\"x\",\"data_offsets\":[0,8]}}", 8);
        assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(t));
    }

    @Test
    void missingTensorIsNamed() {
        try (SafetensorsFile f = SafetensorsFile.open(VICUNA)) {
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> f.info("nope.weight"));
            assertTrue(e.getMessage().contains("nope.weight") && e.getMessage().contains("model.safetensors"));
        }
    }

    private static int fileCounter;

    /** A safetensors file with the given header JSON and {@code dataBytes} zero bytes of data. */
    static Path craft(Path dir, String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        Path p = dir.resolve("crafted" + (fileCounter++) + ".safetensors");
        Files.write(p, b.array());
        return p;
    }

    static ByteBuffer halves(float[] values, boolean bf16) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putShort(bf16 ? TensorConversions.floatToBf16(v) : TensorConversions.floatToHalf(v));
        }
        return b.flip();
    }
}
