package dev.nextgpt.runtime.io;

import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.io.CheckpointInspector.Layout;
import dev.nextgpt.runtime.io.CheckpointInspector.Summary;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static dev.nextgpt.runtime.io.IoTestFiles.*;
import static org.junit.jupiter.api.Assertions.*;

/** CheckpointInspector and CheckpointConverter on the copied golden fixtures and generated files. */
class CheckpointToolsTest {
    private static final String DELTA_DIR = "nextgpt-e2e/system/ckpt/delta_ckpt/nextgpt/7b_tiva_v0/";
    private static final String VICUNA_DIR = "nextgpt-e2e/system/ckpt/pretrained_ckpt/vicuna_ckpt/7b_v0/";

    /** Expected histograms computed by reading every header of a store. */
    private static void assertHistogramsOf(Path twin, Summary s) {
        Map<TensorDType, Integer> tensors = new EnumMap<>(TensorDType.class);
        Map<TensorDType, Long> params = new EnumMap<>(TensorDType.class);
        try (TensorStore t = Checkpoints.open(twin)) {
            for (String n : t.names()) {
                tensors.merge(t.info(n).dtype(), 1, Integer::sum);
                params.merge(t.info(n).dtype(), t.info(n).numel(), Long::sum);
            }
            assertEquals(t.names().size(), s.tensorCount());
            assertEquals(t.parameterCount(), s.parameterCount());
        }
        assertEquals(tensors, s.dtypeTensors());
        assertEquals(params, s.dtypeParameters());
    }

    @Test
    void inspectsTorchZipFileWithItsSiblingConfig() {
        Summary s = CheckpointInspector.inspect(golden("imagebind/model/model.pth"));
        assertEquals(Layout.TORCH_ZIP, s.layout());
        assertEquals(157, s.tensorCount());
        assertHistogramsOf(golden("imagebind/model/model.safetensors"), s);
        assertNotNull(s.config());
        assertTrue(s.toString().contains("157 tensors"), s.toString());
    }

    @Test
    void inspectsHfFolderAndNextGptDelta() {
        Summary vicuna = CheckpointInspector.inspect(golden(VICUNA_DIR));
        assertEquals(Layout.HF_FOLDER, vicuna.layout());
        assertEquals("model.safetensors", vicuna.weightFile().getFileName().toString());
        assertEquals("model_type=\"llama\"", vicuna.configSummary());
        assertEquals(23, vicuna.tensorCount());
        assertHistogramsOf(golden(VICUNA_DIR + "pytorch_model.bin"), vicuna);

        Summary delta = CheckpointInspector.inspect(golden(DELTA_DIR));
        assertEquals(Layout.NEXTGPT_DELTA, delta.layout());
        assertEquals("pytorch_model.pt", delta.weightFile().getFileName().toString());
        assertEquals(407, delta.tensorCount());
        assertEquals(550, delta.config().getInt("vocab_size"));
        assertHistogramsOf(golden(DELTA_DIR + "pytorch_model.safetensors"), delta);
        // the delta's safetensors twin alone is recognised by its tensor names
        assertEquals(Layout.NEXTGPT_DELTA,
                CheckpointInspector.inspect(golden(DELTA_DIR + "pytorch_model.safetensors")).layout());
    }

    @Test
    void inspectsShardedAndLegacyTorchFiles() {
        Summary sharded = CheckpointInspector.inspect(generated("torch/sharded/pytorch_model.bin.index.json"));
        assertEquals(Layout.SHARDED_TORCH, sharded.layout());
        assertEquals(6, sharded.tensorCount());
        assertEquals(Map.of(TensorDType.F32, 4, TensorDType.F16, 1, TensorDType.BF16, 1), sharded.dtypeTensors());
        assertEquals(5 * 4 + 16 + 4 + 16 + 4 + 5 * 4, sharded.parameterCount());
        assertEquals(Layout.TORCH_LEGACY, CheckpointInspector.inspect(generated("torch/views_legacy.pt")).layout());
        assertThrows(ModelFormatException.class, () -> CheckpointInspector.inspect(Path.of("/no/such/ckpt")));
    }

    @Test
    void inspectsADiffusersPipelineFolder(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("model_index.json"), "{\"_class_name\": \"StableDiffusionPipeline\","
                + " \"_diffusers_version\": \"0.17.0\", \"unet\": [\"diffusers\", \"UNet2DConditionModel\"],"
                + " \"vae\": [\"diffusers\", \"AutoencoderKL\"], \"scheduler\": [\"diffusers\", \"PNDMScheduler\"],"
                + " \"safety_checker\": [null, null]}");
        Files.createDirectories(dir.resolve("unet"));
        Files.writeString(dir.resolve("unet/config.json"), "{\"_class_name\": \"UNet2DConditionModel\"}");
        new SafetensorsWriter().addFloats("conv_in.weight", new long[]{4, 2}, new float[8])
                .addLongs("steps", new long[]{3}, new long[3])
                .write(dir.resolve("unet/diffusion_pytorch_model.safetensors"));
        Files.createDirectories(dir.resolve("vae"));
        Files.writeString(dir.resolve("vae/config.json"), "{\"_class_name\": \"AutoencoderKL\"}");
        Files.copy(generated("torch/sharded/single.bin"), dir.resolve("vae/diffusion_pytorch_model.bin"));
        Files.createDirectories(dir.resolve("scheduler"));
        Files.writeString(dir.resolve("scheduler/scheduler_config.json"), "{\"_class_name\": \"PNDMScheduler\"}");

