package dev.nextgpt.train.trainer;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.runtime.io.SafetensorsFile;
import dev.nextgpt.runtime.llm.LlamaConfig;
import dev.nextgpt.train.data.DatasetRecords;
import dev.nextgpt.train.data.LegacyBatchBuilder;
import dev.nextgpt.train.data.LegacyBatchBuilder.Modality;
import dev.nextgpt.train.data.LegacyTokenizer;
import dev.nextgpt.train.model.LegacyTrainingModel;
import dev.nextgpt.train.model.ParameterStore;
import dev.nextgpt.train.model.TrainingLlama;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The three legacy stages trained end to end on the original sample data ({@code samples-e2e}: cc3m JPEGs, an
 * audiocap excerpt, a webvid GIF, the real caption-embedding {@code .npy} targets, the T-T+X instruction record) with
 * ImageBind features computed from the media by the tiny golden ImageBind, on a {@link SampleSystem} around the
 * golden LLaMA. Each run writes its metrics and a trainable-only checkpoint with the original names, and the loss
 * falls.
 */
class SampleDataTrainingTest {
    static final Path RESOURCES = Path.of("src/test/resources");
    static final Path IMAGEBIND = Path.of("../nextgpt-runtime/src/test/resources/golden/imagebind/model");
    static final Path LLAMA = Path.of("../nextgpt-runtime/src/test/resources/golden/llama");

    @TempDir
    static Path work;

    @BeforeAll
    static void prepare() throws IOException {
        copyTree(RESOURCES.resolve("samples"), work.resolve("samples"));
        copyTree(RESOURCES.resolve("samples-e2e"), work.resolve("samples-e2e"));
        Files.createDirectories(work.resolve("imagebind"));
        for (String f : new String[] {"config.json", "model.safetensors"}) {
            Files.copy(IMAGEBIND.resolve(f), work.resolve("imagebind").resolve(f));
        }
        SampleSystem.write(LLAMA, SampleSystem.Spec.forSampleData(16), work.resolve("system"), 7);
    }

    @Test
    void imageBindFeaturesFromTheRealMedia() {
        Path e2e = work.resolve("samples-e2e");
        try (NDManager m = NDManager.newBaseManager();
             ImageBindFeatures ib = ImageBindFeatures.load(work.resolve("imagebind"), m)) {
            float[] a = ib.feature(Modality.IMAGE, e2e.resolve("cc3m/images/001312382.jpg"));
            float[] b = ib.feature(Modality.IMAGE, e2e.resolve("cc3m/images/001319946.jpg"));
            float[] audio = ib.feature(Modality.AUDIO, e2e.resolve("audiocap/audios/106158.wav"));
            float[] video = ib.feature(Modality.VIDEO, e2e.resolve("webvid/videos/00169473.gif"));
            for (float[] f : List.of(a, b, audio, video)) {
                assertEquals(16, f.length);
            }
            // legacy outputs: vision and (unscaled) audio L2-normalised; video the mean of 15 normalised clips
            assertEquals(1.0, norm(a), 1e-4);
            assertEquals(1.0, norm(audio), 1e-4);
            assertTrue(norm(video) > 0.1 && norm(video) <= 1.0 + 1e-4, "video feature norm " + norm(video));
            double diff = 0;
            for (int i = 0; i < 16; i++) {
                diff = Math.max(diff, Math.abs(a[i] - b[i]));
            }
            assertTrue(diff > 1e-3, "two different images gave the same feature");
            assertArrayEquals(a, ib.feature(Modality.IMAGE, e2e.resolve("cc3m/images/001312382.jpg")), 0f);
            FeatureSource cached = FeatureSource.cached(ib);
            Path p = e2e.resolve("cc3m/images/001315729.jpg");
            assertSame(cached.feature(Modality.IMAGE, p), cached.feature(Modality.IMAGE, p));
            InvalidInputException e = assertThrows(InvalidInputException.class,
                    () -> ib.feature(Modality.IMAGE, e2e.resolve("cc3m/images/missing.jpg")));
            assertTrue(e.getMessage().contains("missing.jpg"), e.getMessage());
        }
    }

