package dev.nextgpt.runtime.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.nextgpt.ModelFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

import static dev.nextgpt.runtime.io.IoTestFiles.*;
import static org.junit.jupiter.api.Assertions.*;

class TorchCheckpointFileTest {
    private static final String DELTA = "nextgpt-e2e/system/ckpt/delta_ckpt/nextgpt/7b_tiva_v0/";
    private static final String VICUNA = "nextgpt-e2e/system/ckpt/pretrained_ckpt/vicuna_ckpt/7b_v0/";

    /** Every tensor of {@code torchFile} has the same name, dtype, shape and bytes as in {@code twin}. */
    private static int assertSameTensors(Path torchFile, Path twin) {
        try (TensorStore t = Checkpoints.open(torchFile); TensorStore s = Checkpoints.open(twin)) {
            assertInstanceOf(TorchCheckpointFile.class, t);
            assertInstanceOf(SafetensorsFile.class, s);
            assertEquals(s.names(), t.names());
            for (String name : s.names()) {
                assertEquals(s.info(name), t.info(name), name);
                assertArrayEquals(bytes(s.rawBytes(name)), bytes(t.rawBytes(name)), name);
            }
            return t.names().size();
        }
    }

    @Test
    void imagebindPthEqualsItsSafetensorsTwin() {
        int n = assertSameTensors(golden("imagebind/model/model.pth"), golden("imagebind/model/model.safetensors"));
        assertEquals(157, n);
    }

    @Test
    void nextgptDeltaPtEqualsItsSafetensorsTwin() {
        int n = assertSameTensors(golden(DELTA + "pytorch_model.pt"), golden(DELTA + "pytorch_model.safetensors"));
        assertEquals(407, n);
        // the delta folder opens its pytorch_model.pt (the name NExT-GPT's save_model writes)
        try (TensorStore s = Checkpoints.open(golden(DELTA))) {
            assertEquals("pytorch_model.pt", s.source().getFileName().toString());
        }
    }

    @Test
    void vicunaBinEqualsItsSafetensorsTwinAndHasLlamaShapes() {
        // 21 weights + 2 rotary inv_freq buffers (transformers 4.29 saved them)
        assertEquals(23, assertSameTensors(golden(VICUNA + "pytorch_model.bin"), golden(VICUNA + "model.safetensors")));
        try (TorchCheckpointFile f = TorchCheckpointFile.open(golden(VICUNA + "pytorch_model.bin"))) {
            assertEquals(TensorDType.F32, f.info("model.embed_tokens.weight").dtype());
            assertArrayEquals(new long[]{512, 64}, f.info("model.embed_tokens.weight").shape());
            assertArrayEquals(new long[]{176, 64}, f.info("model.layers.1.mlp.gate_proj.weight").shape());
            assertTrue(f.isZeroCopy("model.norm.weight"));
            assertTrue(f.rawBytes("model.norm.weight").isDirect());
            assertEquals("torch zip", f.format());
        }
    }

    @Test
    void everyStorageDtypeReadsItsExactBytesAndFloatValues() {
        JsonObject exp = json(generated("torch/dtypes.expected.json"));
        try (TorchCheckpointFile f = TorchCheckpointFile.open(generated("torch/dtypes.pt"));
             NDManager m = NDManager.newBaseManager()) {
            assertTensorsMatch(f, exp);
            for (Map.Entry<String, JsonElement> e : exp.getAsJsonObject("float_values").entrySet()) {
                float[] want = toFloats(e.getValue());
                assertArrayEquals(want, f.readFloats(e.getKey()), 0f, e.getKey());
                try (NDArray a = f.load(m, e.getKey())) {
                    assertEquals(DataType.FLOAT32, a.getDataType());
                    assertArrayEquals(want, a.toFloatArray(), 0f, e.getKey());
                }
            }
            assertArrayEquals(new long[]{-(1L << 40), 7, 1L << 62}, f.readLongs("i64"));
            assertArrayEquals(new long[]{-128, 127, 3}, f.readLongs("i8"));
            assertArrayEquals(new long[]{0, 255, 17}, f.readLongs("u8"));
            assertArrayEquals(new long[]{1, 0, 1}, f.readLongs("bool"));
            assertArrayEquals(new long[0], f.info("scalar").shape());
            assertEquals(0, f.info("empty").numel());
        }
    }

