package dev.nextgpt.cli;

import dev.nextgpt.runtime.io.SafetensorsFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code nextgpt train-check} on the training fixture. */
class TrainCliTest {
    static final Path FIXTURE = Path.of("../nextgpt-train/src/test/resources/golden/nextgpt-train");

    static String[] run(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = Main.execute(args);
            return new String[] {String.valueOf(code), out.toString(StandardCharsets.UTF_8),
                    err.toString(StandardCharsets.UTF_8)};
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
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
}
