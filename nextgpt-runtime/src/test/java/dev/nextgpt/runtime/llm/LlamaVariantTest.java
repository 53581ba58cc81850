package dev.nextgpt.runtime.llm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.nextgpt.runtime.io.SafetensorsFile;
import dev.nextgpt.runtime.io.SafetensorsWriter;
import dev.nextgpt.runtime.io.TensorDType;
import dev.nextgpt.runtime.io.TensorInfo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import static dev.nextgpt.runtime.llm.LlamaGolden.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * A random GQA (6 query / 2 kv heads, explicit head_dim 16 != hidden/heads), tied-embedding, linear-RoPE
 * (v5 {@code rope_parameters}) model stored in bf16: checks invariants instead of fixtures.
 */
class LlamaVariantTest {
    static final int V = 100;
    static final int H = 48;
    static final int HEADS = 6;
    static final int KV = 2;
    static final int HD = 16;
    static final int I = 64;
    static final int L = 2;
    static Path dir;
    static LlamaModel model;

    @BeforeAll
    static void build() throws IOException {
        dir = Files.createTempDirectory("llama-variant");
        Files.writeString(dir.resolve("config.json"), """
                {"model_type": "llama", "vocab_size": %d, "hidden_size": %d, "intermediate_size": %d,
                 "num_hidden_layers": %d, "num_attention_heads": %d, "num_key_value_heads": %d, "head_dim": %d,
                 "rms_norm_eps": 1e-5, "max_position_embeddings": 64, "hidden_act": "silu",
                 "tie_word_embeddings": true, "bos_token_id": 1, "eos_token_id": [2, 3], "pad_token_id": 0,
                 "rope_parameters": {"rope_type": "linear", "factor": 2.0, "rope_theta": 500.0}}
                """.formatted(V, H, I, L, HEADS, KV, HD));
        Random rnd = new Random(5);
        SafetensorsWriter w = new SafetensorsWriter();
        bf16(w, rnd, "model.embed_tokens.weight", 0.5, 0, V, H);
        bf16(w, rnd, "model.norm.weight", 0.1, 1, H);
        for (int l = 0; l < L; l++) {
            String p = "model.layers." + l + ".";
            bf16(w, rnd, p + "input_layernorm.weight", 0.1, 1, H);
            bf16(w, rnd, p + "post_attention_layernorm.weight", 0.1, 1, H);
            bf16(w, rnd, p + "self_attn.q_proj.weight", 0.15, 0, HEADS * HD, H);
            bf16(w, rnd, p + "self_attn.k_proj.weight", 0.15, 0, KV * HD, H);
            bf16(w, rnd, p + "self_attn.v_proj.weight", 0.15, 0, KV * HD, H);
            bf16(w, rnd, p + "self_attn.o_proj.weight", 0.15, 0, H, HEADS * HD);
            bf16(w, rnd, p + "mlp.gate_proj.weight", 0.15, 0, I, H);
            bf16(w, rnd, p + "mlp.up_proj.weight", 0.15, 0, I, H);
            bf16(w, rnd, p + "mlp.down_proj.weight", 0.15, 0, H, I);
        }
        w.write(dir.resolve("model.safetensors"));
        // a LoRA delta in the NExT-GPT legacy naming on every projection type
        SafetensorsWriter d = new SafetensorsWriter();
        for (int l = 0; l < L; l++) {
            for (String[] m : new String[][] {{"self_attn.q_proj", "" + HEADS * HD, "" + H},
                    {"self_attn.k_proj", "" + KV * HD, "" + H}, {"self_attn.v_proj", "" + KV * HD, "" + H},
                    {"self_attn.o_proj", "" + H, "" + HEADS * HD}, {"mlp.gate_proj", "" + I, "" + H},
                    {"mlp.up_proj", "" + I, "" + H}, {"mlp.down_proj", "" + H, "" + I}}) {
                String base = "llama_model.base_model.model.model.layers." + l + "." + m[0];
                int out = Integer.parseInt(m[1]);
                int in = Integer.parseInt(m[2]);
                d.addFloats(base + ".lora_A.default.weight", new long[] {3, in}, gaussian(rnd, 3 * in, 0.2));
                d.addFloats(base + ".lora_B.default.weight", new long[] {out, 3}, gaussian(rnd, out * 3, 0.2));
            }
        }
        d.addFloats("llama_model.model.other.weight", new long[] {2}, new float[] {1, 2});
        d.write(dir.resolve("delta.safetensors"));
        model = LlamaModel.load(dir);
    }

