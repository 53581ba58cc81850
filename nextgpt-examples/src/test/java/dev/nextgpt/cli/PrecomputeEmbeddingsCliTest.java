package dev.nextgpt.cli;

import dev.nextgpt.train.data.CaptionEmbeddings;
import dev.nextgpt.train.data.NpyArray;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code nextgpt precompute-embeddings} on the golden SD pipeline. */
class PrecomputeEmbeddingsCliTest {
    static final Path SD = Path.of("../nextgpt-runtime/src/test/resources/golden/stable-diffusion");

    @Test
    void writesOneFp16FilePerRecord(@TempDir Path tmp) throws Exception {
        Path data = tmp.resolve("cc3m.json");
        Files.writeString(data, "[{\"caption\": \"a red bus\", \"id\": \"1\", \"image_name\": \"1.jpg\"},"
                + " {\"caption\": \"Two dogs\", \"id\": \"2\", \"image_name\": \"2.jpg\"}]");
        String[] r = TrainCliTest.run("precompute-embeddings", "--decoder", SD.toString(), "--kind", "sd", "--data",
                data.toString(), "--out", tmp.resolve("embed").toString(), "--batch-size", "1");
        assertEquals("0", r[0], r[1] + r[2]);
        assertTrue(r[1].contains("wrote 2 embeddings [77, 48]"), r[1]);
        NpyArray two = NpyArray.read(tmp.resolve("embed/2.jpg.npy"));
        assertArrayEquals(new long[] {77, 48}, two.shape());
        try (CaptionEmbeddings emb = CaptionEmbeddings.load(SD, CaptionEmbeddings.Kind.SD)) {
            float[] direct = emb.embed(List.of("Two dogs")).get(0);
            for (int i = 0; i < direct.length; i++) {
                assertEquals(dev.nextgpt.runtime.io.TensorConversions.halfToFloat(
                        dev.nextgpt.runtime.io.TensorConversions.floatToHalf(direct[i])), two.data()[i], 0f);
            }
        }
        String[] bad = TrainCliTest.run("precompute-embeddings", "--decoder", SD.toString(), "--kind", "dalle",
                "--data", data.toString(), "--out", tmp.toString());
        assertEquals("1", bad[0]);
        assertTrue(bad[2].contains("dalle"), bad[2]);
    }
}
