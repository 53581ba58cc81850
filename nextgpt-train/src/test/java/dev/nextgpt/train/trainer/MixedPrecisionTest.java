package dev.nextgpt.train.trainer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.nextgpt.train.data.LegacyBatchBuilder.Modality;
import dev.nextgpt.train.model.LegacyTrainingModel;
import dev.nextgpt.train.model.ParameterStore;
import dev.nextgpt.train.model.TinyLegacySystem;
import dev.nextgpt.train.optim.DynamicLossScaler;
import dev.nextgpt.train.optim.LearningRateSchedule;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Mixed precision on CPU: bf16 / fp16 forward with float32 master weights, and fp16 loss scaling. */
class MixedPrecisionTest {

    @Test
    void fp16LossIsCloseToFloat32AndFallsWithFloat32Masters(@TempDir Path tmp) throws Exception {
        Precision precision = Precision.FP16;
        try (NDManager m = NDManager.newBaseManager();
             LegacyTrainingModel model = TrainerTest.model(m, 3)) {
            ParameterStore store = model.parameters();
            model.setTrainable(LegacyTrainingModel.originalTrainableParts(3));
            LegacyTrainingModel.Example ex = TinyLegacySystem.example(1, true, Modality.IMAGE);
            double fp32;
            double half;
            try (NDManager scope = m.newSubManager()) {
                fp32 = model.lossAndGradients(ex, scope, false).total();
                store.setComputeType(precision.computeType());
                LegacyTrainingModel.Result r = model.lossAndGradients(ex, scope, false);
                half = r.total();
                for (NDArray g : r.gradients().values()) {
                    assertEquals(DataType.FLOAT32, g.getDataType(), "gradients arrive in float32");
                }
                store.setComputeType(DataType.FLOAT32);
            }
            System.out.printf("%s: step-0 loss %.5f vs fp32 %.5f (rel %.2e)%n", precision, half, fp32,
                    Math.abs(half - fp32) / fp32);
            assertTrue(Double.isFinite(half));
            assertEquals(fp32, half, 5e-2 * Math.abs(fp32), precision + " loss at step 0");

            Path metrics = tmp.resolve("m.jsonl");
            try (NextGptTrainer t = TrainerTest.tiny(model, true, Modality.IMAGE).precision(precision)
                    .totalSteps(20).warmupSteps(2).learningRate(2e-2).metricsFile(metrics).build()) {
                NextGptTrainer.Summary s = t.train();
                assertFalse(s.stoppedOnNaN());
                List<Double> losses = new ArrayList<>();
                for (String line : Files.readAllLines(metrics)) {
                    JsonObject o = JsonParser.parseString(line).getAsJsonObject();
                    assertTrue(o.has("loss") && !o.get("loss").isJsonNull(), line);
                    losses.add(o.get("loss").getAsDouble());
                    assertEquals(precision == Precision.FP16, o.has("loss_scale"), line);
                }
                double first = (losses.get(0) + losses.get(1) + losses.get(2)) / 3;
                int n = losses.size();
                double last = (losses.get(n - 1) + losses.get(n - 2) + losses.get(n - 3)) / 3;
                System.out.printf("%s: loss %.4f -> %.4f, %d skipped%n", precision, first, last, t.skippedSteps());
                assertTrue(last < 0.8 * first, precision + " loss " + first + " -> " + last);
            }
            for (String n : store.names()) {
                assertEquals(DataType.FLOAT32, store.peek(n).getDataType(), n + " stays float32");
            }
        }
    }

    @Test
    void bf16IsRefusedWithATypedErrorInsteadOfANativeAbort() {
        try (NDManager m = NDManager.newBaseManager();
             LegacyTrainingModel model = TrainerTest.model(m, 1)) {
            var e = assertThrows(dev.nextgpt.UnsupportedConfigurationException.class,
                    () -> TrainerTest.tiny(model, true, Modality.TEXT).precision(Precision.BF16).build());
            assertTrue(e.getMessage().contains("bfloat16"), e.getMessage());
            assertEquals(Precision.BF16, Precision.parse("bf16"));
            assertThrows(dev.nextgpt.InvalidInputException.class, () -> Precision.parse("fp8"));
        }
    }

    @Test
    void fp16OverflowSkipsStepsHalvesTheScaleAndStopsAtTheMinimum(@TempDir Path tmp) throws Exception {
        try (NDManager m = NDManager.newBaseManager();
             LegacyTrainingModel model = TrainerTest.model(m, 1)) {
            ParameterStore p = model.parameters();
            String w = "llama_proj.weight";
            float[] v = p.peek(w).toFloatArray();
            v[0] = Float.POSITIVE_INFINITY;
            p.put(w, m.create(v, p.peek(w).getShape()));
            Path metrics = tmp.resolve("m.jsonl");
            try (NextGptTrainer t = TrainerTest.tiny(model, true, Modality.TEXT).totalSteps(6)
                    .precision(Precision.FP16).lossScaler(new DynamicLossScaler(4, 10, 1, 1))
                    .schedule(LearningRateSchedule.constant(1e-3)).metricsFile(metrics).build()) {
                NextGptTrainer.Summary s = t.train();
                assertEquals(2, t.skippedSteps());
                assertEquals(1, t.lossScale());
                assertTrue(s.stoppedOnNaN(), "an overflow at the minimum scale stops the run");
                assertEquals(2, s.steps());
            }
            List<String> lines = Files.readAllLines(metrics);
            assertEquals(3, lines.size(), String.join("\n", lines));
            JsonObject first = JsonParser.parseString(lines.get(0)).getAsJsonObject();
            assertEquals("overflow_skip", first.get("event").getAsString());
            assertEquals(4.0, first.get("loss_scale").getAsDouble());
            assertEquals(1, first.get("skipped_steps").getAsLong());
            JsonObject second = JsonParser.parseString(lines.get(1)).getAsJsonObject();
            assertEquals(2.0, second.get("loss_scale").getAsDouble());
            assertEquals(2, second.get("skipped_steps").getAsLong());
            assertTrue(lines.get(2).contains("nan_stop"));
            float[] after = p.peek(w).toFloatArray();
            assertEquals(v[1], after[1], "skipped steps leave the weights untouched");
        }
    }
}
