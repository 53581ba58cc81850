package dev.nextgpt.train.check;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.nextgpt.runtime.io.SafetensorsFile;
import dev.nextgpt.train.TrainFixture;
import dev.nextgpt.train.model.LegacyTrainingModel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link TrainCheck} from raw inputs: two AdamW steps with clipping (step 2 at recomputed gradients) against the
 * original's weights, and the written batch / losses / gradients.
 */
class TrainCheckTest {

    @ParameterizedTest
    @ValueSource(strings = {"s1_image", "s2_image", "s3_t2x_video"})
    void twoAdamWStepsMatchTheOriginal(String name, @TempDir Path tmp) {
        LegacyFixtureCase fc = LegacyFixtureCase.load(TrainFixture.DIR, name, TrainFixture.TOKENIZER_JSON);
        Path out = tmp.resolve(name + ".safetensors");
        TrainCheck.Summary s = TrainCheck.run(fc, out);
        JsonObject adamw = fc.json().getAsJsonObject("adamw");
        double lr = adamw.get("lr").getAsDouble();
        double wd = adamw.get("weight_decay").getAsDouble();
        int width = TrainFixture.trainingConfig().get("textfc_width").getAsInt();
        JsonArray steps = adamw.getAsJsonArray("steps");
        for (int k = 0; k < 2; k++) {
            double want = steps.get(k).getAsJsonObject().get("grad_norm_before_clip").getAsDouble();
            assertEquals(want, s.gradNormsBeforeClip().get(k), 1e-5 * want, "grad norm before clip, step " + (k + 1));
        }
        try (SafetensorsFile got = SafetensorsFile.open(out);
             SafetensorsFile ref = SafetensorsFile.open(TrainFixture.DIR.resolve("cases/" + name + "_adamw.safetensors"));
             SafetensorsFile w0 = SafetensorsFile.open(TrainFixture.DIR.resolve("weights/nextgpt_stage12_W0.safetensors"))) {
            double worstPlain = 0;
            double worstKeyBias = 0;
            int stored = 0;
            for (int step = 1; step <= 2; step++) {
                for (JsonElement e : adamw.getAsJsonArray("stored_tensors")) {
                    String p = e.getAsString();
                    float[] want = ref.readFloats("step" + step + "." + p);
                    float[] have = got.readFloats("step" + step + "." + p);
                    assertEquals(want.length, have.length);
                    boolean keyBias = p.endsWith("in_proj_bias");
                    for (int i = 0; i < want.length; i++) {
                        double d = Math.abs((double) want[i] - have[i]);
                        if (keyBias && i >= width && i < 2 * width) {
                            worstKeyBias = Math.max(worstKeyBias, d);
                        } else {
                            worstPlain = Math.max(worstPlain, d);
                        }
                    }
                    stored++;
                }
                double decay = Math.pow(1 - lr * wd, step);
                for (JsonElement e : adamw.getAsJsonArray("never_had_gradient_not_stored")) {
                    String p = e.getAsString();
                    float[] start = w0.readFloats(LegacyTrainingModel.renameForStage(p, 1));
                    float[] have = got.readFloats("step" + step + "." + p);
                    for (int i = 0; i < start.length; i++) {
                        worstPlain = Math.max(worstPlain, Math.abs(start[i] * decay - have[i]));
                    }
                }
            }
            System.out.printf("%s AdamW: %d stored tensors, max |w - w_ref| %.2e (tol 2e-6), key-bias slices %.2e"
                    + " (tol %.2e)%n", name, stored, worstPlain, worstKeyBias, lr + 1e-6);
            assertTrue(worstPlain <= 2e-6, name + " AdamW weights differ by " + worstPlain);
            assertTrue(worstKeyBias <= lr + 1e-6, name + " key-bias slices differ by " + worstKeyBias);
        }
    }

    @Test
    void writesBatchLossesAndDenseGradients(@TempDir Path tmp) {
        LegacyFixtureCase fc = LegacyFixtureCase.load(TrainFixture.DIR, "s2_audio", TrainFixture.TOKENIZER_JSON);
        Path out = tmp.resolve("s2_audio.safetensors");
        TrainCheck.Summary s = TrainCheck.run(fc, out);
        try (SafetensorsFile got = SafetensorsFile.open(out);
             SafetensorsFile ref = SafetensorsFile.open(TrainFixture.DIR.resolve("cases/s2_audio.safetensors"))) {
            for (String t : new String[] {"batch.input_ids", "batch.target_ids", "batch.attention_mask"}) {
                assertArrayEquals(ref.readLongs(t), got.readLongs(t), t);
            }
            for (String t : new String[] {"loss.total", "loss.ce", "loss.l2"}) {
                assertEquals(ref.readFloats(t)[0], got.readFloats(t)[0], 1e-4, t);
            }
            assertEquals(389, s.trainable());
            String embed = "grad.llama_model.model.embed_tokens.weight";
            assertArrayEquals(new long[] {550, 64}, got.info(embed).shape());
            String head = "grad.llama_model.lm_head.weight";
            float[] want = ref.readFloats(head);
            float[] have = got.readFloats(head);
            double scale = 0;
            double err = 0;
            for (int i = 0; i < want.length; i++) {
                scale = Math.max(scale, Math.abs(want[i]));
                err = Math.max(err, Math.abs(want[i] - have[i]));
            }
            assertTrue(err <= 1e-4 * scale + 1e-7, "lm_head gradient error " + err);
            assertTrue(!got.contains("step1." + head.substring(5)), "no optimiser file for s2_audio, no steps");
        }
    }
}
