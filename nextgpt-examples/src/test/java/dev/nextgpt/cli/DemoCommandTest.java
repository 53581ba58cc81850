package dev.nextgpt.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DemoCommandTest {
    static final Path E2E = Path.of("../nextgpt-runtime/src/test/resources/golden/nextgpt-e2e/system");

    private static String[] run(String... args) {
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
    void demoWritesTextAndEveryProducedMedia(@TempDir Path tmp) {
        Path out = tmp.resolve("out");
        String[] r = run("demo", "--prompt", "show me something", "--image",
                E2E.resolve("media/bird_image.jpg").toString(), "--audio", E2E.resolve("media/bird_audio.wav").toString(),
                "--out", out.toString());
        assertEquals("0", r[0], r[1] + r[2]);
        assertTrue(r[1].contains("RANDOM weights"), r[1]);
        assertTrue(r[1].contains("no video decoder"), r[1]);
        assertTrue(r[1].contains("no audio decoder"), r[1]);
        assertTrue(Files.isRegularFile(out.resolve("answer.txt")));
        assertTrue(Files.isRegularFile(out.resolve("image_2.png")), r[1]);
        assertTrue(Files.isRegularFile(out.resolve("video_request_3.safetensors")), r[1]);
        assertTrue(Files.isRegularFile(out.resolve("audio_request_4.safetensors")), r[1]);
        assertTrue(r[1].contains("wrote " + out.resolve("image_2.png")), r[1]);
    }

    @Test
    void oneShotChatOnTheLegacyFixtureSystem(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("out");
        String[] r = run("chat", "--system", E2E.toString(), "--prompt", "hello, who are you?", "--out",
                out.toString());
        assertEquals("0", r[0], r[1] + r[2]);
        // the fixture's text-only case (golden nextgpt-e2e d_text_only)
        assertEquals("I am a tiny assistant.", Files.readString(out.resolve("answer.txt")).strip());
    }
}
