package dev.nextgpt.runtime.llm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.google.gson.JsonObject;
import dev.nextgpt.runtime.component.ComponentRegistry;
import dev.nextgpt.runtime.component.ComponentRequest;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static dev.nextgpt.runtime.llm.LlamaGolden.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class LlamaComponentsTest {
    @Test
    void forwardRunnerWithLora() {
        long[] p1 = longs(json("cases/cases.json").getAsJsonArray("case1_case2_prompts").get(1).getAsJsonObject()
                .get("input_ids"));
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> out = ComponentRegistry.get("llama").run(new ComponentRequest(dir(),
                    Map.of("input_ids", ids(m, p1)), Map.of(), Map.of()), m);
            assertEquals(4, out.size());
            assertClose("runner llama logits", expected("case1_forward_logits.safetensors", "prompt1.logits"),
                    out.get("logits"));
            assertClose("runner llama hidden_states.2", expected("case2_hidden_states.safetensors",
                    "prompt1.hidden_states.2"), out.get("hidden_states.2"));
            Map<String, NDArray> lora = ComponentRegistry.get("llama").run(new ComponentRequest(dir(),
                    Map.of("input_ids", ids(m, p1)), Map.of(), Map.of("lora", dir().resolve("lora"))), m);
            assertClose("runner llama --lora logits", expected("case5_lora_logits.safetensors",
                    "prompt1.logits_merged"), lora.get("logits"));
        }
    }

    @Test
    void generateRunnerLeftPadded() {
        JsonObject c4 = json("cases/cases.json").getAsJsonObject("case4");
        long[][] in = longs2(c4.get("input_ids"));
        long[][] mask = longs2(c4.get("attention_mask"));
        long[][] gen = longs2(c4.get("generated_ids"));
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> out = ComponentRegistry.get("llama-generate").run(new ComponentRequest(dir(),
                    Map.of("input_ids", ids(m, in), "attention_mask", ids(m, mask)),
                    Map.of("max_new_tokens", "24"), Map.of()), m);
            long[] seq = out.get("sequences").toLongArray();
            assertEquals(2 * 52, seq.length);
            for (int r = 0; r < 2; r++) {
                long[] expected = new long[52];
                System.arraycopy(in[r], 0, expected, 0, 28);
                System.arraycopy(gen[r], 0, expected, 28, 24);
                long[] row = new long[52];
                System.arraycopy(seq, r * 52, row, 0, 52);
                assertArrayEquals(expected, row);
            }
        }
    }
}
