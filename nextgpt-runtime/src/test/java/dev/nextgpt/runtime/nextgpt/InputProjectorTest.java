package dev.nextgpt.runtime.nextgpt;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.UnsupportedConfigurationException;
import dev.nextgpt.runtime.io.TensorStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class InputProjectorTest {

    @ParameterizedTest
    @CsvSource({
            "legacy_inproj_linear, llama_proj., linear, linear",
            "current_inproj_linear, model.mm_input_projector., linear, linear",
            "current_inproj_mlp, model.mm_input_projector., mlp, mlp"})
    void matchesGolden(String caseName, String prefix, String type, String detected) {
        try (TensorStore weights = ProjectorGolden.open(caseName, "weights");
             TensorStore inputs = ProjectorGolden.open(caseName, "inputs");
             TensorStore expected = ProjectorGolden.open(caseName, "expected");
             NDManager m = NDManager.newBaseManager()) {
            assertEquals(detected, InputProjectors.detectType(weights, prefix));
            try (InputProjector p = InputProjectors.load(weights, prefix, type, m)) {
                assertEquals(32, p.inDim());
                assertEquals(64, p.outDim());
                NDArray out = p.forward(inputs.load(m, "x"));
                ProjectorGolden.assertClose(caseName, expected, "output", out);
            }
        }
    }

    @Test
    void identityPassesThroughAndChecksWidth() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.randomNormal(new Shape(2, 5, 8));
            try (InputProjector p = new InputProjectors.IdentityProjector(8)) {
                assertEquals(0f, p.forward(x).sub(x).abs().max().getFloat());
                assertThrows(InvalidInputException.class, () -> p.forward(m.zeros(new Shape(2, 5, 7))));
            }
        }
    }

    @Test
    void wrongWidthAndUnknownTypeAreReported() {
        try (TensorStore weights = ProjectorGolden.open("current_inproj_mlp", "weights");
             NDManager m = NDManager.newBaseManager();
             InputProjector p = InputProjectors.load(weights, "model.mm_input_projector.", null, m)) {
            InvalidInputException e = assertThrows(InvalidInputException.class,
                    () -> p.forward(m.zeros(new Shape(1, 3, 31))));
            assertTrue(e.getMessage().contains("32"), e.getMessage());
            assertThrows(UnsupportedConfigurationException.class,
                    () -> InputProjectors.load(weights, "model.mm_input_projector.", "conv", m));
        }
    }
}