    @Test
    void sampleSystemHasTheLegacyTokensAndShapes() throws IOException {
        Path sys = work.resolve("system");
        JsonObject added = JsonParser.parseString(Files.readString(sys.resolve("added_tokens.json"))).getAsJsonObject();
        assertEquals(38, added.size());
        assertEquals(512, added.get("<Img>").getAsInt());
        assertEquals(514, added.get("[IMG0]").getAsInt());
        assertEquals(549, added.get("[AUD7]").getAsInt());
        assertEquals(550, LlamaConfig.load(sys).vocabSize());
        try (SafetensorsFile w = SafetensorsFile.open(sys.resolve("weights.safetensors"));
             SafetensorsFile base = SafetensorsFile.open(LLAMA.resolve("model.safetensors"))) {
            assertArrayEquals(new long[] {550, 64}, w.info("llama_model.model.embed_tokens.weight").shape());
            assertArrayEquals(new long[] {64, 16}, w.info("llama_proj.weight").shape());
            assertArrayEquals(new long[] {1024, 16}, w.info("gen_text_hidden_fcs.0.model.weight").shape());
            assertArrayEquals(new long[] {1, 77, 16}, w.info("gen_text_hidden_fcs_video.0.query_embs").shape());
            assertArrayEquals(new long[] {512, 16}, w.info("gen_text_hidden_fcs_audio.0.model.weight").shape());
            float[] old = base.readFloats("model.embed_tokens.weight");
            float[] grown = w.readFloats("llama_model.model.embed_tokens.weight");
            for (int i = 0; i < old.length; i++) {
                assertEquals(old[i], grown[i], 0f);
            }
            assertArrayEquals(base.readFloats("model.layers.1.mlp.down_proj.weight"),
                    w.readFloats("llama_model.model.layers.1.mlp.down_proj.weight"), 0f);
        }
    }

    @Test
    void stageOneThroughTheBuilderApi() throws IOException {
        Path sys = work.resolve("system");
        Path e2e = work.resolve("samples-e2e");
        Path out = work.resolve("api-stage1");
        LlamaConfig llm = LlamaConfig.load(sys);
        Map<String, Integer> added = new java.util.LinkedHashMap<>();
        JsonParser.parseString(Files.readString(sys.resolve("added_tokens.json"))).getAsJsonObject().entrySet()
                .forEach(e -> added.put(e.getKey(), e.getValue().getAsInt()));
        try (NDManager m = NDManager.newBaseManager();
             LegacyTokenizer tok = LegacyTokenizer.load(sys.resolve("tokenizer.json"), added);
             ImageBindFeatures ib = ImageBindFeatures.load(work.resolve("imagebind"), m)) {
            Map<Modality, Integer> counts = new EnumMap<>(Map.of(Modality.IMAGE, 4, Modality.VIDEO, 24,
                    Modality.AUDIO, 8));
            LegacyBatchBuilder builder = new LegacyBatchBuilder(tok, llm.bosTokenId(), 2, 240, counts);
            Map<Modality, long[]> signal = new EnumMap<>(Modality.class);
            counts.keySet().forEach(k -> signal.put(k, builder.signalIds(k)));
            ParameterStore store = LegacyTrainingModel.loadWeights(m, DataType.FLOAT32, 1, llm,
                    sys.resolve("weights.safetensors"), null, null, 13);
            List<List<TrainingSample>> data = new ArrayList<>();
            data.add(pairs(1, e2e.resolve("cc3m/cc3m.first3.json"), e2e.resolve("cc3m/images")));
            data.add(pairs(1, e2e.resolve("audiocap/audiocap.first1.json"), e2e.resolve("audiocap/audios")));
            LegacyExampleFactory factory = new LegacyExampleFactory(1, builder, "generate a caption",
                    FeatureSource.cached(ib), null);
            try (LegacyTrainingModel model = new LegacyTrainingModel(1, store,
                    new TrainingLlama(llm, LegacyTrainingModel.llmPrefix(1), null), signal, 4);
                 NextGptTrainer trainer = NextGptTrainer.builder().model(model).data(data, factory).batchSize(1)
                         .totalSteps(8).learningRate(0.01).seed(5).outputDir(out)
                         .metricsFile(out.resolve("metrics.jsonl")).logEvery(0).progress(null).build()) {
                NextGptTrainer.Summary s = trainer.train();
                assertFalse(s.stoppedOnNaN());
                assertEquals(8, s.steps());
            }
        }
        assertLossFalls(out.resolve("metrics.jsonl"), 8, 2);
        assertEquals(Set.of("llama_model.model.embed_tokens.weight", "llama_model.lm_head.weight",
                "llama_proj.weight", "llama_proj.bias"), names(out.resolve("checkpoint-8/trainable.safetensors")));
    }

