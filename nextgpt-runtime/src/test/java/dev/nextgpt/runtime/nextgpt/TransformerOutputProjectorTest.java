package dev.nextgpt.runtime.nextgpt;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.UnsupportedConfigurationException;
import dev.nextgpt.runtime.io.SafetensorsFile;
import dev.nextgpt.runtime.io.SafetensorsWriter;
import dev.nextgpt.runtime.io.TensorStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TransformerOutputProjectorTest {

    @ParameterizedTest
    @CsvSource({
            "legacy_textfc_image, gen_text_hidden_fcs.0., LEGACY_TEXTFC, 77, 32",
            "legacy_textfc_video, gen_text_hidden_fcs_video.0., LEGACY_TEXTFC, 77, 32",
            "legacy_textfc_audio, gen_text_hidden_fcs_audio.0., LEGACY_TEXTFC, 1, 16",
            "current_outproj_image, model.mm_output_img_projector., CURRENT, 77, 32",
            "current_outproj_video, model.mm_output_vid_projector., CURRENT, 77, 32",
            "current_outproj_audio, model.mm_output_aud_projector., CURRENT, 1, 16"})
    void matchesGolden(String caseName, String prefix, TransformerOutputProjector.Naming naming, int queries,
                       int outDim) {
        try (TensorStore weights = ProjectorGolden.open(caseName, "weights");
             TensorStore inputs = ProjectorGolden.open(caseName, "inputs");
             TensorStore expected = ProjectorGolden.open(caseName, "expected");
             NDManager m = NDManager.newBaseManager();
             TransformerOutputProjector p = TransformerOutputProjector.load(weights, prefix, m)) {
            TransformerOutputProjector.Config c = p.config();
            assertEquals(naming, c.naming());
            assertEquals(64, c.inDim());
            assertEquals(32, c.width());
            assertEquals(outDim, c.outDim());
            assertEquals(queries, c.numQueries());
            assertEquals(4, c.encoderLayers());
            assertEquals(4, c.decoderLayers());
            assertEquals(128, c.feedForwardDim());
            assertEquals(4, c.heads());

            NDArray x = inputs.load(m, "x");
            NDArray e = inputs.load(m, "input_embs");
            TransformerOutputProjector.Result r = p.forwardDetailed(x, e);
            ProjectorGolden.assertClose(caseName, expected, "after_in_fc", r.afterInFc());
            ProjectorGolden.assertClose(caseName, expected, "encoder_memory", r.encoderMemory());
            ProjectorGolden.assertClose(caseName, expected, "decoder_output", r.decoderOutput());
            ProjectorGolden.assertClose(caseName, expected, "output", r.output());

            // unbatched input = batch row 0
            NDArray single = p.forward(x.get(0), e.get(0));
            assertEquals(2, single.getShape().dimension());
            assertTrue(single.sub(r.output().get(0)).abs().max().getFloat() < 1e-5f);
        }
    }

    @Test
    void wrongHeadsChangeTheResult() {
        // the head count is not in the weights: a different count must give a measurably different output
        try (TensorStore weights = ProjectorGolden.open("current_outproj_image", "weights");
             TensorStore inputs = ProjectorGolden.open("current_outproj_image", "inputs");
             TensorStore expected = ProjectorGolden.open("current_outproj_image", "expected");
             NDManager m = NDManager.newBaseManager();
             TransformerOutputProjector p = TransformerOutputProjector.load(weights, "model.mm_output_img_projector.",
                     TransformerOutputProjector.Naming.CURRENT, 8, m)) {
            NDArray out = p.forward(inputs.load(m, "x"), inputs.load(m, "input_embs"));
            float diff = out.sub(expected.load(m, "output")).abs().max().getFloat();
            assertTrue(diff > 1e-3f, "8 heads should not reproduce the 4-head fixture, diff " + diff);
        }
    }

    @Test
    void rejectsWrongInputWidthAndMismatchedShapes() {
        try (TensorStore weights = ProjectorGolden.open("legacy_textfc_audio", "weights");
             NDManager m = NDManager.newBaseManager();
             TransformerOutputProjector p = TransformerOutputProjector.load(weights, "gen_text_hidden_fcs_audio.0.",
                     m)) {
            InvalidInputException e = assertThrows(InvalidInputException.class,
                    () -> p.forward(m.zeros(new ai.djl.ndarray.types.Shape(1, 8, 63)),
                            m.zeros(new ai.djl.ndarray.types.Shape(1, 8, 63))));
            assertTrue(e.getMessage().contains("64"), e.getMessage());
            assertThrows(InvalidInputException.class, () -> p.forward(m.zeros(new ai.djl.ndarray.types.Shape(1, 8, 64)),
                    m.zeros(new ai.djl.ndarray.types.Shape(1, 7, 64))));
        }
    }

    @Test
    void legacyLinearModeIsRejectedClearly(@TempDir Path dir) {
        Path file = dir.resolve("linear_mode.safetensors");
        new SafetensorsWriter()
                .addFloats("gen_text_hidden_fcs.0.model.weight", new long[] {32, 64}, new float[32 * 64])
                .addFloats("gen_text_hidden_fcs.0.model.bias", new long[] {32}, new float[32])
                .write(file);
        try (TensorStore store = SafetensorsFile.open(file); NDManager m = NDManager.newBaseManager()) {
            UnsupportedConfigurationException e = assertThrows(UnsupportedConfigurationException.class,
                    () -> TransformerOutputProjector.load(store, "gen_text_hidden_fcs.0.", m));
            assertTrue(e.getMessage().contains("mode='linear'"), e.getMessage());
            assertTrue(e.getMessage().contains("AttributeError"), e.getMessage());
            assertThrows(UnsupportedConfigurationException.class,
                    () -> TransformerOutputProjector.load(store, "gen_text_hidden_fcs.0.",
                            TransformerOutputProjector.Naming.LEGACY_TEXTFC, 4, m));
        }
        assertThrows(UnsupportedConfigurationException.class,
                () -> TransformerOutputProjector.requireRunnableLegacyMode("linear"));
        TransformerOutputProjector.requireRunnableLegacyMode("transformer");
    }

    @Test
    void missingTensorIsNamed() {
        try (TensorStore weights = ProjectorGolden.open("current_outproj_image", "weights");
             NDManager m = NDManager.newBaseManager()) {
            Exception e = assertThrows(RuntimeException.class, () -> TransformerOutputProjector.load(weights,
                    "model.mm_output_img_projector.", TransformerOutputProjector.Naming.LEGACY_TEXTFC, 4, m));
            assertTrue(e.getMessage().contains("model.mm_output_img_projector.fc.weight"), e.getMessage());
        }
    }
}
