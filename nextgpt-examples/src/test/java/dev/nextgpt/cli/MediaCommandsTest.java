package dev.nextgpt.cli;

import dev.nextgpt.AudioPart;
import dev.nextgpt.VideoPart;
import dev.nextgpt.runtime.media.Mp4VideoDecoder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code nextgpt video} and {@code nextgpt audio} on the golden tiny Zeroscope / AudioLDM folders. */
class MediaCommandsTest {
    static final Path GOLDEN = Path.of("../nextgpt-runtime/src/test/resources/golden");

    private static String[] run(String... args) {
        return CliRun.run(args);
    }

    @Test
    void videoFromTextWritesGifAndMp4(@TempDir Path tmp) {
        Path gif = tmp.resolve("v.gif");
        String[] r = run("video", "--decoder", GOLDEN.resolve("zeroscope").toString(), "--prompt", "a bird flying",
                "--frames", "2", "--steps", "2", "--height", "16", "--width", "24", "--seed", "3", "--out",
                gif.toString());
        assertEquals("0", r[0], r[1] + r[2]);
        assertTrue(r[1].contains("wrote " + gif.toAbsolutePath()), r[1]);
        VideoPart v = VideoPart.readGif(gif);
        assertEquals(2, v.frames().size());
        assertEquals(24, v.frames().get(0).width());
        assertEquals(16, v.frames().get(0).height());

        Path mp4 = tmp.resolve("v.mp4");
        r = run("video", "--decoder", GOLDEN.resolve("zeroscope").toString(), "--prompt", "a bird flying",
                "--frames", "2", "--steps", "1", "--height", "16", "--width", "24", "--guidance", "1", "--out",
                mp4.toString());
        assertEquals("0", r[0], r[1] + r[2]);
        Mp4VideoDecoder.DecodedVideo back = Mp4VideoDecoder.decode(mp4);
        assertEquals(2, back.frames().size());
        assertEquals(8.0, back.fps(), 1e-6);

        r = run("video", "--decoder", GOLDEN.resolve("zeroscope").toString(), "--prompt", "x", "--out",
                tmp.resolve("v.avi").toString());
        assertEquals("1", r[0]);
        assertTrue(r[2].contains(".gif or .mp4"), r[2]);
    }

    @Test
    void audioFromTextWritesWav(@TempDir Path tmp) {
        Path wav = tmp.resolve("a.wav");
        String[] r = run("audio", "--decoder", GOLDEN.resolve("audioldm").toString(), "--prompt", "birds singing",
                "--seconds", "0.05", "--steps", "2", "--negative-prompt", "noise", "--out", wav.toString());
        assertEquals("0", r[0], r[1] + r[2]);
        assertTrue(r[1].contains("wrote " + wav.toAbsolutePath()), r[1]);
        AudioPart a = AudioPart.fromFile(wav);
        assertEquals(16000, a.sampleRate());
        assertTrue(a.frameCount() > 0 && a.durationSeconds() < 0.2, a.toString());
        boolean nonZero = false;
        for (float x : a.toMono()) {
            nonZero |= x != 0f;
        }
        assertTrue(nonZero, "the waveform is not silent");
    }
}
