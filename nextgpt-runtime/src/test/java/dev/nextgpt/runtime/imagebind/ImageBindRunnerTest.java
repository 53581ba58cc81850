package dev.nextgpt.runtime.imagebind;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.runtime.component.ComponentRegistry;
import dev.nextgpt.runtime.component.ComponentRequest;
import dev.nextgpt.runtime.component.ComponentRunner;
import dev.nextgpt.runtime.io.TensorStore;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static dev.nextgpt.runtime.imagebind.ImageBindFixtures.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ImageBindRunnerTest {

    @Test
    void audioCaseThroughTheRegisteredRunner() {
        ComponentRunner runner = ComponentRegistry.get("imagebind");
        try (NDManager m = NDManager.newBaseManager();
             TensorStore exp = ImageBindFixtures.open("cases/audio.safetensors")) {
            NDArray input = ImageBindFixtures.caseInput("audio", m, exp);
            Map<String, NDArray> out = runner.run(new ComponentRequest(ImageBindFixtures.modelDir(),
                    Map.of("audio", input), Map.of("debug", "true"), Map.of()), m);
            double scale = Math.exp(Math.log(20) + 0.1);
            assertClose("runner audio imagebind.embedding", out.get("imagebind.embedding"),
                    exp.load(m, "imagebind.embedding"), 1e-4 * scale, 1e-4);
            assertClose("runner audio nextgpt.embedding", out.get("nextgpt.embedding"),
                    exp.load(m, "nextgpt.embedding"), 1e-4, 1e-4);
            assertClose("runner audio nextgpt_legacy.embedding", out.get("nextgpt_legacy.embedding"),
                    exp.load(m, "nextgpt_legacy.embedding"), 1e-4, 1e-4);
            assertClose("runner audio head.output", out.get("head.output"), exp.load(m, "head.output"), 3e-4, 1e-4);
            assertClose("runner audio trunk.output_cls", out.get("trunk.output_cls"),
                    exp.load(m, "trunk.output_cls"), 3e-4, 1e-4);
            assertTrue(out.containsKey("dbg.s0.block1_output"));
            for (NDArray a : out.values()) {
                assertEquals(m, a.getManager());
            }
        }
    }

    @Test
    void textCaseThroughTheRunner() {
        try (NDManager m = NDManager.newBaseManager();
             TensorStore exp = ImageBindFixtures.open("cases/text.safetensors")) {
            Map<String, NDArray> out = new ImageBindRunner().run(new ComponentRequest(ImageBindFixtures.modelDir(),
                    Map.of("text", exp.load(m, "input_ids")), Map.of(), Map.of()), m);
            double scale = Math.exp(2.909260036932778);
            assertClose("runner text imagebind.embedding", out.get("imagebind.embedding"),
                    exp.load(m, "imagebind.embedding"), 1e-4 * scale, 1e-4);
            assertClose("runner text trunk.output", out.get("trunk.output"), exp.load(m, "trunk.output"), 3e-4, 1e-4);
        }
    }

    @Test
    void needsExactlyOneModalityInput() {
        try (NDManager m = NDManager.newBaseManager()) {
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> new ImageBindRunner().run(
                    new ComponentRequest(ImageBindFixtures.modelDir(), Map.of("pixel_values", m.zeros(
                            new ai.djl.ndarray.types.Shape(1))), Map.of(), Map.of()), m));
            assertTrue(e.getMessage().contains("pixel_values"), e.getMessage());
        }
    }
}
