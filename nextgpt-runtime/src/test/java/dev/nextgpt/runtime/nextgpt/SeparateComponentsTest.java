package dev.nextgpt.runtime.nextgpt;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.google.gson.JsonObject;
import dev.nextgpt.ChatRequest;
import dev.nextgpt.ChatResponse;
import dev.nextgpt.GenerationOptions;
import dev.nextgpt.NextGpt;
import dev.nextgpt.TextGenerationOptions;
import dev.nextgpt.UnsupportedConfigurationException;
import dev.nextgpt.runtime.chat.DjlNextGpt;
import dev.nextgpt.runtime.io.TensorStore;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The builder's separate component paths (ImageBind file, Vicuna folder, delta weights file, SD folder) assemble
 * the same legacy system as the folder layout: the golden {@code d_text_only} case still matches.
 */
class SeparateComponentsTest {

    @Test
    void separatePathsReproduceTheGoldenTextOnlyCase() {
        Path sys = LegacyNextGptE2eTest.system();
        try (NextGpt g = NextGpt.builder()
                .withImageBind(sys.resolve(LegacySystemLayout.IMAGEBIND_FILE))
                .withVicuna7b(sys.resolve(LegacySystemLayout.VICUNA_DIR))
                .withCheckpoint(E2eGolden.deltaDir().resolve("pytorch_model.safetensors"))
                .withImageDecoder(sys.resolve("sd"))
                .withProperty(DjlNextGpt.LEGACY_SETTINGS, sys.resolve("nextgpt_config.json").toString())
                .build();
             NDManager m = NDManager.newBaseManager(); TensorStore exp = E2eGolden.caseTensors("d_text_only")) {
            DjlNextGpt impl = assertInstanceOf(DjlNextGpt.class, g);
            assertTrue(impl.pipeline().decoder(Modality.IMAGE).isPresent());
            JsonObject c = E2eGolden.caseNamed("d_text_only");
            LegacyNextGpt.Result r = impl.pipeline().generate(LegacyNextGpt.Request.of(
                    c.get("prompt_text").getAsString(), sys), m);
            assertArrayEquals(exp.readLongs("gen.sequences"), r.sequences());
            NDArray want = exp.load(m, "gen.step_logits");
            float err = r.stepLogits().sub(want).abs().max().getFloat();
            System.out.printf("separate components d_text_only gen.step_logits max abs %.2e (tol 1e-4)%n", err);
            assertTrue(err <= 1e-4f);
            ChatResponse answer = g.chat(ChatRequest.ofText("hello, who are you?").withOptions(GenerationOptions
                    .defaults().withText(TextGenerationOptions.defaults().withGreedy(true))));
            assertEquals("I am a tiny assistant.", answer.text());
        }
    }

    @Test
    void incompleteSeparatePathsAreNamed() {
        Path sys = LegacyNextGptE2eTest.system();
        UnsupportedConfigurationException e = assertThrows(UnsupportedConfigurationException.class,
                () -> NextGpt.builder().withVicuna7b(sys.resolve(LegacySystemLayout.VICUNA_DIR)).build());
        assertTrue(e.getMessage().contains("withCheckpoint") && e.getMessage().contains("withImageBind"),
                e.getMessage());
    }
}