    @Test
    void stageOneFromItsConfig() {
        runConfig(1);
        assertEquals(Set.of("llama_model.model.embed_tokens.weight", "llama_model.lm_head.weight",
                "llama_proj.weight", "llama_proj.bias"), names(work.resolve("runs/stage1/checkpoint-12/trainable.safetensors")));
    }

    @Test
    void stageTwoFromItsConfig() {
        runConfig(2);
        Set<String> names = names(work.resolve("runs/stage2/checkpoint-12/trainable.safetensors"));
        assertTrue(names.contains("llama_model.model.embed_tokens.weight"), names.toString());
        assertTrue(names.contains("llama_model.lm_head.weight"), names.toString());
        for (String p : new String[] {"gen_text_hidden_fcs.0.", "gen_text_hidden_fcs_video.0.",
                "gen_text_hidden_fcs_audio.0."}) {
            assertTrue(names.contains(p + "query_embs") && names.contains(p + "model.weight"), names.toString());
        }
        assertFalse(names.contains("llama_proj.weight"), "stage 2 does not train llama_proj");
        assertTrue(names.stream().allMatch(n -> n.startsWith("gen_text_hidden_fcs") || n.startsWith("llama_model.")
                && !n.contains(".layers.")), names.toString());
    }

    @Test
    void stageThreeFromItsConfig() {
        runConfig(3);
        Set<String> names = names(work.resolve("runs/stage3/checkpoint-12/trainable.safetensors"));
        assertTrue(names.contains("llama_model.base_model.model.model.embed_tokens.weight"), names.toString());
        assertTrue(names.contains("llama_model.base_model.model.lm_head.weight"), names.toString());
        assertTrue(names.contains("llama_model.base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight"),
                names.toString());
        assertTrue(names.contains("llama_model.base_model.model.model.layers.1.self_attn.o_proj.lora_B.default.weight"),
                names.toString());
        assertTrue(names.contains("llama_proj.weight") && names.contains("gen_text_hidden_fcs_audio.0.fc.weight"),
                names.toString());
        assertFalse(names.contains("llama_model.base_model.model.model.layers.0.self_attn.q_proj.weight"),
                "frozen base weights are not in the trainable checkpoint");
    }

    private static void runConfig(int stage) {
        Path config = work.resolve("samples-e2e/stage" + stage + ".json");
        List<String> log = new ArrayList<>();
        try (TrainingConfig.Setup setup = TrainingConfig.load(config, stage, log::add)) {
            NextGptTrainer.Summary s = setup.trainer().train();
            assertFalse(s.stoppedOnNaN(), String.join("\n", log));
            assertEquals(12, s.steps());
        }
        assertLossFalls(work.resolve("runs/stage" + stage + "/metrics.jsonl"), 12, 3);
    }

    /** Mean loss of the first {@code window} steps vs the last (a window covers each dataset once). */
    static void assertLossFalls(Path metrics, int steps, int window) {
        List<Double> losses = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(metrics)) {
                JsonObject o = JsonParser.parseString(line).getAsJsonObject();
                if (o.has("loss") && !o.has("event") && !o.has("eval_loss")) {
                    losses.add(o.get("loss").getAsDouble());
                }
            }
        } catch (IOException e) {
            throw new AssertionError("cannot read " + metrics, e);
        }
        assertEquals(steps, losses.size(), losses.toString());
        double first = losses.subList(0, window).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        double last = losses.subList(steps - window, steps).stream().mapToDouble(Double::doubleValue).average()
                .orElseThrow();
        assertTrue(last < 0.9 * first, "loss did not fall: first " + first + ", last " + last + " " + losses);
    }

    static Set<String> names(Path safetensors) {
        try (SafetensorsFile f = SafetensorsFile.open(safetensors)) {
            return new TreeSet<>(f.names());
        }
    }

    private static List<TrainingSample> pairs(int stage, Path json, Path media) {
        List<TrainingSample> out = new ArrayList<>();
        DatasetRecords.readPairs(json, media, null, false).records()
                .forEach(p -> out.add(TrainingSample.fromPair(stage, p)));
        return out;
    }

    private static double norm(float[] v) {
        double s = 0;
        for (float x : v) {
            s += (double) x * x;
        }
        return Math.sqrt(s);
    }

    static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> files = Files.walk(from)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target);
                }
            }
        }
    }
}
