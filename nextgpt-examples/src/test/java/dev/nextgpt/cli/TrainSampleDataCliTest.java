package dev.nextgpt.cli;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.nextgpt.runtime.io.SafetensorsFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The docs/training.md walk-through "Training on the sample data" through the CLI: {@code nextgpt sample-system},
 * then {@code nextgpt train --stage 1|2|3 --config samples-e2e/stageN.json} (ImageBind features computed from the
 * real media by the tiny golden ImageBind, the real caption-embedding targets).
 */
class TrainSampleDataCliTest {
    static final Path TRAIN_RESOURCES = Path.of("../nextgpt-train/src/test/resources");
    static final Path IMAGEBIND = Path.of("../nextgpt-runtime/src/test/resources/golden/imagebind/model");
    static final Path LLAMA = Path.of("../nextgpt-runtime/src/test/resources/golden/llama");

    @Test
    void allThreeStagesTrainOnTheSampleData(@TempDir Path work) throws IOException {
        copyTree(TRAIN_RESOURCES.resolve("samples"), work.resolve("samples"));
        copyTree(TRAIN_RESOURCES.resolve("samples-e2e"), work.resolve("samples-e2e"));
        Files.createDirectories(work.resolve("imagebind"));
        for (String f : new String[] {"config.json", "model.safetensors"}) {
            Files.copy(IMAGEBIND.resolve(f), work.resolve("imagebind").resolve(f));
        }
        String[] sys = TrainCliTest.run("sample-system", "--llama", LLAMA.toString(), "--feature-dim", "16", "--out",
                work.resolve("system").toString());
        assertEquals("0", sys[0], sys[1] + sys[2]);
        assertTrue(Files.isRegularFile(work.resolve("system/weights.safetensors")));

        for (int stage = 1; stage <= 3; stage++) {
            String[] r = TrainCliTest.run("train", "--stage", String.valueOf(stage), "--config",
                    work.resolve("samples-e2e/stage" + stage + ".json").toString());
            assertEquals("0", r[0], r[1] + r[2]);
            assertTrue(r[1].contains("step 12/12"), r[1]);
            assertTrue(r[1].contains("done: 12 steps"), r[1]);
            Path run = work.resolve("runs/stage" + stage);
            List<Double> losses = new ArrayList<>();
            for (String line : Files.readAllLines(run.resolve("metrics.jsonl"))) {
                JsonObject o = JsonParser.parseString(line).getAsJsonObject();
                if (o.has("loss") && !o.has("event")) {
                    losses.add(o.get("loss").getAsDouble());
                }
            }
            assertEquals(12, losses.size(), losses.toString());
            double first = (losses.get(0) + losses.get(1) + losses.get(2)) / 3;
            double last = (losses.get(9) + losses.get(10) + losses.get(11)) / 3;
            assertTrue(last < 0.9 * first, "stage " + stage + " loss did not fall: " + losses);
            try (SafetensorsFile ck = SafetensorsFile.open(run.resolve("checkpoint-12/trainable.safetensors"))) {
                String embed = stage == 3 ? "llama_model.base_model.model.model.embed_tokens.weight"
                        : "llama_model.model.embed_tokens.weight";
                assertTrue(ck.names().contains(embed), ck.names().toString());
                assertEquals(stage != 2, ck.names().contains("llama_proj.weight"), ck.names().toString());
                assertEquals(stage != 1, ck.names().contains("gen_text_hidden_fcs.0.query_embs"),
                        ck.names().toString());
                assertFalse(ck.names().stream().anyMatch(n -> n.endsWith("mlp.down_proj.weight")),
                        "frozen LLaMA weights are not saved");
            }
        }
    }

    private static void copyTree(Path from, Path to) throws IOException {
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
