package dev.nextgpt.train.trainer;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.nextgpt.runtime.io.SafetensorsFile;
import dev.nextgpt.train.data.LegacyBatchBuilder.Modality;
import dev.nextgpt.train.model.LegacyTrainingModel;
import dev.nextgpt.train.model.ParameterStore;
import dev.nextgpt.train.model.TinyLegacySystem;
import dev.nextgpt.train.optim.LearningRateSchedule;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link NextGptTrainer} on a tiny random legacy system with a small synthetic dataset. */
class TrainerTest {

    /** 2 datasets of 2 samples (batch 2): two fixed batches, visited in a seeded order. */
    static NextGptTrainer.Builder tiny(LegacyTrainingModel model, boolean media, Modality out) {
        return NextGptTrainer.builder().model(model)
                .data(List.of(2, 2), idx -> TinyLegacySystem.example(
                        Math.min(idx[0], idx[1]) * 31L + Math.max(idx[0], idx[1]), media, out))
                .batchSize(2).seed(5).progress(null);
    }

    static LegacyTrainingModel model(NDManager m, int stage) {
        ParameterStore store = TinyLegacySystem.randomWeights(m, DataType.FLOAT32, 7, stage);
        return TinyLegacySystem.model(store, stage);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3})
    void lossFallsInEveryStage(int stage, @TempDir Path tmp) throws IOException {
        boolean media = stage != 2;
        Modality out = stage == 1 ? Modality.TEXT : Modality.IMAGE;
        Path metrics = tmp.resolve("metrics.jsonl");
        try (NDManager m = NDManager.newBaseManager();
             LegacyTrainingModel model = model(m, stage);
             NextGptTrainer t = tiny(model, media, out).totalSteps(40).warmupSteps(2).learningRate(2e-2)
                     .metricsFile(metrics).evalBatches(List.of(TinyLegacySystem.example(0 * 31 + 1, media, out)))
                     .evalEvery(20).build()) {
            assertEquals(new HashSet<>(model.setTrainable(LegacyTrainingModel.originalTrainableParts(stage))),
                    new HashSet<>(model.parameters().trainableNames()));
            NextGptTrainer.Summary s = t.train();
            List<String> lines = Files.readAllLines(metrics);
            assertFalse(s.stoppedOnNaN(), () -> "stopped on NaN: " + lines.get(lines.size() - 1));
            assertEquals(40, s.steps());
            double first = 0;
            double last = 0;
            int n = 0;
            for (String line : lines) {
                JsonObject o = JsonParser.parseString(line).getAsJsonObject();
                if (!o.has("loss")) {
                    continue;
                }
                long step = o.get("step").getAsLong();
                if (step <= 5) {
                    first += o.get("loss").getAsDouble() / 5;
                }
                if (step > 35) {
                    last += o.get("loss").getAsDouble() / 5;
                }
                n++;
            }
            assertEquals(40, n);
            assertTrue(lines.stream().anyMatch(l -> l.contains("eval_loss")));
            System.out.printf("stage %d: mean loss of steps 1-5 %.4f, of steps 36-40 %.4f%n", stage, first, last);
            assertTrue(last < 0.7 * first, "stage " + stage + " loss " + first + " -> " + last);
        }
    }

    @Test
    void resumedRunContinuesIdentically(@TempDir Path tmp) {
        float[][] straight;
        List<String> names;
        try (NDManager m = NDManager.newBaseManager();
             LegacyTrainingModel model = model(m, 3);
             NextGptTrainer t = tiny(model, true, Modality.IMAGE).totalSteps(6).warmupSteps(2).learningRate(5e-3)
                     .gradientAccumulation(2).build()) {
            t.train();
            names = model.parameters().trainableNames();
            straight = snapshot(model.parameters(), names);
        }
        Path ckpt;
        try (NDManager m = NDManager.newBaseManager();
             LegacyTrainingModel model = model(m, 3);
             NextGptTrainer t = tiny(model, true, Modality.IMAGE).totalSteps(6).warmupSteps(2).learningRate(5e-3)
                     .gradientAccumulation(2).stopAfter(3).outputDir(tmp).build()) {
            NextGptTrainer.Summary s = t.train();
            assertEquals(3, s.steps());
            ckpt = s.lastCheckpoint();
        }
        try (SafetensorsFile f = SafetensorsFile.open(ckpt.resolve("trainable.safetensors"))) {
            assertEquals(new HashSet<>(names), f.names(), "checkpoint holds exactly the trainable tensors");
            assertTrue(f.names().contains("llama_model.base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight"));
        }
        try (NDManager m = NDManager.newBaseManager();
             LegacyTrainingModel model = model(m, 3);
             NextGptTrainer t = tiny(model, true, Modality.IMAGE).totalSteps(6).warmupSteps(2).learningRate(5e-3)
                     .gradientAccumulation(2).resumeFrom(ckpt).build()) {
            assertEquals(3, t.step());
            t.train();
            float[][] resumed = snapshot(model.parameters(), names);
            double worst = 0;
            for (int i = 0; i < straight.length; i++) {
                for (int j = 0; j < straight[i].length; j++) {
                    worst = Math.max(worst, Math.abs(straight[i][j] - resumed[i][j]));
                }
            }
            System.out.printf("resume: max |w_straight - w_resumed| = %.2e over %d tensors%n", worst, names.size());
            assertTrue(worst <= 1e-6, "resumed weights differ by " + worst);
        }
    }

    @Test
    void stopsEarlyOnNaN(@TempDir Path tmp) throws IOException {
        try (NDManager m = NDManager.newBaseManager();
             LegacyTrainingModel model = model(m, 1)) {
            ParameterStore p = model.parameters();
            String w = "llama_proj.weight";
            float[] v = p.peek(w).toFloatArray();
            v[0] = Float.NaN;
            p.put(w, m.create(v, p.peek(w).getShape()));
            Path metrics = tmp.resolve("m.jsonl");
            try (NextGptTrainer t = tiny(model, true, Modality.TEXT).totalSteps(5)
                    .schedule(LearningRateSchedule.constant(1e-3)).metricsFile(metrics).build()) {
                NextGptTrainer.Summary s = t.train();
                assertTrue(s.stoppedOnNaN());
                assertEquals(0, s.steps());
            }
            assertTrue(Files.readString(metrics).contains("nan_stop"));
        }
    }

    private static float[][] snapshot(ParameterStore p, List<String> names) {
        float[][] out = new float[names.size()][];
        for (int i = 0; i < out.length; i++) {
            out[i] = p.peek(names.get(i)).toFloatArray();
        }
        return out;
    }
}
