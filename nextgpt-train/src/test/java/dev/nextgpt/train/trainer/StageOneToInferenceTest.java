package dev.nextgpt.train.trainer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.io.SafetensorsFile;
import dev.nextgpt.runtime.io.SafetensorsWriter;
import dev.nextgpt.runtime.nextgpt.LegacyNextGpt;
import dev.nextgpt.runtime.nextgpt.Modality;
import dev.nextgpt.train.data.NpyArray;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Stage 1 trained on the weights of the e2e fixture system, its {@code trainable.safetensors} written into a copy of
 * that system's delta, and the copy loaded by the inference side: the input projection and the embedding rows are
 * the trained ones.
 */
class StageOneToInferenceTest {
    static final Path SYSTEM = Path.of("../nextgpt-runtime/src/test/resources/golden/nextgpt-e2e/system");
    static final Path DELTA = Path.of("ckpt/delta_ckpt/nextgpt/7b_tiva_v0");

    @Test
    void trainedProjectionIsWhatInferenceUses(@TempDir Path tmp) throws IOException {
        Path sys = SYSTEM.toAbsolutePath().normalize();
        Path weights = LegacyDeltaExport.trainingWeights(sys, tmp.resolve("stage1_start.safetensors"));
        Files.createDirectories(tmp.resolve("features"));
        Random rnd = new Random(3);
        for (String n : new String[] {"a.jpg", "b.jpg"}) {
            float[] f = new float[16];
            for (int i = 0; i < f.length; i++) {
                f[i] = (float) rnd.nextGaussian();
            }
            new NpyArray(new long[] {16}, f).writeFloat16(tmp.resolve("features/" + n + ".npy"));
        }
        Files.writeString(tmp.resolve("cc3m.json"), "[{\"caption\": \"A red bird on a branch.\", \"image_name\": \"a.jpg\"},"
                + " {\"caption\": \"a small bird singing\", \"image_name\": \"b.jpg\"}]");
        Path delta = sys.resolve(DELTA);
        Path vicuna = sys.resolve("ckpt/pretrained_ckpt/vicuna_ckpt/7b_v0");
        Files.writeString(tmp.resolve("train.json"), "{\"weights\": \"" + weights + "\","
                + "\"llama_config\": \"" + delta.resolve("config.json") + "\","
                + "\"tokenizer_json\": \"" + vicuna.resolve("tokenizer.json") + "\","
                + "\"added_tokens\": \"" + delta.resolve("added_tokens.json") + "\","
                + "\"max_length\": 64, \"datasets\": [{\"type\": \"pairs\", \"json\": \"cc3m.json\"}],"
                + "\"features_dir\": \"features\", \"batch_size\": 2, \"total_steps\": 2, \"learning_rate\": 0.01,"
                + "\"output_dir\": \"out\", \"log_every\": 0}");
        try (TrainingConfig.Setup setup = TrainingConfig.load(tmp.resolve("train.json"), 1, s -> { })) {
            NextGptTrainer.Summary s = setup.trainer().train();
            assertFalse(s.stoppedOnNaN());
            assertEquals(2, s.steps());
        }
        Path trainable = tmp.resolve("out/checkpoint-2/trainable.safetensors");

        // a copy of the system without the delta weights, then the new delta
        Path copy = tmp.resolve("system");
        try (Stream<Path> files = Files.walk(sys)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                Path rel = sys.relativize(p);
                if (rel.startsWith(DELTA) && p.getFileName().toString().startsWith("pytorch_model.")) {
                    continue;
                }
                if (Files.isDirectory(p)) {
                    Files.createDirectories(copy.resolve(rel.toString()));
                } else {
                    Files.copy(p, copy.resolve(rel.toString()));
                }
            }
        }
        LegacyDeltaExport.Report r = LegacyDeltaExport.writeDelta(delta.resolve("pytorch_model.safetensors"),
                trainable, copy.resolve(DELTA).resolve("pytorch_model.safetensors"));
        assertEquals(Set.of("llama_proj.weight", "llama_proj.bias",
                        "llama_model.base_model.model.model.embed_tokens.weight",
                        "llama_model.base_model.model.lm_head.weight"), Set.copyOf(r.replaced()));
        assertTrue(r.kept() > 0);

