package dev.nextgpt.runtime.cliptext;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.runtime.diffusion.SdGolden;
import dev.nextgpt.runtime.io.SafetensorsFile;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** Case 1 of the stable-diffusion fixture: CLIP text encoder on the stored input_ids. */
class ClipTextModelTest {

    @Test
    void textEncoderMatchesReference() {
        try (NDManager m = SdGolden.manager();
             ClipTextModel model = ClipTextModel.load(SdGolden.root().resolve("text_encoder"));
             SafetensorsFile f = SdGolden.open("cases/case1_text_encoder.safetensors")) {
            assertEquals("gelu", model.config().hiddenAct());
            NDArray ids = f.load(m, "input.input_ids");
            ClipTextModel.Output out = model.forward(ids, true);
            SdGolden.assertClose("clip debug.embeddings", out.hiddenStates().get(0), f.load(m, "debug.embeddings"),
                    1e-5, 5e-6);
            SdGolden.assertClose("clip debug.encoder_layer_0", out.hiddenStates().get(1),
                    f.load(m, "debug.encoder_layer_0"), 1e-5, 5e-6);
            SdGolden.assertClose("clip debug.encoder_layer_1", out.hiddenStates().get(2),
                    f.load(m, "debug.encoder_layer_1"), 1e-5, 5e-6);
            SdGolden.assertClose("clip last_hidden_state", out.lastHiddenState(),
                    f.load(m, "expected.last_hidden_state"), 1e-5, 5e-6);
            SdGolden.assertClose("clip pooler_output", out.poolerOutput(), f.load(m, "expected.pooler_output"),
                    1e-5, 5e-6);
            assertNull(out.textEmbeds(), "CLIPTextModel has no projection");
        }
    }

    @Test
    void rejectsBadIds() {
        try (NDManager m = SdGolden.manager();
             ClipTextModel model = ClipTextModel.load(SdGolden.root().resolve("text_encoder"))) {
            assertThrows(InvalidInputException.class, () -> model.forward(m.create(new long[][] {{574, 9999, 575}})));
            assertThrows(InvalidInputException.class, () -> model.forward(m.create(new long[78]).reshape(1, 78)));
            assertThrows(InvalidInputException.class, () -> model.forward(m.create(new long[] {574, 575})));
        }
    }
}
