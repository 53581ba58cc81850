package dev.nextgpt.runtime.nextgpt;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.google.gson.JsonObject;
import dev.nextgpt.runtime.component.ComponentRegistry;
import dev.nextgpt.runtime.component.ComponentRequest;
import dev.nextgpt.runtime.component.ComponentRunner;
import dev.nextgpt.runtime.io.TensorStore;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LegacyNextGptRunnerTest {

    @Test
    void textToImageThroughTheComponentRunner() {
        ComponentRunner runner = ComponentRegistry.get("nextgpt-legacy");
        Path system = E2eGolden.dir().resolve("system");
        JsonObject c = E2eGolden.caseNamed("a_text_to_image");
        try (NDManager m = NDManager.newBaseManager(); TensorStore exp = E2eGolden.caseTensors("a_text_to_image")) {
            Map<String, NDArray> out = runner.run(new ComponentRequest(system,
                    Map.of("sd.latents_init", exp.load(m, "sd.latents_init")),
                    Map.of("prompt", c.get("prompt_input").getAsString(), "max_new_tokens", "246"), Map.of()), m);
            assertArrayEquals(E2eGolden.longs(c.getAsJsonArray("generated_ids")), out.get("generated_ids")
                    .toLongArray());
            assertTrue(maxAbs(out.get("input.inputs_embeds"), exp.load(m, "input.inputs_embeds")) <= 1e-5);
            assertTrue(maxAbs(out.get("img.projector_output"), exp.load(m, "img.projector_output")) <= 1e-4);
            NDArray fin = exp.load(m, "sd.final_latents");
            assertTrue(maxAbs(out.get("sd.final_latents"), fin) <= 1e-3 * fin.abs().max().getFloat());
            assertTrue(maxAbs(out.get("sd.image_float"), exp.load(m, "sd.image_float")) <= 1e-3);
            assertFalse(out.containsKey("vid.decoder_prompt_embeds"));
        }
    }

    @Test
    void audioInputThroughTheComponentRunnerWithoutLatentsSkipsTheImageDecoder() {
        ComponentRunner runner = ComponentRegistry.get("nextgpt-legacy");
        Path system = E2eGolden.dir().resolve("system");
        JsonObject c = E2eGolden.caseNamed("c_audio_to_audio");
        try (NDManager m = NDManager.newBaseManager(); TensorStore exp = E2eGolden.caseTensors("c_audio_to_audio")) {
            Map<String, NDArray> out = runner.run(new ComponentRequest(system, Map.of(),
                    Map.of("prompt", c.get("prompt_input").getAsString(),
                            "audio", system.resolve(c.get("audio").getAsString()).toString()), Map.of()), m);
            assertArrayEquals(E2eGolden.longs(c.getAsJsonArray("generated_ids")), out.get("generated_ids")
                    .toLongArray());
            assertTrue(maxAbs(out.get("aud.decoder_prompt_embeds"), exp.load(m, "aud.decoder_prompt_embeds")) <= 1e-4);
            assertFalse(out.containsKey("sd.final_latents"), out.keySet().toString());
        }
    }

    private static double maxAbs(NDArray a, NDArray b) {
        assertTrue(Arrays.equals(a.getShape().getShape(), b.getShape().getShape()), a.getShape() + " vs "
                + b.getShape());
        return a.sub(b).abs().max().getFloat();
    }
}
