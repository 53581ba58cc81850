package dev.nextgpt.runtime.audioldm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.runtime.component.ComponentRegistry;
import dev.nextgpt.runtime.component.ComponentRequest;
import dev.nextgpt.runtime.component.ComponentRunner;
import dev.nextgpt.runtime.io.SafetensorsFile;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** CLAP text tower against case1 (README tolerances: prompt_embeds 1e-5, the rest 1e-4·s). */
class ClapTextModelTest {

    @Test
    void case1AllOutputsMatch() {
        try (NDManager m = NDManager.newBaseManager();
             SafetensorsFile f = AudioLdmGolden.openCase("case1_clap_text");
             ClapTextModel model = ClapTextModel.load(AudioLdmGolden.root().resolve("text_encoder"), m)) {
            ClapTextModel.Output o = model.forward(f.load(m, "input_ids"), f.load(m, "attention_mask"));
            AudioLdmGolden.assertClose("last_hidden_state", o.lastHiddenState(), f, "last_hidden_state", 1e-4, true, 0);
            AudioLdmGolden.assertClose("pooler_output", o.poolerOutput(), f, "pooler_output", 1e-4, true, 0);
            AudioLdmGolden.assertClose("text_embeds", o.textEmbeds(), f, "text_embeds", 1e-4, true, 0);
            AudioLdmGolden.assertClose("prompt_embeds", o.promptEmbeds(), f, "prompt_embeds", 1e-5, false, 0);

            ClapTextModel.Output u = model.forward(f.load(m, "uncond_input_ids"), f.load(m, "uncond_attention_mask"));
            AudioLdmGolden.assertClose("uncond_prompt_embeds", u.promptEmbeds(), f, "uncond_prompt_embeds", 1e-5,
                    false, 0);
        }
    }

    @Test
    void textToEmbeddingsMatchesPipelineCases() {
        RobertaBpeTokenizer tok = RobertaBpeTokenizer.fromFolder(AudioLdmGolden.root().resolve("tokenizer"));
        try (NDManager m = NDManager.newBaseManager();
             SafetensorsFile c5 = AudioLdmGolden.openCase("case5_e2e_prompt_embeds");
             SafetensorsFile c6 = AudioLdmGolden.openCase("case6_e2e_text");
             ClapTextModel model = ClapTextModel.load(AudioLdmGolden.root(), m)) {
            // Negative prompt: "" tokenised to max_length = prompt_embeds.shape[1] (the projection dim).
            RobertaBpeTokenizer.Encoding neg = tok.encodeBatch(List.of(""), model.config().projectionDim());
            NDArray negEmb = model.forward(m.create(neg.inputIds()), m.create(neg.attentionMask())).promptEmbeds();
            AudioLdmGolden.assertClose("case5 negative_prompt_embeds", negEmb, c5, "negative_prompt_embeds", 1e-5,
                    false, 0);
            RobertaBpeTokenizer.Encoding pos = tok.encodeBatch(List.of("A dog barking in the rain"));
            NDArray posEmb = model.forward(m.create(pos.inputIds()), m.create(pos.attentionMask())).promptEmbeds();
            AudioLdmGolden.assertClose("case6 prompt_embeds_cfg", negEmb.concat(posEmb, 0), c6, "prompt_embeds_cfg",
                    1e-5, false, 0);
        }
    }

    @Test
    void maskMattersAndDefaultsToAllOnes() {
        try (NDManager m = NDManager.newBaseManager();
             SafetensorsFile f = AudioLdmGolden.openCase("case1_clap_text");
             ClapTextModel model = ClapTextModel.load(AudioLdmGolden.root().resolve("text_encoder"), m)) {
            NDArray ids = f.load(m, "input_ids");
            NDArray withMask = model.forward(ids, f.load(m, "attention_mask")).promptEmbeds();
            NDArray noMask = model.forward(ids, null).promptEmbeds();
            NDArray ones = model.forward(ids, m.ones(ids.getShape(), ai.djl.ndarray.types.DataType.INT64))
                    .promptEmbeds();
            assertEquals(0.0, noMask.sub(ones).abs().max().getFloat(), 0.0);
            assertTrue(withMask.sub(noMask).abs().max().getFloat() > 1e-3,
                    "attending to the padding must change the embedding");
            // L2-normalised rows
            float[] norms = withMask.square().sum(new int[] {1}).sqrt().toFloatArray();
            for (float n : norms) {
                assertEquals(1.0, n, 1e-5);
            }
        }
    }

    @Test
    void badInputsAreRejected() {
        try (NDManager m = NDManager.newBaseManager();
             ClapTextModel model = ClapTextModel.load(AudioLdmGolden.root().resolve("text_encoder"), m)) {
            assertThrows(InvalidInputException.class, () -> model.forward(m.create(new long[] {0, 2}), null));
            assertThrows(InvalidInputException.class,
                    () -> model.forward(m.create(new long[][] {{0, 351, 2}}), null));
            assertThrows(InvalidInputException.class,
                    () -> model.forward(m.zeros(new Shape(1, 513), ai.djl.ndarray.types.DataType.INT64), null));
            assertThrows(InvalidInputException.class, () -> model.forward(m.create(new long[][] {{0, 2}}),
                    m.create(new long[][] {{1, 1, 1}})));
        }
    }

    @Test
    void componentRunnerRunsFromIdsAndFromPrompt() {
        ComponentRunner runner = ComponentRegistry.get("clap-text");
        try (NDManager m = NDManager.newBaseManager();
             SafetensorsFile f = AudioLdmGolden.openCase("case1_clap_text")) {
            Map<String, NDArray> out = runner.run(new ComponentRequest(AudioLdmGolden.root().resolve("text_encoder"),
                    Map.of("input_ids", f.load(m, "input_ids"), "attention_mask", f.load(m, "attention_mask")),
                    Map.of(), Map.of()), m);
            AudioLdmGolden.assertClose("runner prompt_embeds", out.get("prompt_embeds"), f, "prompt_embeds", 1e-5,
                    false, 0);
            AudioLdmGolden.assertClose("runner last_hidden_state", out.get("last_hidden_state"), f,
                    "last_hidden_state", 1e-4, true, 0);

            Map<String, NDArray> fromText = runner.run(new ComponentRequest(AudioLdmGolden.root(), Map.of(),
                    Map.of("prompt", "A dog barking in the rain"), Map.of()), m);
            float[] ref = f.readFloats("prompt_embeds");
            float[] row0 = java.util.Arrays.copyOfRange(ref, 0, 512);
            AudioLdmGolden.assertClose("runner prompt text", fromText.get("prompt_embeds"), row0,
                    new long[] {1, 512}, 1e-5, false, 0);
        }
    }
}
