package dev.nextgpt.runtime.nextgpt;

import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.io.SafetensorsFile;
import dev.nextgpt.runtime.io.SafetensorsWriter;
import dev.nextgpt.runtime.io.TensorStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ParameterAuditTest {

    /** The tiny e2e system: TextFc width 16, outputs 32/24/16, ImageBind 16; LLM sizes from the delta config. */
    static ParameterAudit.LegacyDims tinyDims() {
        ParameterAudit.LegacyDims tiny = new ParameterAudit.LegacyDims(0, 0, 0, 16, 16, 32, 24, 16, 77, 77, 1, 4, 32,
                List.of("q_proj", "k_proj", "v_proj", "o_proj"));
        Path tmpRoot = E2eGolden.dir().resolve("system");
        return LegacySystemLayout.inspect(tmpRoot).legacyDims(tiny);
    }

    @Test
    void tinyDeltaIsComplete() {
        ParameterAudit.LegacyDims dims = tinyDims();
        assertEquals(64, dims.llmHidden());
        assertEquals(2, dims.llmLayers());
        assertEquals(550, dims.vocab());
        ParameterAudit audit = ParameterAudit.legacyDelta(dims);
        assertEquals(407, audit.expected().size());
        try (TensorStore delta = E2eGolden.delta()) {
            ParameterAudit.Report r = audit.audit(delta);
            assertTrue(r.complete(), r.findings().toString());
            assertTrue(r.unexpected().isEmpty(), r.unexpected().toString());
            assertTrue(r.requireComplete(Set.of()).isEmpty());
        }
        assertEquals(129, ParameterAudit.transformerProjector("p", "x.", TransformerOutputProjector.Naming.CURRENT,
                64, 16, 16, 1, 4, 4, 64).size());
    }

    @Test
    void missingProjectorTensorsAreNamedUnlessRandomInitIsAllowed(@TempDir Path dir) {
        Path file = dir.resolve("delta_without_audio_fc.safetensors");
        List<String> dropped = List.of("gen_text_hidden_fcs_audio.0.query_embs",
                "gen_text_hidden_fcs_audio.0.tfm.decoder.norm.weight", "llama_proj.bias");
        try (TensorStore delta = E2eGolden.delta()) {
            SafetensorsWriter w = new SafetensorsWriter();
            for (String n : delta.names()) {
                if (!dropped.contains(n)) {
                    w.add(delta.info(n), () -> delta.rawBytes(n));
                }
            }
            w.write(file);
        }
        ParameterAudit audit = ParameterAudit.legacyDelta(tinyDims());
        try (TensorStore store = SafetensorsFile.open(file)) {
            ParameterAudit.Report r = audit.audit(store);
            assertEquals(3, r.missing().size());
            assertEquals(Set.of(ParameterAudit.PART_AUDIO_OUTPUT_PROJECTOR, ParameterAudit.PART_INPUT_PROJECTOR),
                    r.partsWithMissing());
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> r.requireComplete(Set.of()));
            for (String d : dropped) {
                assertTrue(e.getMessage().contains(d), e.getMessage());
            }
            ModelFormatException partial = assertThrows(ModelFormatException.class,
                    () -> r.requireComplete(Set.of(ParameterAudit.PART_AUDIO_OUTPUT_PROJECTOR)));
            assertTrue(partial.getMessage().contains("llama_proj.bias"), partial.getMessage());
            assertFalse(partial.getMessage().contains("query_embs"), partial.getMessage());
            assertEquals(Set.of(ParameterAudit.PART_AUDIO_OUTPUT_PROJECTOR, ParameterAudit.PART_INPUT_PROJECTOR),
                    r.requireComplete(Set.of(ParameterAudit.PART_AUDIO_OUTPUT_PROJECTOR,
                            ParameterAudit.PART_INPUT_PROJECTOR)));
        }
    }

    @Test
    void shapeMismatchesAreAlwaysFatal() {
        ParameterAudit audit = ParameterAudit.legacyDelta(ParameterAudit.REAL_7B_TIVA_V0.withLlm(64, 2, 550));
        try (TensorStore delta = E2eGolden.delta()) {
            ParameterAudit.Report r = audit.audit(delta);
            assertTrue(r.missing().isEmpty());
            assertFalse(r.shapeMismatches().isEmpty());
            ModelFormatException e = assertThrows(ModelFormatException.class,
                    () -> r.requireComplete(Set.of(ParameterAudit.PART_INPUT_PROJECTOR)));
            assertTrue(e.getMessage().contains("llama_proj.weight is [64, 16], expected [64, 1024]"), e.getMessage());
        }
    }

    @Test
    void dimsValidatorNamesBothSides() {
        DimsValidator ok = new DimsValidator()
                .encoderSide("ImageBind (modality_heads.vision.2.weight)", 16, "llama_proj", 16, 64, "LLaMA", 64)
                .decoderSide("LLaMA", 64, "gen_text_hidden_fcs.0", 64, 32, "SD UNet cross_attention_dim", 32);
        ok.validate();
        DimsValidator bad = new DimsValidator()
                .encoderSide("ImageBind", 1024, "llama_proj", 16, 64, "LLaMA", 4096)
                .decoderSide("LLaMA", 4096, "gen_text_hidden_fcs_audio.0", 4096, 512, "AudioLDM class_embed", 512);
        assertEquals(2, bad.mismatches().size());
        ModelFormatException e = assertThrows(ModelFormatException.class, bad::validate);
        assertTrue(e.getMessage().contains("ImageBind output width = 1024 != llama_proj input width = 16"),
                e.getMessage());
        assertTrue(e.getMessage().contains("llama_proj output width = 64 != LLaMA hidden size = 4096"), e.getMessage());
    }
}