        float[] w1;
        float[] b1;
        float[] embed1;
        float[] w0;
        try (SafetensorsFile t = SafetensorsFile.open(trainable);
             SafetensorsFile base = SafetensorsFile.open(delta.resolve("pytorch_model.safetensors"))) {
            w1 = t.readFloats("llama_proj.weight");
            b1 = t.readFloats("llama_proj.bias");
            embed1 = t.readFloats("llama_model.model.embed_tokens.weight");
            w0 = base.readFloats("llama_proj.weight");
        }
        double moved = 0;
        for (int i = 0; i < w0.length; i++) {
            moved = Math.max(moved, Math.abs(w1[i] - w0[i]));
        }
        assertTrue(moved > 1e-3, "training changed llama_proj by only " + moved);

        try (LegacyNextGpt ng = LegacyNextGpt.load(copy, LegacyNextGpt.LoadOptions.defaults().withImageDecoder(false));
             NDManager m = NDManager.newBaseManager()) {
            NDArray feature = ng.imagebindEmbedding(Modality.IMAGE, copy.resolve("media/bird_image.jpg"), m);
            float[] x = feature.toFloatArray();
            assertEquals(16, x.length);
            float[] got = ng.llamaProj(feature).toFloatArray();
            assertEquals(64, got.length);
            double maxErr = 0;
            double maxChange = 0;
            for (int o = 0; o < 64; o++) {
                double want = b1[o];
                double before = 0;
                for (int i = 0; i < 16; i++) {
                    want += (double) w1[o * 16 + i] * x[i];
                    before += (double) w0[o * 16 + i] * x[i];
                }
                maxErr = Math.max(maxErr, Math.abs(got[o] - want));
                maxChange = Math.max(maxChange, Math.abs(got[o] - before));
            }
            assertTrue(maxErr < 1e-5, "llama_proj(feature) differs from the saved weights by " + maxErr);
            assertTrue(maxChange > 1e-3, "projected feature unchanged by training: " + maxChange);
            // the trained embedding rows ([IMG0] = 514 and an ordinary token) are what the LLM looks up
            float[] rows = ng.embeddingLookup().rows(m, new long[] {514, 100}).toFloatArray();
            for (int j = 0; j < 64; j++) {
                assertEquals(embed1[514 * 64 + j], rows[j], 0f);
                assertEquals(embed1[100 * 64 + j], rows[64 + j], 0f);
            }
        }
    }

    @Test
    void writeDeltaRejectsTensorsTheDeltaDoesNotHave(@TempDir Path tmp) {
        Path delta = SYSTEM.resolve(DELTA).resolve("pytorch_model.safetensors");
        new SafetensorsWriter().addFloats("llama_proj.weight", new long[] {64, 8}, new float[64 * 8])
                .write(tmp.resolve("bad_shape.safetensors"));
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> LegacyDeltaExport.writeDelta(delta,
                tmp.resolve("bad_shape.safetensors"), tmp.resolve("out.safetensors")));
        assertTrue(e.getMessage().contains("[64, 8]"), e.getMessage());
        new SafetensorsWriter().addFloats("nope.weight", new long[] {1}, new float[1])
                .write(tmp.resolve("unknown.safetensors"));
        e = assertThrows(ModelFormatException.class, () -> LegacyDeltaExport.writeDelta(delta,
                tmp.resolve("unknown.safetensors"), tmp.resolve("out.safetensors")));
        assertTrue(e.getMessage().contains("'nope.weight'"), e.getMessage());
    }
}
