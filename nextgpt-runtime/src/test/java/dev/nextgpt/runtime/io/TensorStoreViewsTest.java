package dev.nextgpt.runtime.io;

import dev.nextgpt.ModelFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import static dev.nextgpt.runtime.io.IoTestFiles.*;
import static org.junit.jupiter.api.Assertions.*;

class TensorStoreViewsTest {
    private static final String DELTA = "nextgpt-e2e/system/ckpt/delta_ckpt/nextgpt/7b_tiva_v0/pytorch_model.safetensors";
    private static final String VICUNA = "nextgpt-e2e/system/ckpt/pretrained_ckpt/vicuna_ckpt/7b_v0/model.safetensors";

    @Test
    void prefixViewStripsAndReadsThrough() {
        try (TensorStore delta = Checkpoints.open(golden(DELTA))) {
            String prefix = "llama_model.base_model.model.";
            PrefixedTensorStore llama = TensorStores.view(delta, prefix);
            assertTrue(llama.contains("model.embed_tokens.weight"));
            assertTrue(llama.contains("lm_head.weight"));
            assertFalse(llama.contains("llama_proj.weight"));
            long expected = delta.names().stream().filter(n -> n.startsWith(prefix)).count();
            assertEquals(expected, llama.names().size());
            TensorInfo info = llama.info("lm_head.weight");
            assertEquals("lm_head.weight", info.name());
            assertArrayEquals(new long[]{550, 64}, info.shape());
            assertArrayEquals(bytes(delta.rawBytes(prefix + "lm_head.weight")), bytes(llama.rawBytes("lm_head.weight")));
            // nested views compose
            PrefixedTensorStore layer0 = TensorStores.view(llama, "model.layers.0.");
            assertEquals(Set.of("self_attn.q_proj.lora_A.default.weight", "self_attn.q_proj.lora_B.default.weight",
                    "self_attn.k_proj.lora_A.default.weight", "self_attn.k_proj.lora_B.default.weight",
                    "self_attn.v_proj.lora_A.default.weight", "self_attn.v_proj.lora_B.default.weight",
                    "self_attn.o_proj.lora_A.default.weight", "self_attn.o_proj.lora_B.default.weight"),
                    layer0.names());
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> llama.info("llama_proj.weight"));
            assertTrue(e.getMessage().contains(prefix + "llama_proj.weight"), e.getMessage());
            // a non-owning view leaves the store open
            llama.close();
            assertEquals(64, delta.info("llama_proj.bias").numel());
        }
    }

    @Test
    void owningViewClosesItsStore(@TempDir Path dir) {
        Path p = dir.resolve("a.safetensors");
        new SafetensorsWriter().addFloats("m.w", new long[]{2}, new float[]{1, 2}).write(p);
        SafetensorsFile f = SafetensorsFile.open(p);
        try (PrefixedTensorStore v = TensorStores.owningView(f, "m.")) {
            assertArrayEquals(new float[]{1, 2}, v.readFloats("w"), 0f);
        }
        assertThrows(RuntimeException.class, () -> f.readFloats("m.w"));
    }

    @Test
    void compositeLaterStoresOverride(@TempDir Path dir) {
        Path a = dir.resolve("a.safetensors");
        Path b = dir.resolve("b.safetensors");
        new SafetensorsWriter().addFloats("w", new long[]{2}, new float[]{1, 2})
                .addFloats("only_a", new long[]{1}, new float[]{5}).write(a);
        new SafetensorsWriter().addFloats("w", new long[]{3}, new float[]{7, 8, 9})
                .addFloats("only_b", new long[]{1}, new float[]{6}).write(b);
        try (CompositeTensorStore c = TensorStores.merge(SafetensorsFile.open(a), SafetensorsFile.open(b))) {
            assertEquals(Set.of("w", "only_a", "only_b"), c.names());
            assertArrayEquals(new float[]{7, 8, 9}, c.readFloats("w"), 0f);
            assertArrayEquals(new long[]{3}, c.info("w").shape());
            assertEquals(b, c.storeOf("w").source());
            assertArrayEquals(new float[]{5}, c.readFloats("only_a"), 0f);
            assertEquals(3 + 1 + 1, c.parameterCount());
        }
        SafetensorsFile fa = SafetensorsFile.open(a);
        SafetensorsFile fb = SafetensorsFile.open(b);
        ModelFormatException e = assertThrows(ModelFormatException.class,
                () -> TensorStores.mergeDisjoint(fa, fb));
        assertTrue(e.getMessage().contains("'w'") && e.getMessage().contains("a.safetensors")
                && e.getMessage().contains("b.safetensors"), e.getMessage());
        fa.close();
        fb.close();
    }

    @Test
    void baseModelPlusDeltaAsInNextGpt() {
        // NExT-GPT: the delta replaces embed_tokens and lm_head of the base LLaMA; everything else comes from the base
        try (TensorStore base = Checkpoints.open(golden(VICUNA));
             TensorStore delta = Checkpoints.open(golden(DELTA))) {
            PrefixedTensorStore deltaLlama = TensorStores.view(delta, "llama_model.base_model.model.");
            PrefixedTensorStore deltaWeights = TensorStores.view(deltaLlama, "");
            CompositeTensorStore merged = CompositeTensorStore.overriding(List.of(
                    TensorStores.view(base, ""), deltaWeights));
            assertArrayEquals(new long[]{550, 64}, merged.info("model.embed_tokens.weight").shape());
            assertArrayEquals(new long[]{512, 64}, base.info("model.embed_tokens.weight").shape());
            assertArrayEquals(bytes(base.rawBytes("model.norm.weight")), bytes(merged.rawBytes("model.norm.weight")));
            assertTrue(merged.contains("model.layers.0.self_attn.q_proj.lora_A.default.weight"));
            merged.close(); // closes only the views, not base/delta
            assertEquals(64, base.info("model.norm.weight").numel());
        }
    }
}
