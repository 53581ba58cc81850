package dev.nextgpt.train.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonObject;
import dev.nextgpt.runtime.io.SafetensorsFile;
import dev.nextgpt.train.TrainFixture;
import dev.nextgpt.train.check.LegacyFixtureCase;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.HashSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Losses, outputs and every gradient of the legacy training forward against the original (every fixture case). */
class LegacyTrainingModelTest {

    static LegacyFixtureCase load(String name) {
        return LegacyFixtureCase.load(TrainFixture.DIR, name, TrainFixture.TOKENIZER_JSON);
    }

    @ParameterizedTest
    @ValueSource(strings = {"s1_image", "s1_audio", "s2_image", "s2_video", "s2_audio", "s3_tx2t_image",
            "s3_t2x_video", "s3_t2x_image"})
    void lossesOutputsAndGradientsMatchTheOriginal(String name) {
        LegacyFixtureCase fc = load(name);
        JsonObject cs = fc.json();
        try (NDManager m = NDManager.newBaseManager();
             LegacyTrainingModel model = fc.buildModel(m, DataType.FLOAT32);
             SafetensorsFile ref = SafetensorsFile.open(TrainFixture.DIR.resolve("cases/" + name + ".safetensors"))) {
            var b = fc.example().batch();
            assertArrayEquals(TrainFixture.longMatrix(cs.getAsJsonArray("input_ids")), b.inputIds());
            assertArrayEquals(TrainFixture.longMatrix(cs.getAsJsonArray("target_ids")), b.targetIds());
            assertArrayEquals(TrainFixture.longMatrix(cs.getAsJsonArray("attention_mask")), b.attentionMask());
            assertArrayEquals(TrainFixture.longMatrix(cs.getAsJsonArray("wrapped_targets")), b.wrappedTargets());

            Set<String> expectedTrainable = new HashSet<>();
            cs.getAsJsonArray("trainable_parameters").forEach(e -> expectedTrainable.add(e.getAsString()));
            assertEquals(expectedTrainable, new HashSet<>(model.parameters().trainableNames()));

            LegacyTrainingModel.Result r = model.lossAndGradients(fc.example(), m, true);
            double lossErr = Math.abs(r.total() - ref.readFloats("loss.total")[0]);
            lossErr = Math.max(lossErr, Math.abs(r.ce() - ref.readFloats("loss.ce")[0]));
            if (ref.contains("loss.l2")) {
                lossErr = Math.max(lossErr, Math.abs(r.l2() - ref.readFloats("loss.l2")[0]));
            } else {
                assertTrue(Double.isNaN(r.l2()));
            }
            assertTrue(lossErr <= 1e-4, name + " loss error " + lossErr);
            double outErr = 0;
            if (ref.contains("out.projector_output")) {
                outErr = Math.max(maxDiff(ref.readFloats("out.projector_output"), r.projectorOutput().toFloatArray()),
                        maxDiff(ref.readFloats("out.signal_hidden"), r.signalHidden().toFloatArray()));
                assertTrue(outErr <= 1e-4, name + " projector/signal error " + outErr);
            } else {
                assertEquals(null, r.projectorOutput());
            }

            Set<String> withoutGrad = new HashSet<>();
            cs.getAsJsonArray("trainable_without_grad").forEach(e -> withoutGrad.add(e.getAsString()));
            Set<String> expectedReceived = new HashSet<>(expectedTrainable);
            expectedReceived.removeAll(withoutGrad);
            assertEquals(expectedReceived, r.receivedGradient());

            double worst = 0;
            String worstName = "";
            int checked = 0;
            for (String p : model.parameters().trainableNames()) {
                float[] got = r.gradients().get(p).toFloatArray();
                float[] want;
                if (ref.contains("grad." + p)) {
                    want = ref.readFloats("grad." + p);
                } else if (ref.contains("gradrows." + p + ".index")) {
                    want = new float[got.length];
                    long[] rows = ref.readLongs("gradrows." + p + ".index");
                    float[] vals = ref.readFloats("gradrows." + p + ".values");
                    int d = vals.length / rows.length;
                    for (int i = 0; i < rows.length; i++) {
                        System.arraycopy(vals, i * d, want, (int) rows[i] * d, d);
                    }
                } else {
                    assertTrue(withoutGrad.contains(p), p + " has no reference gradient");
                    want = new float[got.length];
                }
                double scale = 0;
                for (float v : want) {
                    scale = Math.max(scale, Math.abs(v));
                }
                double err = maxDiff(want, got);
                double rel = err / (1e-4 * scale + 1e-7);
                if (rel > worst) {
                    worst = rel;
                    worstName = p + " (err " + err + ", max|g| " + scale + ")";
                }
                checked++;
            }
            System.out.printf("%s: loss err %.2e, out err %.2e, %d gradients, worst err/tol %.3f at %s%n", name,
                    lossErr, outErr, checked, worst, worstName);
            assertTrue(worst <= 1.0, name + " gradient error above tolerance at " + worstName);
            for (String p : model.parameters().names()) {
                if (!model.parameters().isTrainable(p)) {
                    assertFalse(model.parameters().peek(p).hasGradient(), "frozen " + p + " holds a gradient");
                }
            }
        }
    }

    static double maxDiff(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs((double) a[i] - b[i]));
        }
        return m;
    }

}