    @Test
    void viewsSharedStoragesNestingAndNonTensorValues() {
        JsonObject exp = json(generated("torch/views.expected.json"));
        try (TorchCheckpointFile f = TorchCheckpointFile.open(generated("torch/views.pt"))) {
            assertTensorsMatch(f, exp);
            List<String> nonTensor = new ArrayList<>();
            exp.getAsJsonArray("non_tensor_keys").forEach(x -> nonTensor.add(x.getAsString()));
            assertEquals(new TreeSet<>(nonTensor), new TreeSet<>(f.nonTensorEntries().keySet()));
            assertEquals("100", f.nonTensorEntries().get("step"));
            assertEquals("tiny", f.nonTensorEntries().get("name"));
            // base, transposed, row, col, block, stepped share one storage; tied_a/tied_b another
            assertTrue(f.sharedStorages().values().stream().anyMatch(l -> l.containsAll(
                    List.of("model.base", "model.transposed", "model.row", "model.col", "model.block"))));
            assertTrue(f.sharedStorages().values().stream().anyMatch(l -> l.equals(List.of("model.tied_a",
                    "model.tied_b"))));
            assertTrue(f.isZeroCopy("model.row"), "contiguous view with an offset is a slice");
            assertFalse(f.isZeroCopy("model.transposed"));
            assertArrayEquals(new float[]{2, 8, 14, 20}, f.readFloats("model.col"), 0f);
            assertArrayEquals(new float[]{8, 9, 10, 14, 15, 16}, f.readFloats("model.block"), 0f);
        }
    }

    @Test
    void prefixViewStripsTheWrapperOfATrainingCheckpoint() {
        try (TorchCheckpointFile f = TorchCheckpointFile.open(generated("torch/views.pt"))) {
            TensorStore model = TensorStores.view(f, "model.");
            assertTrue(model.contains("base"));
            assertFalse(model.contains("step"));
            assertEquals(12, model.names().size());
            assertArrayEquals(f.readFloats("model.param"), model.readFloats("param"), 0f);
        }
    }

    @Test
    void legacyNonZipFormatReadsTheSameTensors() {
        assertSameAsViews("torch/views_legacy.pt", "torch legacy");
    }

    @Test
    void zip64DirectoryAndProtocol4PicklesRead() {
        assertSameAsViews("torch/views_zip64.pt", "torch zip");
        assertSameAsViews("torch/views_protocol4.pt", "torch zip");
        try (TorchCheckpointFile f = TorchCheckpointFile.open(generated("torch/views_zip64.pt"))) {
            assertTrue(f.isZeroCopy("model.base"));
        }
    }

    @Test
    void bigEndianByteorderRecordIsRefused() {
        ModelFormatException e = assertThrows(ModelFormatException.class,
                () -> TorchCheckpointFile.open(generated("torch/views_bigendian.pt")));
        assertTrue(e.getMessage().contains("'big' byte order"), e.getMessage());
    }

    @Test
    void randomCorruptionOnlyEverGivesModelFormatException(@TempDir Path dir) throws IOException {
        java.util.Random rnd = new java.util.Random(42);
        for (String name : List.of("torch/views.pt", "torch/views_legacy.pt", "torch/views_protocol4.pt")) {
            byte[] orig = Files.readAllBytes(generated(name));
            for (int trial = 0; trial < 100; trial++) {
                byte[] b = orig.clone();
                int flips = 1 + rnd.nextInt(4);
                // mostly hit the pickle (the start of the file), sometimes anywhere
                for (int k = 0; k < flips; k++) {
                    int pos = rnd.nextBoolean() ? rnd.nextInt(Math.min(b.length, 1500)) : rnd.nextInt(b.length);
                    b[pos] = (byte) rnd.nextInt(256);
                }
                Path p = dir.resolve("fuzz.pt");
                Files.write(p, b);
                try (TensorStore s = Checkpoints.open(p)) {
                    for (String n : s.names()) {
                        s.readFloats(n);
                    }
                } catch (ModelFormatException expected) {
                    // fine: a clean, typed failure
                } catch (RuntimeException | Error other) {
                    fail(name + " trial " + trial + ": " + other, other);
                }
            }
        }
    }

