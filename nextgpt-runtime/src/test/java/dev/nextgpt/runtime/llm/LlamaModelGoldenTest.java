package dev.nextgpt.runtime.llm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static dev.nextgpt.runtime.llm.LlamaGolden.*;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Golden cases 1, 2, 4 (prefill) and 5 of /work/shared/golden/llama: full forward, hidden states, LoRA. */
class LlamaModelGoldenTest {
    static LlamaModel model;
    static long[][] prompts;

    @BeforeAll
    static void load() {
        model = LlamaModel.load(dir());
        JsonArray p = json("cases/cases.json").getAsJsonArray("case1_case2_prompts");
        prompts = new long[p.size()][];
        for (int i = 0; i < prompts.length; i++) {
            prompts[i] = longs(p.get(i).getAsJsonObject().get("input_ids"));
        }
    }

    @AfterAll
    static void close() {
        model.close();
    }

    @Test
    void case1ForwardLogits() {
        try (NDManager m = NDManager.newBaseManager()) {
            for (int i = 0; i < prompts.length; i++) {
                LlamaModel.Output o = model.forward(ids(m, prompts[i]), null, false);
                assertEquals(1, o.logits().getShape().get(0));
                assertClose("case1 prompt" + i + ".logits", expected("case1_forward_logits.safetensors",
                        "prompt" + i + ".logits"), o.logits());
            }
        }
    }

    @Test
    void case2HiddenStates() {
        try (NDManager m = NDManager.newBaseManager()) {
            for (int i = 0; i < prompts.length; i++) {
                LlamaModel.Output o = model.forward(ids(m, prompts[i]), null, true);
                assertEquals(model.config().numLayers() + 1, o.hiddenStates().size());
                for (int k = 0; k < o.hiddenStates().size(); k++) {
                    String name = "prompt" + i + ".hidden_states." + k;
                    assertClose("case2 " + name, expected("case2_hidden_states.safetensors", name),
                            o.hiddenStates().get(k));
                }
                String pre = "prompt" + i + ".last_layer_output_prenorm";
                assertClose("case2 " + pre, expected("case2_hidden_states.safetensors", pre), o.lastLayerPrenorm());
                // inputs_embeds path gives the same logits
                LlamaModel.Output e = model.forwardEmbeds(model.embed(ids(m, prompts[i])), null, false);
                assertClose("case1 via inputs_embeds prompt" + i, expected("case1_forward_logits.safetensors",
                        "prompt" + i + ".logits"), e.logits());
            }
        }
    }

    @Test
    void case4LeftPaddedPrefill() {
        JsonObject c4 = json("cases/cases.json").getAsJsonObject("case4");
        long[][] in = longs2(c4.get("input_ids"));
        long[][] mask = longs2(c4.get("attention_mask"));
        float[] expected = expected("case4_batch_leftpad.safetensors", "prefill_logits");
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel.Output o = model.forward(ids(m, in), ids(m, mask), false);
            float[] actual = o.logits().toFloatArray();
            int t = in[0].length;
            int v = model.vocabSize();
            double err = 0;
            for (int b = 0; b < in.length; b++) {
                for (int p = 0; p < t; p++) {
                    if (mask[b][p] == 0) {
                        continue;
                    }
                    for (int j = 0; j < v; j++) {
                        int k = (b * t + p) * v + j;
                        err = Math.max(err, Math.abs(expected[k] - actual[k]));
                    }
                }
            }
            System.out.printf("[golden] case4 prefill_logits (non-pad) max abs err %.3g%n", err);
            org.junit.jupiter.api.Assertions.assertTrue(err <= TOL, "case4 prefill err " + err);
        }
    }

    @Test
    void case5Lora() {
        try (LoraAdapter lora = LoraAdapter.load(dir().resolve("lora")); NDManager m = NDManager.newBaseManager()) {
            assertEquals(8, lora.modules().size());
            assertEquals(4.0, lora.modules().get("model.layers.0.self_attn.q_proj").scaling(), 0);
            model.applyLora(lora, false);
            try {
                for (int i = 0; i < prompts.length; i++) {
                    assertClose("case5 prompt" + i + ".logits_unmerged", expected("case5_lora_logits.safetensors",
                            "prompt" + i + ".logits_unmerged"), model.forward(ids(m, prompts[i]), null, false).logits());
                }
            } finally {
                model.removeLora();
            }
            model.applyLora(lora, true);
            try {
                String q = "model.layers.0.self_attn.q_proj.weight";
                assertClose("case5 merged q_proj", expected("case5_lora_logits.safetensors", "merged." + q),
                        model.weight(m, q));
                for (int i = 0; i < prompts.length; i++) {
                    assertClose("case5 prompt" + i + ".logits_merged", expected("case5_lora_logits.safetensors",
                            "prompt" + i + ".logits_merged"), model.forward(ids(m, prompts[i]), null, false).logits());
                }
            } finally {
                model.removeLora();
            }
            // unmerge restores the base model
            assertClose("case5 after unmerge = case1", expected("case1_forward_logits.safetensors", "prompt1.logits"),
                    model.forward(ids(m, prompts[1]), null, false).logits());
        }
    }
}
