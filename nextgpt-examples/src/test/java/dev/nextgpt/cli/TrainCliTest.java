package dev.nextgpt.cli;

import dev.nextgpt.runtime.io.SafetensorsFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code nextgpt train-check} on the training fixture. */
class TrainCliTest {
    static final Path FIXTURE = Path.of("../nextgpt-train/src/test/resources/golden/nextgpt-train");

    static String[] run(String... args) {
        return CliRun.run(args);
    }

    @Test
    void trainCheckWritesLossesGradientsAndSteps(@TempDir Path tmp) {
        Path out = tmp.resolve("s1.safetensors");
        String[] r = run("train-check", "--fixture", FIXTURE.toString(), "--case", "s1_image", "--output",
                out.toString());
        assertEquals("0", r[0], r[2]);
        try (SafetensorsFile got = SafetensorsFile.open(out);
             SafetensorsFile ref = SafetensorsFile.open(FIXTURE.resolve("cases/s1_image.safetensors"))) {
            assertEquals(ref.readFloats("loss.total")[0], got.readFloats("loss.total")[0], 1e-4);
            assertTrue(got.contains("grad.llama_proj.weight"));
            assertTrue(got.contains("step2.llama_model.lm_head.weight"));
        }
        String[] bad = run("train-check", "--fixture", FIXTURE.toString(), "--case", "nope", "--output",
                out.toString());
        assertEquals("1", bad[0]);
        assertTrue(bad[2].contains("case 'nope'"), bad[2]);
    }

    @Test
    void trainRunsStageOneFromAJsonConfig(@TempDir Path tmp) throws Exception {
        Path fx = FIXTURE.toAbsolutePath();
        java.nio.file.Files.createDirectories(tmp.resolve("features"));
        java.nio.file.Files.writeString(tmp.resolve("cc3m.json"), "[{\"caption\": \"A red bus parked on the street.\","
                + " \"image_name\": \"a.jpg\"}, {\"caption\": \"Two dogs playing in the snow\", \"image_name\": \"b.jpg\"}]");
        java.util.Random rnd = new java.util.Random(1);
        for (String n : new String[] {"a.jpg", "b.jpg"}) {
            float[] f = new float[32];
            for (int i = 0; i < f.length; i++) {
                f[i] = (float) rnd.nextGaussian() / 6;
            }
            new dev.nextgpt.train.data.NpyArray(new long[] {32}, f).writeFloat16(tmp.resolve("features/" + n + ".npy"));
        }
        String config = "{\"weights\": \"" + fx.resolve("weights/nextgpt_stage12_W0.safetensors") + "\","
                + "\"llama_config\": \"" + fx.resolve("config.json") + "\","
                + "\"tokenizer_json\": \"" + fx.resolveSibling("nextgpt-train-extra").resolve("tokenizer.json") + "\","
                + "\"added_tokens\": \"" + fx.resolve("tokenizer/added_tokens.json") + "\","
                + "\"datasets\": [{\"type\": \"pairs\", \"json\": \"cc3m.json\"}],"
                + "\"features_dir\": \"features\", \"batch_size\": 2, \"total_steps\": 3, \"warmup_steps\": 1,"
                + "\"learning_rate\": 0.001, \"output_dir\": \"out\", \"metrics_file\": \"out/metrics.jsonl\","
                + "\"log_every\": 1}";
        java.nio.file.Files.writeString(tmp.resolve("train.json"), config);
        String[] r = run("train", "--stage", "1", "--config", tmp.resolve("train.json").toString());
        assertEquals("0", r[0], r[1] + r[2]);
        assertTrue(r[1].contains("step 3/3"), r[1]);
        assertEquals(3, java.nio.file.Files.readAllLines(tmp.resolve("out/metrics.jsonl")).size());
        try (SafetensorsFile ck = SafetensorsFile.open(tmp.resolve("out/checkpoint-3/trainable.safetensors"))) {
            assertEquals(java.util.Set.of("llama_model.model.embed_tokens.weight", "llama_model.lm_head.weight",
                    "llama_proj.weight", "llama_proj.bias"), ck.names());
        }
    }
}
