package dev.nextgpt.cli;

import dev.nextgpt.runtime.io.SafetensorsFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CliTest {
    static final Path LLAMA = Path.of("../nextgpt-runtime/src/test/resources/golden/llama");

    private record Result(int code, String out, String err) {
    }

    private static Result run(String... args) {
        String[] r = CliRun.run(args);
        return new Result(Integer.parseInt(r[0]), r[1], r[2]);
    }

    @Test
    void infoDescribesTheLlamaFixture() {
        Result r = run("info", LLAMA.toString());
        assertEquals(0, r.code, r.err);
        assertTrue(r.out.contains("tensors: 21"), r.out);
        // 2 * 512 * 64 embeddings/head + 2 layers * (4*64*64 + 3*176*64 + 2*64) + 64 final norm
        long expected = 2L * 512 * 64 + 2L * (4 * 64 * 64 + 3 * 176 * 64 + 2 * 64) + 64;
        assertTrue(r.out.contains("parameters: " + expected), r.out);
        assertTrue(r.out.contains("model_type=\"llama\""), r.out);
    }

    @Test
    void convertCopiesEveryTensorExactly(@TempDir Path tmp) {
        Path out = tmp.resolve("copy.safetensors");
        Result r = run("convert", LLAMA.resolve("model.safetensors").toString(), out.toString());
        assertEquals(0, r.code, r.err);
        try (SafetensorsFile a = SafetensorsFile.open(LLAMA.resolve("model.safetensors"));
             SafetensorsFile b = SafetensorsFile.open(out)) {
            assertEquals(a.names(), b.names());
            for (String n : a.names()) {
                assertEquals(a.info(n), b.info(n));
                assertArrayEquals(a.readFloats(n), b.readFloats(n), 0f, n);
            }
        }
    }

    @Test
    void missingPathIsATypedErrorWithExitCode1(@TempDir Path tmp) {
        Result r = run("info", tmp.resolve("nope").toString());
        assertEquals(1, r.code);
        assertTrue(r.err.contains("does not exist") && r.err.contains("nope"), r.err);
    }

    @Test
    void unknownComponentKindListsKnownKinds(@TempDir Path tmp) throws Exception {
        Result r = run("component", "no-such-kind", "--output", tmp.resolve("o.safetensors").toString());
        assertEquals(1, r.code);
        assertTrue(r.err.contains("unknown component kind 'no-such-kind'"), r.err);
        assertTrue(Files.notExists(tmp.resolve("o.safetensors")));
    }
}
