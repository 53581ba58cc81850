package dev.nextgpt.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DemoCommandTest {
    static final Path E2E = Path.of("../nextgpt-runtime/src/test/resources/golden/nextgpt-e2e/system");

    private static String[] run(String... args) {
        return CliRun.run(args);
    }

    @Test
    void demoWritesTextAndEveryProducedMedia(@TempDir Path tmp) {
        Path out = tmp.resolve("out");
        String[] r = run("demo", "--prompt", "show me something", "--image",
                E2E.resolve("media/bird_image.jpg").toString(), "--audio", E2E.resolve("media/bird_audio.wav").toString(),
                "--out", out.toString(), "--steps", "2", "--frames", "3", "--seconds", "0.2");
        assertEquals("0", r[0], r[1] + r[2]);
        assertTrue(r[1].contains("RANDOM weights"), r[1]);
        assertTrue(r[1].contains("media above are noise"), r[1]);
        assertTrue(Files.isRegularFile(out.resolve("answer.txt")));
        for (String f : new String[] {"image_2.png", "video_3.gif", "video_3.mp4", "audio_4.wav"}) {
            assertTrue(Files.isRegularFile(out.resolve(f)), f + ": " + r[1]);
            assertTrue(r[1].contains("wrote " + out.resolve(f)), r[1]);
        }
        dev.nextgpt.VideoPart gif = dev.nextgpt.VideoPart.readGif(out.resolve("video_3.gif"));
        assertEquals(3, gif.frames().size());
        assertEquals(64, gif.frames().get(0).width());
        dev.nextgpt.AudioPart wav = dev.nextgpt.AudioPart.fromFile(out.resolve("audio_4.wav"));
        assertEquals(16000, wav.sampleRate());
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