    private static float[] gaussian(Random rnd, int n, double std) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            f[i] = (float) (rnd.nextGaussian() * std);
        }
        return f;
    }

    private static void bf16(SafetensorsWriter w, Random rnd, String name, double std, double mean, long... shape) {
        int n = (int) Arrays.stream(shape).reduce(1, (a, b) -> a * b);
        ByteBuffer buf = ByteBuffer.allocate(2 * n).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            float v = (float) (mean + rnd.nextGaussian() * std);
            buf.putShort((short) (Float.floatToIntBits(v) >>> 16));
        }
        buf.flip();
        w.add(new TensorInfo(name, TensorDType.BF16, shape), buf::duplicate);
    }

    @AfterAll
    static void close() throws IOException {
        model.close();
        try (var s = Files.list(dir)) {
            for (Path p : s.toList()) {
                Files.delete(p);
            }
        }
        Files.delete(dir);
    }

    @Test
    void configParsed() {
        LlamaConfig c = model.config();
        assertEquals(3, c.groupSize());
        assertEquals(HD, c.headDim());
        assertEquals("linear", c.rope().type());
        assertArrayEquals(new int[] {2, 3}, c.eosTokenIds());
        float[] inv = c.rope().inverseFrequencies(HD);
        assertEquals(1.0f / 2.0f, inv[0], 1e-7);
        assertEquals((float) (1.0 / Math.pow(500.0, 2.0 / HD) / 2.0), inv[1], 1e-7);
        assertTrue(c.tieWordEmbeddings());
        assertEquals(V, model.vocabSize());
    }

    @Test
    void tiedHeadUsesTheEmbedding() {
        long[] ids = {1, 5, 9, 33, 70, 2};
        try (NDManager m = NDManager.newBaseManager(); SafetensorsFile f =
                SafetensorsFile.open(dir.resolve("model.safetensors"))) {
            LlamaModel.Output o = model.forward(ids(m, ids), null, true);
            float[] hidden = o.hiddenStates().get(L).toFloatArray();
            float[] emb = f.readFloats("model.embed_tokens.weight");
            float[] expected = new float[ids.length * V];
            for (int t = 0; t < ids.length; t++) {
                for (int v = 0; v < V; v++) {
                    double s = 0;
                    for (int k = 0; k < H; k++) {
                        s += (double) hidden[t * H + k] * emb[v * H + k];
                    }
                    expected[t * V + v] = (float) s;
                }
            }
            assertClose("tied logits = h·Eᵀ", expected, o.logits());
            // embedding output = bf16 rows widened
            float[] h0 = o.hiddenStates().get(0).toFloatArray();
            for (int k = 0; k < H; k++) {
                assertEquals(emb[33 * H + k], h0[3 * H + k], 0f);
            }
        }
    }

    @Test
    void cachedDecodingEqualsFullRecompute() {
        long[] prompt = {1, 7, 8, 9, 10, 11, 12, 40, 41};
        LlamaGenerator gen = new LlamaGenerator(model);
        LlamaGenerator.Result r = gen.generate(new long[][] {prompt}, new GenerationOptions().maxNewTokens(12)
                .eosTokenIds(-5).collectLogits(true));
        long[] seq = r.sequences()[0];
        try (NDManager m = NDManager.newBaseManager()) {
            float[] full = model.forward(ids(m, seq), null, false).logits().toFloatArray();
            int n = r.newTokens()[0].length;
            float[] expected = new float[n * V];
            float[] actual = new float[n * V];
            for (int j = 0; j < n; j++) {
                System.arraycopy(full, (prompt.length - 1 + j) * V, expected, j * V, V);
                System.arraycopy(r.stepLogits()[j][0], 0, actual, j * V, V);
                assertEquals(LlamaGenerator.argmax(Arrays.copyOfRange(full, (prompt.length - 1 + j) * V,
                        (prompt.length + j) * V)), r.newTokens()[0][j]);
            }
            assertClose("variant cached step logits vs uncached", expected, actual);
        }
    }

    @Test
    void leftPaddedRowsEqualSingleRuns() {
        long[] a = {1, 20, 21, 22};
        long[] b = {1, 30, 31, 32, 33, 34, 35, 36};
        LlamaGenerator gen = new LlamaGenerator(model);
        GenerationOptions opts = new GenerationOptions().maxNewTokens(8).eosTokenIds(-5).collectLogits(true);
        LlamaGenerator.Result both = gen.generate(new long[][] {a, b}, opts);
        LlamaGenerator.Result onlyA = gen.generate(new long[][] {a}, opts);
        assertArrayEquals(onlyA.newTokens()[0], both.newTokens()[0]);
        for (int s = 0; s < 8; s++) {
            assertClose("padded row step " + s, onlyA.stepLogits()[s][0], both.stepLogits()[s][0]);
        }
    }

    @Test
    void loraFromDeltaStoreMergedEqualsUnmerged() {
        long[] ids = {1, 5, 6, 7, 8, 50, 60};
        try (SafetensorsFile delta = SafetensorsFile.open(dir.resolve("delta.safetensors"));
             LoraAdapter lora = LoraAdapter.fromStore(delta, "llama_model.", 3, 6, false);
             NDManager m = NDManager.newBaseManager()) {
            assertEquals(7 * L, lora.modules().size());
            assertEquals(2.0, lora.modules().get("model.layers.1.mlp.down_proj").scaling(), 0);
            float[] base = model.forward(ids(m, ids), null, false).logits().toFloatArray();
            model.applyLora(lora, false);
            float[] unmerged = model.forward(ids(m, ids), null, false).logits().toFloatArray();
            model.removeLora();
            model.applyLora(lora, true);
            float[] merged = model.forward(ids(m, ids), null, false).logits().toFloatArray();
            NDArray k = model.weight(m, "model.layers.1.self_attn.k_proj.weight");
            model.removeLora();
            assertTrue(maxAbs(base, unmerged) > 1e-2, "the adapter changes the output");
            assertClose("variant LoRA merged vs unmerged", unmerged, merged);
            assertClose("variant LoRA removed", base, model.forward(ids(m, ids), null, false).logits());
            // merged k_proj = W + 2·B@A
            float[] w = new float[KV * HD * H];
            try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("model.safetensors"))) {
                w = f.readFloats("model.layers.1.self_attn.k_proj.weight");
            }
            float[] a = delta.readFloats("llama_model.base_model.model.model.layers.1.self_attn.k_proj.lora_A.default.weight");
            float[] bb = delta.readFloats("llama_model.base_model.model.model.layers.1.self_attn.k_proj.lora_B.default.weight");
            for (int o = 0; o < KV * HD; o++) {
                for (int i = 0; i < H; i++) {
                    double s = 0;
                    for (int r = 0; r < 3; r++) {
                        s += bb[o * 3 + r] * a[r * H + i];
                    }
                    w[o * H + i] += (float) (2.0 * s);
                }
            }
            assertClose("variant merged k_proj", w, k.toType(DataType.FLOAT32, false));
        }
    }
}
