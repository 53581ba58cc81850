package dev.nextgpt.runtime.nextgpt;

import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.io.SafetensorsWriter;
import dev.nextgpt.runtime.io.TensorStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LegacySystemLayoutTest {

    /** Builds a legacy layout holding only the delta folder and the vicuna config. */
    static Path partialLegacySystem(Path root) throws IOException {
        Path delta = root.resolve(LegacySystemLayout.DELTA_ROOT).resolve("7b_tiva_v0");
        Files.createDirectories(delta);
        try (Stream<Path> s = Files.list(E2eGolden.deltaDir())) {
            for (Path p : s.toList()) {
                Files.copy(p, delta.resolve(p.getFileName()));
            }
        }
        Path vicuna = root.resolve(LegacySystemLayout.VICUNA_DIR);
        Files.createDirectories(vicuna);
        Files.writeString(vicuna.resolve("config.json"), "{\"model_type\": \"llama\", \"hidden_size\": 64}");
        return root;
    }

    @Test
    void reportsMissingPartsBeforeReadingTensors(@TempDir Path dir) throws IOException {
        Path root = partialLegacySystem(dir);
        LegacySystemLayout layout = LegacySystemLayout.inspect(root);
        System.out.println(layout.report());
        assertEquals(LegacySystemLayout.Kind.LEGACY, layout.kind());
        assertEquals(List.of(LegacySystemLayout.LLM_WEIGHTS, LegacySystemLayout.IMAGEBIND),
                layout.missing().stream().map(LegacySystemLayout.Item::role).toList());
        LegacySystemLayout.Item deltaWeights = layout.item(LegacySystemLayout.DELTA_WEIGHTS).orElseThrow();
        assertTrue(deltaWeights.present());
        assertTrue(deltaWeights.header().startsWith("407 tensors"), deltaWeights.header());
        assertTrue(layout.path(LegacySystemLayout.DELTA_TOKENIZER).orElseThrow().endsWith("tokenizer.json"));
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> layout.requireComplete(Set.of()));
        assertTrue(e.getMessage().contains("imagebind_huge.pth"), e.getMessage());
        assertTrue(e.getMessage().contains("vicuna_weights"), e.getMessage());
        ModelFormatException sd = assertThrows(ModelFormatException.class,
                () -> layout.requireComplete(Set.of(LegacySystemLayout.IMAGE_DECODER)));
        assertTrue(sd.getMessage().contains("3 missing"), sd.getMessage());
        try (TensorStore delta = layout.openDelta()) {
            assertEquals(407, delta.names().size());
        }
    }

    @Test
    void completeLegacySystem(@TempDir Path dir) throws IOException {
        Path root = partialLegacySystem(dir);
        Path vicuna = root.resolve(LegacySystemLayout.VICUNA_DIR);
        new SafetensorsWriter().addFloats("model.norm.weight", new long[] {4}, new float[4])
                .write(vicuna.resolve("model.safetensors"));
        Path ib = root.resolve(LegacySystemLayout.IMAGEBIND_FILE);
        Files.createDirectories(ib.getParent());
        new SafetensorsWriter().addFloats("modality_heads.vision.2.weight", new long[] {16, 16}, new float[256])
                .write(ib); // a safetensors file under the .pth name: only its header is read
        Files.createDirectories(root.resolve("sd"));
        Files.writeString(root.resolve("sd/model_index.json"), "{}");
        LegacySystemLayout layout = LegacySystemLayout.inspect(root);
        assertTrue(layout.missing().isEmpty(), layout.report());
        layout.requireComplete(Set.of(LegacySystemLayout.IMAGE_DECODER));
        assertEquals("1 tensors, 4 parameters", layout.item(LegacySystemLayout.LLM_WEIGHTS).orElseThrow().header());
        assertEquals(550, layout.legacyDims(ParameterAudit.REAL_7B_TIVA_V0).vocab());
    }

    @Test
    void recognisesTheCurrentLayout(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"nextgpt_llama\", \"image_decoder\": "
                + "\"stabilityai/stable-diffusion-2\", \"mm_input_projector_type\": \"group\"}");
        new SafetensorsWriter().addFloats("model.mm_input_projector.in_fc.weight", new long[] {2, 2}, new float[4])
                .write(dir.resolve("model.safetensors"));
        LegacySystemLayout layout = LegacySystemLayout.inspect(dir);
        assertEquals(LegacySystemLayout.Kind.CURRENT, layout.kind());
        assertEquals(List.of(LegacySystemLayout.TOKENIZER),
                layout.missing().stream().map(LegacySystemLayout.Item::role).toList());
        LegacySystemLayout.Item dec = layout.item(LegacySystemLayout.IMAGE_DECODER).orElseThrow();
        assertTrue(!dec.present() && dec.header().contains("stabilityai/stable-diffusion-2"), dec.toString());
        assertThrows(ModelFormatException.class, layout::openDelta);
    }

    @Test
    void missingFolderIsAClearError(@TempDir Path dir) {
        ModelFormatException e = assertThrows(ModelFormatException.class,
                () -> LegacySystemLayout.inspect(dir.resolve("nope")));
        assertTrue(e.getMessage().contains("nope"), e.getMessage());
    }
}