        Summary s = CheckpointInspector.inspect(dir);
        assertEquals(Layout.DIFFUSERS_PIPELINE, s.layout());
        assertEquals("_class_name=\"StableDiffusionPipeline\"", s.configSummary());
        assertEquals(List.of("unet", "vae", "scheduler"), new ArrayList<>(s.components().keySet()));
        assertEquals(2, s.components().get("unet").tensorCount());
        assertEquals(6, s.components().get("vae").tensorCount());
        assertEquals(0, s.components().get("scheduler").tensorCount());
        assertEquals("_class_name=\"PNDMScheduler\"", s.components().get("scheduler").configSummary());
        assertEquals(8, s.tensorCount());
        assertEquals(8 + 3 + 80, s.parameterCount());
        assertEquals(1, s.dtypeTensors().get(TensorDType.I64));
        assertEquals(5, s.dtypeTensors().get(TensorDType.F32));
    }

    @Test
    void convertsTheNextGptDeltaToItsSafetensorsTwin(@TempDir Path dir) {
        Path out = dir.resolve("delta.safetensors");
        List<CheckpointConverter.Progress> seen = new ArrayList<>();
        CheckpointConverter.Result r = CheckpointConverter.toSafetensors(golden(DELTA_DIR + "pytorch_model.pt"), out,
                seen::add);
        assertEquals(407, r.tensorCount());
        assertEquals(407, seen.size());
        for (int i = 0; i < seen.size(); i++) {
            assertEquals(i + 1, seen.get(i).index());
            assertEquals(407, seen.get(i).total());
        }
        assertEquals(r.bytes(), seen.get(406).bytesWritten());
        assertEquals(r.bytes(), seen.get(406).totalBytes());
        try (SafetensorsFile converted = SafetensorsFile.open(out);
             SafetensorsFile twin = SafetensorsFile.open(golden(DELTA_DIR + "pytorch_model.safetensors"))) {
            assertEquals("pt", converted.metadata().get("format"));
            assertEquals(twin.names(), converted.names());
            for (String n : twin.names()) {
                assertEquals(twin.info(n), converted.info(n));
                assertArrayEquals(bytes(twin.rawBytes(n)), bytes(converted.rawBytes(n)), n);
            }
        }
    }

    @Test
    void convertsViewsAndSharedStoragesToContiguousTensors(@TempDir Path dir) {
        for (String in : List.of("torch/views.pt", "torch/views_legacy.pt", "torch/views_deflated.pt")) {
            Path out = dir.resolve(in.replace('/', '_') + ".safetensors");
            CheckpointConverter.toSafetensors(generated(in), out, null);
            try (SafetensorsFile f = SafetensorsFile.open(out)) {
                TorchCheckpointFileTest.assertTensorsMatch(f, json(generated("torch/views.expected.json")));
            }
        }
    }

    @Test
    void failedConversionLeavesNothingBehind(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("evil.safetensors");
        assertThrows(ModelFormatException.class,
                () -> CheckpointConverter.toSafetensors(generated("torch/hostile_os_system.pt"), out, null));
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of(), s.toList());
        }
        // a deflated record whose data is corrupt: opening succeeds, the write fails mid-way and is rolled back
        byte[] zip = Files.readAllBytes(generated("torch/views_deflated.pt"));
        Path src = generated("torch/views_deflated.pt");
        long start;
        long len;
        try (var ch = java.nio.channels.FileChannel.open(src)) {
            ZipArchive a = ZipArchive.read(src, ch);
            ZipArchive.Entry e = a.entries().values().stream().filter(x -> x.name().contains("/data/"))
                    .filter(x -> x.size() >= 64).findFirst().orElseThrow();
            start = a.dataOffset(e);
            len = e.compressedSize();
        }
        for (long i = start; i < start + len; i++) {
            zip[(int) i] = (byte) 0xff;
        }
        Path corrupt = dir.resolve("corrupt.pt");
        Files.write(corrupt, zip);
        Path out2 = dir.resolve("out.safetensors");
        ModelFormatException e = assertThrows(ModelFormatException.class,
                () -> CheckpointConverter.toSafetensors(corrupt, out2, null));
        assertTrue(e.getMessage().contains("deflate") || e.getMessage().contains("inflate"), e.getMessage());
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of(corrupt), s.toList());
        }
    }
}