    @Test
    void deflatedZipRecordsAreInflated() {
        assertSameAsViews("torch/views_deflated.pt", "torch zip");
        try (TorchCheckpointFile f = TorchCheckpointFile.open(generated("torch/views_deflated.pt"))) {
            assertFalse(f.isZeroCopy("model.base"));
        }
    }

    private static void assertSameAsViews(String file, String format) {
        JsonObject exp = json(generated("torch/views.expected.json"));
        try (TensorStore s = Checkpoints.open(generated(file))) {
            TorchCheckpointFile f = assertInstanceOf(TorchCheckpointFile.class, s);
            assertEquals(format, f.format());
            assertTensorsMatch(f, exp);
            assertEquals("3", f.nonTensorEntries().get("epoch"));
        }
    }

    @Test
    void loadSharedWrapsTheMappedBytes() {
        try (TorchCheckpointFile f = TorchCheckpointFile.open(generated("torch/views.pt"));
             NDManager m = NDManager.newBaseManager()) {
            try (NDArray a = f.loadShared(m, "model.block"); NDArray b = f.load(m, "model.row")) {
                assertArrayEquals(new long[]{2, 3}, a.getShape().getShape());
                assertArrayEquals(new float[]{8, 9, 10, 14, 15, 16}, a.toFloatArray(), 0f);
                assertArrayEquals(new float[]{6, 7, 8, 9, 10, 11}, b.toFloatArray(), 0f);
            }
            // a strided view has no mapped bytes to share: it is copied, so it survives garbage collection
            try (NDArray t = f.loadShared(m, "model.transposed");
                 NDArray v = TensorStores.view(f, "model.").loadShared(m, "col")) {
                System.gc();
                assertArrayEquals(f.readFloats("model.transposed"), t.toFloatArray(), 0f);
                assertEquals(0f, t.getFloat(0, 0));
                assertEquals(6f, t.getFloat(0, 1));
                assertArrayEquals(new float[]{2, 8, 14, 20}, v.toFloatArray(), 0f);
            }
        }
    }

    @Test
    void shardedTorchBinsGiveTheSameTensorsAsOneFile() {
        try (TensorStore sharded = Checkpoints.open(generated("torch/sharded/pytorch_model.bin.index.json"));
             TensorStore single = Checkpoints.open(generated("torch/sharded/single.bin"))) {
            assertInstanceOf(ShardedTensorStore.class, sharded);
            assertEquals(single.names(), sharded.names());
            assertEquals(6, single.names().size());
            for (String n : single.names()) {
                assertEquals(single.info(n), sharded.info(n));
                assertArrayEquals(bytes(single.rawBytes(n)), bytes(sharded.rawBytes(n)), n);
            }
            assertEquals(TensorDType.BF16, sharded.info("model.layers.1.weight").dtype());
        }
        // the folder resolves to the index by its standard name
        try (TensorStore s = Checkpoints.open(generated("torch/sharded"))) {
            assertInstanceOf(ShardedTensorStore.class, s);
        }
    }

    @Test
    void handWrittenPickleWithStridesLoads() {
        try (TorchCheckpointFile f = TorchCheckpointFile.open(generated("torch/handwritten_ok.pt"))) {
            assertArrayEquals(new float[]{2, 4, 6, 3, 5, 7}, f.readFloats("w"), 0f);
        }
    }

    @Test
    void rebuildTensorV3OnAnUntypedStorageUsesTheGivenDtype() {
        try (TorchCheckpointFile f = TorchCheckpointFile.open(generated("torch/handwritten_v3.pt"))) {
            assertEquals(TensorDType.BF16, f.info("w").dtype());
            assertArrayEquals(new float[]{1, 2, 3, 4}, f.readFloats("w"), 0f);
        }
    }

