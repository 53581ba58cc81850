package dev.nextgpt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

class OptionsTest {

    private static void rejects(String field, String value, Executable e) {
        InvalidInputException ex = assertThrows(InvalidInputException.class, e);
        assertTrue(ex.getMessage().contains(field), () -> "message should name " + field + ": " + ex.getMessage());
        assertTrue(ex.getMessage().contains(value), () -> "message should name " + value + ": " + ex.getMessage());
    }

    @Test
    void textDefaultsAreTheLegacyDemoValues() {
        TextGenerationOptions d = TextGenerationOptions.defaults();
        assertEquals(246, d.maxNewTokens());
        assertEquals(1.0, d.temperature());
        assertEquals(0.01, d.topP());
        assertEquals(0, d.topK());
        assertEquals(1.0, d.repetitionPenalty());
        assertNull(d.seed());
        assertEquals(List.of(), d.stopStrings());
        assertEquals(false, d.greedy());
    }

    @Test
    void textBoundaries() {
        TextGenerationOptions d = TextGenerationOptions.defaults();
        assertEquals(1, d.withMaxNewTokens(1).maxNewTokens());
        assertEquals(65536, d.withMaxNewTokens(65536).maxNewTokens());
        rejects("TextGenerationOptions.maxNewTokens", "0", () -> d.withMaxNewTokens(0));
        rejects("TextGenerationOptions.maxNewTokens", "65537", () -> d.withMaxNewTokens(65537));
        assertEquals(1e-6, d.withTemperature(1e-6).temperature());
        assertEquals(100.0, d.withTemperature(100).temperature());
        rejects("TextGenerationOptions.temperature", "0.0", () -> d.withTemperature(0));
        rejects("TextGenerationOptions.temperature", "NaN", () -> d.withTemperature(Double.NaN));
        rejects("TextGenerationOptions.temperature", "100.5", () -> d.withTemperature(100.5));
        assertEquals(1.0, d.withTopP(1.0).topP());
        rejects("TextGenerationOptions.topP", "0.0", () -> d.withTopP(0));
        rejects("TextGenerationOptions.topP", "1.0001", () -> d.withTopP(1.0001));
        assertEquals(0, d.withTopK(0).topK());
        rejects("TextGenerationOptions.topK", "-1", () -> d.withTopK(-1));
        rejects("TextGenerationOptions.repetitionPenalty", "0.0", () -> d.withRepetitionPenalty(0));
        rejects("TextGenerationOptions.repetitionPenalty", "Infinity",
                () -> d.withRepetitionPenalty(Double.POSITIVE_INFINITY));
        rejects("TextGenerationOptions.stopStrings", "[###, ]", () -> d.withStopStrings("###", ""));
        assertEquals(42L, d.withSeed(42L).seed());
        assertTrue(d.withGreedy(true).greedy());
    }

    @Test
    void stopStringsAreCopied() {
        List<String> stops = new ArrayList<>(List.of("###"));
        TextGenerationOptions o = TextGenerationOptions.defaults().withStopStrings(stops);
        stops.add("changed");
        assertEquals(List.of("###"), o.stopStrings());
        assertThrows(UnsupportedOperationException.class, () -> o.stopStrings().add("x"));
    }

    @Test
    void imageBoundaries() {
        ImageGenerationOptions d = ImageGenerationOptions.defaults();
        assertEquals(50, d.steps());
        assertEquals(7.5, d.guidanceScale());
        assertNull(d.width());
        assertNull(d.height());
        assertEquals(1, d.withSteps(1).steps());
        assertEquals(1000, d.withSteps(1000).steps());
        rejects("ImageGenerationOptions.steps", "0", () -> d.withSteps(0));
        rejects("ImageGenerationOptions.steps", "1001", () -> d.withSteps(1001));
        assertEquals(0.0, d.withGuidanceScale(0).guidanceScale());
        rejects("ImageGenerationOptions.guidanceScale", "-0.1", () -> d.withGuidanceScale(-0.1));
        assertEquals(512, d.withSize(512, 768).width());
        assertEquals(768, d.withSize(512, 768).height());
        assertEquals(8, d.withSize(8, 4096).width());
        rejects("ImageGenerationOptions.width", "513", () -> d.withSize(513, 512));
        rejects("ImageGenerationOptions.height", "0", () -> d.withSize(512, 0));
        rejects("ImageGenerationOptions.width", "4104", () -> d.withSize(4104, 512));
        assertEquals("blurry", d.withNegativePrompt("blurry").negativePrompt());
        assertEquals(7L, d.withSeed(7L).seed());
    }

    @Test
    void videoBoundaries() {
        VideoGenerationOptions d = VideoGenerationOptions.defaults();
        assertEquals(50, d.steps());
        assertEquals(7.5, d.guidanceScale());
        assertEquals(24, d.frames());
        assertEquals(320, d.height());
        assertEquals(576, d.width());
        assertEquals(8.0, d.fps());
        rejects("VideoGenerationOptions.frames", "0", () -> d.withFrames(0));
        assertEquals(1, d.withFrames(1).frames());
        rejects("VideoGenerationOptions.fps", "0.0", () -> d.withFps(0));
        rejects("VideoGenerationOptions.height", "321", () -> d.withSize(576, 321));
        rejects("VideoGenerationOptions.width", "577", () -> d.withSize(577, 320));
        rejects("VideoGenerationOptions.steps", "-3", () -> d.withSteps(-3));
        rejects("VideoGenerationOptions.guidanceScale", "101.0", () -> d.withGuidanceScale(101));
    }

    @Test
    void audioBoundaries() {
        AudioGenerationOptions d = AudioGenerationOptions.defaults();
        assertEquals(50, d.steps());
        assertEquals(7.5, d.guidanceScale());
        assertEquals(9.0, d.seconds());
        assertEquals(60.0, d.withSeconds(60).seconds());
        assertEquals(0.001, d.withSeconds(0.001).seconds());
        rejects("AudioGenerationOptions.seconds", "0.0", () -> d.withSeconds(0));
        rejects("AudioGenerationOptions.seconds", "60.01", () -> d.withSeconds(60.01));
        rejects("AudioGenerationOptions.steps", "0", () -> d.withSteps(0));
    }

    @Test
    void aggregateCopiesOnlyOnePart() {
        GenerationOptions g = GenerationOptions.defaults()
                .withAudio(AudioGenerationOptions.defaults().withSeconds(5));
        assertEquals(5.0, g.audio().seconds());
        assertEquals(GenerationOptions.defaults().image(), g.image());
        assertEquals(GenerationOptions.defaults().text(), g.text());
        assertThrows(InvalidInputException.class, () -> g.withVideo(null));
    }
}
