package dev.nextgpt.runtime.nextgpt.current;

import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.io.SafetensorsFile;
import dev.nextgpt.runtime.io.SafetensorsWriter;
import dev.nextgpt.runtime.io.TensorStore;
import dev.nextgpt.runtime.nextgpt.Modality;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CurrentCheckpointLayoutTest {

    @Test
    void fullFolderSplitsIntoParts(@TempDir Path dir) throws Exception {
        CurrentTinySystem.write(dir, Set.of());
        try (CurrentCheckpointLayout l = CurrentCheckpointLayout.openFull(dir)) {
            assertEquals("group", l.inputProjectorType());
            assertEquals(21, l.llm().names().size(), "the 21 LLaMA tensors only");
            assertArrayEquals(new long[] {548, 64}, l.llm().info("model.embed_tokens.weight").shape());
            assertTrue(l.inputProjector().contains("in_fc.weight"));
            for (Modality m : Modality.values()) {
                assertTrue(l.hasOutputProjector(m));
                assertEquals(129, l.outputProjector(m).names().size());
            }
            assertEquals(List.of("ImageBind: no model.multimodal_tower.multimodal_tower.* tensors (load "
                    + "imagebind_huge.pth separately)"), l.problems());
            assertTrue(l.imagebind().isEmpty());
        }
    }

    @Test
    void missingTensorsAreNamed(@TempDir Path dir) throws Exception {
        String gone = CurrentTinySystem.key(Modality.AUDIO) + "tfm.decoder.layers.1.norm3.weight";
        CurrentTinySystem.write(dir, Set.of(gone, "model.norm.weight"));
        try (CurrentCheckpointLayout l = CurrentCheckpointLayout.openFull(dir)) {
            assertTrue(l.problems().contains("LLM: model.norm.weight missing"), l.problems().toString());
            assertTrue(l.problems().stream().anyMatch(p -> p.startsWith("AUDIO output projector: missing "
                    + "tfm.decoder.layers.1.norm3.weight")), l.problems().toString());
            ModelFormatException e = assertThrows(ModelFormatException.class, l::requireComplete);
            assertTrue(e.getMessage().contains("norm3"));
        }
        Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"llama\"}");
        assertThrows(ModelFormatException.class, () -> CurrentCheckpointLayout.openFull(dir));
    }

    @Test
    void adapterFilesUseTheKeywordSuffixRule(@TempDir Path dir) throws Exception {
        // mm_input_projector.bin as saved by the trainer: projector keys with full prefixes plus embed_tokens
        SafetensorsWriter in = new SafetensorsWriter();
        try (TensorStore g = SafetensorsFile.open(CurrentTinySystem.projectorFile("current_inproj_group"))) {
            for (String n : g.names()) {
                in.add(g.info(n), () -> g.rawBytes(n));
            }
            in.addFloats("model.embed_tokens.weight", new long[] {36, 64}, new float[36 * 64]);
            in.write(dir.resolve("mm_input_projector.safetensors"));
        }
        SafetensorsWriter out = new SafetensorsWriter();
        try (TensorStore a = SafetensorsFile.open(CurrentTinySystem.projectorFile("current_outproj_audio"))) {
            for (String n : a.names()) {
                // a wrapped name (e.g. from a peft/deepspeed module tree) still resolves by the keyword
                out.add(new dev.nextgpt.runtime.io.TensorInfo("base_model.model." + n, a.info(n).dtype(),
                        a.info(n).shape()), () -> a.rawBytes(n));
            }
            out.write(dir.resolve("mm_output_projector.safetensors"));
        }
        try (TensorStore base = SafetensorsFile.open(CurrentFixtures.llamaDir().resolve("model.safetensors"));
             TensorStore inF = SafetensorsFile.open(dir.resolve("mm_input_projector.safetensors"));
             TensorStore outF = SafetensorsFile.open(dir.resolve("mm_output_projector.safetensors"))) {
            RenamedTensorStore k = CurrentCheckpointLayout.keywordSuffix(inF, "mm_input_projector");
            assertTrue(k.contains("in_fc.weight"));
            assertFalse(k.contains("model.embed_tokens.weight"));
            assertEquals("model.mm_input_projector.in_fc.weight", k.baseName("in_fc.weight"));
            CurrentCheckpointLayout l = CurrentCheckpointLayout.fromAdapterFiles(base, null, inF, outF);
            assertEquals("group", l.inputProjectorType());
            assertTrue(l.hasOutputProjector(Modality.AUDIO));
            assertFalse(l.hasOutputProjector(Modality.IMAGE));
            assertEquals(l.outputProjector(Modality.AUDIO).info("out_fc.weight").shape()[0], 16);
            assertTrue(l.problems().contains("IMAGE output projector: no model.mm_output_img_projector.* tensors"));
        }
    }

    @Test
    void keywordWithoutDotIsAnError(@TempDir Path dir) {
        SafetensorsWriter w = new SafetensorsWriter();
        w.addFloats("model.mm_input_projector_extra", new long[] {1}, new float[] {1});
        w.write(dir.resolve("x.safetensors"));
        try (TensorStore s = SafetensorsFile.open(dir.resolve("x.safetensors"))) {
            assertThrows(ModelFormatException.class, () -> CurrentCheckpointLayout.keywordSuffix(s,
                    "mm_input_projector"));
        }
    }

    @Test
    void loraRunPrefixStripping() {
        Map<String, String> m = CurrentCheckpointLayout.stripLoraRunPrefixes(List.of(
                "base_model.model.model.mm_input_projector.in_fc.weight", "base_model.model.lm_head.weight"));
        assertEquals(Map.of("model.mm_input_projector.in_fc.weight", "base_model.model.model.mm_input_projector.in_fc.weight",
                "lm_head.weight", "base_model.model.lm_head.weight"), m);
        // without a model.model. key only base_model. is stripped
        Map<String, String> flat = CurrentCheckpointLayout.stripLoraRunPrefixes(List.of(
                "base_model.model.mm_input_projector.in_fc.weight", "model.embed_tokens.weight"));
        assertEquals(Set.of("model.mm_input_projector.in_fc.weight", "model.embed_tokens.weight"), flat.keySet());
    }

    @Test
    void loraRunOverlaysNonLoraTrainables(@TempDir Path dir) throws Exception {
        SafetensorsWriter w = new SafetensorsWriter();
        try (TensorStore g = SafetensorsFile.open(CurrentTinySystem.projectorFile("current_inproj_linear"))) {
            for (String n : g.names()) {
                w.add(new dev.nextgpt.runtime.io.TensorInfo("base_model.model." + n, g.info(n).dtype(),
                        g.info(n).shape()), () -> g.rawBytes(n));
            }
            w.write(dir.resolve("non_lora_trainables.safetensors"));
        }
        try (TensorStore base = SafetensorsFile.open(CurrentFixtures.llamaDir().resolve("model.safetensors"));
             CurrentCheckpointLayout l = CurrentCheckpointLayout.fromLoraRun(base, null, dir)) {
            assertEquals("linear", l.inputProjectorType());
            assertArrayEquals(new long[] {64, 32}, l.inputProjector().info("weight").shape());
            assertTrue(l.loraDir().isEmpty());
        }
    }
}