    @Test
    void hostileGlobalsAreRefusedByName() {
        ModelFormatException e = assertThrows(ModelFormatException.class,
                () -> TorchCheckpointFile.open(generated("torch/hostile_os_system.pt")));
        assertTrue(e.getMessage().contains("refusing to unpickle global os.system"), e.getMessage());
        assertTrue(e.getMessage().contains("hostile_os_system.pt"), e.getMessage());
        e = assertThrows(ModelFormatException.class, () -> Checkpoints.open(generated("torch/hostile_eval.pt")));
        assertTrue(e.getMessage().contains("builtins.eval"), e.getMessage());
    }

    @Test
    void selfReferencingContainersFailCleanly() {
        ModelFormatException e = assertThrows(ModelFormatException.class,
                () -> TorchCheckpointFile.open(generated("torch/hostile_cycle.pt")));
        assertTrue(e.getMessage().contains("nested deeper"), e.getMessage());
        e = assertThrows(ModelFormatException.class,
                () -> TorchCheckpointFile.open(generated("torch/hostile_cycle_key.pt")));
        assertTrue(e.getMessage().contains("self-referencing"), e.getMessage());
    }

    @Test
    void inconsistentFilesFailWithClearErrors() {
        ModelFormatException e = assertThrows(ModelFormatException.class,
                () -> TorchCheckpointFile.open(generated("torch/bad_shape.pt")));
        assertTrue(e.getMessage().contains("'w'") && e.getMessage().contains("holds only 32 bytes"), e.getMessage());
        e = assertThrows(ModelFormatException.class,
                () -> TorchCheckpointFile.open(generated("torch/bad_storage_size.pt")));
        assertTrue(e.getMessage().contains("should hold 16"), e.getMessage());
        e = assertThrows(ModelFormatException.class,
                () -> TorchCheckpointFile.open(generated("torch/missing_record.pt")));
        assertTrue(e.getMessage().contains("archive/data/7"), e.getMessage());
    }

    @Test
    void truncatedAndGarbageFilesFailCleanly(@TempDir Path dir) throws IOException {
        byte[] full = Files.readAllBytes(golden(VICUNA + "pytorch_model.bin"));
        for (int len : new int[]{0, 3, 100, full.length / 2, full.length - 30}) {
            Path p = dir.resolve("trunc" + len + ".bin");
            Files.write(p, Arrays.copyOf(full, len));
            assertThrows(ModelFormatException.class, () -> {
                try (TensorStore s = TorchCheckpointFile.open(p)) {
                    for (String n : s.names()) {
                        s.rawBytes(n);
                    }
                }
            }, "truncated to " + len);
        }
        // a truncated pickle inside an otherwise valid zip
        byte[] views = Files.readAllBytes(generated("torch/views_legacy.pt"));
        Path legacy = dir.resolve("legacy_trunc.pt");
        Files.write(legacy, Arrays.copyOf(views, views.length - 10));
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> TorchCheckpointFile.open(legacy));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
        Path garbage = dir.resolve("garbage.pt");
        Files.write(garbage, "hello world, not a checkpoint".getBytes());
        assertThrows(ModelFormatException.class, () -> Checkpoints.open(garbage));
    }

    static void assertTensorsMatch(TensorStore f, JsonObject exp) {
        JsonObject tensors = exp.getAsJsonObject("tensors");
        assertEquals(new TreeSet<>(tensors.keySet()), new TreeSet<>(f.names()));
        for (Map.Entry<String, JsonElement> e : tensors.entrySet()) {
            JsonObject t = e.getValue().getAsJsonObject();
            TensorInfo info = f.info(e.getKey());
            assertEquals(t.get("dtype").getAsString(), info.dtype().safetensorsName(), e.getKey());
            long[] shape = new long[t.getAsJsonArray("shape").size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = t.getAsJsonArray("shape").get(i).getAsLong();
            }
            assertArrayEquals(shape, info.shape(), e.getKey());
            ByteBuffer raw = f.rawBytes(e.getKey());
            assertEquals(t.get("hex").getAsString(), hex(raw), e.getKey());
        }
    }

    private static float[] toFloats(JsonElement arr) {
        float[] r = new float[arr.getAsJsonArray().size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = arr.getAsJsonArray().get(i).getAsFloat();
        }
        return r;
    }
}
