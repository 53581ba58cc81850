package dev.nextgpt.train.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.nextgpt.runtime.io.SafetensorsFile;
import dev.nextgpt.train.TrainFixture;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** AdamW step 1 of the training fixture, from W0 and the stored gradients of the original run. */
class AdamWTest {

    @ParameterizedTest
    @ValueSource(strings = {"s1_image", "s2_image", "s3_t2x_video"})
    void firstStepMatchesTheOriginal(String name) {
        JsonObject cs = TrainFixture.caseNamed(name);
        JsonObject adamw = cs.getAsJsonObject("adamw");
        double lr = adamw.get("lr").getAsDouble();
        int width = TrainFixture.trainingConfig().get("textfc_width").getAsInt();
        try (NDManager m = NDManager.newBaseManager();
             SafetensorsFile w0 = SafetensorsFile.open(TrainFixture.DIR.resolve("weights/nextgpt_stage12_W0.safetensors"));
             SafetensorsFile lora = SafetensorsFile.open(TrainFixture.DIR.resolve("weights/lora_W0.safetensors"));
             SafetensorsFile grads = SafetensorsFile.open(TrainFixture.DIR.resolve("cases/" + name + ".safetensors"));
             SafetensorsFile expected = SafetensorsFile.open(TrainFixture.DIR.resolve("cases/" + name + "_adamw.safetensors"))) {
            Map<String, NDArray> params = new LinkedHashMap<>();
            Map<String, NDArray> g = new LinkedHashMap<>();
            for (JsonElement e : cs.getAsJsonArray("trainable_parameters")) {
                String p = e.getAsString();
                String w0Name = p.replace("llama_model.base_model.model.", "llama_model.");
                NDArray value = lora.contains(p) ? lora.load(m, p) : w0.load(m, w0Name);
                params.put(p, value);
                if (grads.contains("grad." + p)) {
                    g.put(p, grads.load(m, "grad." + p));
                } else if (grads.contains("gradrows." + p + ".index")) {
                    NDArray dense = m.zeros(value.getShape());
                    long[] rows = grads.readLongs("gradrows." + p + ".index");
                    NDArray vals = grads.load(m, "gradrows." + p + ".values");
                    for (int r = 0; r < rows.length; r++) {
                        dense.set(new ai.djl.ndarray.index.NDIndex(rows[r]), vals.get(r));
                    }
                    g.put(p, dense);
                } else {
                    g.put(p, m.zeros(value.getShape()));
                }
            }
            double norm = GradientClipping.clipGlobalNorm(g.values(), adamw.get("clip_global_norm").getAsDouble());
            double expectedNorm = adamw.getAsJsonArray("steps").get(0).getAsJsonObject()
                    .get("grad_norm_before_clip").getAsDouble();
            assertEquals(expectedNorm, norm, 1e-5 * expectedNorm);
            var betas = adamw.getAsJsonArray("betas");
            try (AdamW opt = new AdamW(new AdamW.Hyper(betas.get(0).getAsDouble(), betas.get(1).getAsDouble(),
                    adamw.get("eps").getAsDouble(), adamw.get("weight_decay").getAsDouble()), m)) {
                opt.step(params, g, lr);
            }
            int checked = 0;
            for (String p : params.keySet()) {
                String key = "step1." + p;
                if (!expected.contains(key)) {
                    continue;
                }
                float[] want = expected.readFloats(key);
                float[] got = params.get(p).toFloatArray();
                boolean keyBias = p.endsWith("in_proj_bias");
                for (int i = 0; i < want.length; i++) {
                    boolean inKeySlice = keyBias && i >= width && i < 2 * width;
                    double tol = inKeySlice ? lr + 1e-6 : 2e-6;
                    double diff = Math.abs(want[i] - got[i]);
                    if (diff > tol) {
                        throw new AssertionError(key + "[" + i + "]: expected " + want[i] + " got " + got[i]);
                    }
                }
                checked++;
            }
            assertTrue(checked >= 4, "checked " + checked + " tensors");
        }
    }

    @Test
    void parametersWithoutGradientAreOnlyDecayed() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray p = m.create(new float[] {1f, -2f, 3f}, new Shape(3));
            Map<String, NDArray> params = Map.of("p", p);
            try (AdamW opt = new AdamW(AdamW.Hyper.legacyNextGpt(), m)) {
                opt.step(params, Map.of(), 0.1);
                opt.step(params, Map.of(), 0.1);
            }
            double f = Math.pow(1 - 0.1 * 0.001, 2);
            float[] got = p.toFloatArray();
            assertEquals(1f * f, got[0], 3e-7);
            assertEquals(-2f * f, got[1], 5e-7);
            assertEquals(3f * f, got[2], 5e-7); // float32 rounding: 2 ulp
        }
    }

    @Test
    void schedulesHaveTheDocumentedShape() {
        LearningRateSchedule ds = LearningRateSchedule.deepSpeedWarmupDecay(5e-4, 10, 100);
        assertEquals(0.0, ds.lr(0), 0);
        assertEquals(5e-4 * Math.log(6) / Math.log(10), ds.lr(5), 1e-15);
        assertEquals(5e-4, ds.lr(10), 1e-15);
        assertEquals(5e-4 * 45 / 90, ds.lr(55), 1e-15);
        LearningRateSchedule cos = LearningRateSchedule.warmupCosine(1e-3, 3, 13, 0);
        assertEquals(1e-3 / 3, cos.lr(0), 1e-15);
        assertEquals(1e-3, cos.lr(3), 1e-15);
        assertEquals(0.5e-3, cos.lr(8), 1e-12);
        assertEquals(0.0, cos.lr(13), 1e-15);
        assertEquals(10, LearningRateSchedule.legacyWarmupSteps(50));
        assertEquals(30, LearningRateSchedule.legacyWarmupSteps(300));
        List<Double> seen = new ArrayList<>();
        for (int i = 0; i < 13; i++) {
            seen.add(cos.lr(i));
        }
        for (int i = 4; i < 13; i++) {
            assertTrue(seen.get(i) <= seen.get(i - 1), "cosine decays monotonically");
        }
    }
}
