package dev.nextgpt.runtime.media;

import dev.nextgpt.runtime.io.SafetensorsFile;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Arrays;

import static dev.nextgpt.runtime.media.MediaFixtures.maxAbs;
import static dev.nextgpt.runtime.media.MediaFixtures.meanAbs;
import static dev.nextgpt.runtime.media.MediaFixtures.resource;
import static org.junit.jupiter.api.Assertions.*;

class AudioPreprocessorTest {

    @Test
    void birdAudioMatchesImageBindGolden() {
        AudioPreprocessor.Result r = new AudioPreprocessor().process(resource("golden/imagebind/media/bird_audio.wav"));
        try (SafetensorsFile f = SafetensorsFile.open(resource("golden/imagebind/preprocess/audio_bird.safetensors"))) {
            long[] ranges = f.readLongs("clip_sample_ranges");
            for (int i = 0; i < 3; i++) {
                assertEquals(ranges[2 * i], r.clipSampleRanges()[i][0]);
                assertEquals(ranges[2 * i + 1], r.clipSampleRanges()[i][1]);
            }
            float[] first = f.readFloats("resampled_waveform_first1000");
            float[] mine = new float[2000];
            System.arraycopy(r.resampled()[0], 0, mine, 0, 1000);
            System.arraycopy(r.resampled()[1], 0, mine, 1000, 1000);
            assertEquals(80000, r.resampled()[0].length);
            double rsErr = maxAbs(mine, first);
            System.out.println("audio_bird resampled max abs " + rsErr);
            assertTrue(rsErr <= 1e-5, "resampled max abs " + rsErr);
            float[] expected = f.readFloats("pixel_values");
            assertArrayEquals(new long[] {3, 1, 128, 204}, r.shape());
            double max = maxAbs(r.values(), expected);
            double mean = meanAbs(r.values(), expected);
            System.out.println("audio_bird pixel_values max abs " + max + " mean abs " + mean);
            assertTrue(max <= 0.02, "max abs " + max);
            assertTrue(mean <= 1e-4, "mean abs " + mean);
        }
    }

    @Test
    void projectorFixtureAudioClips() {
        String[] files = {"data/nextgpt-samples/assets/test.wav", "golden/imagebind/media/bird_audio.wav",
                "data/nextgpt-samples/T_X_pair_data/audiocap/audios/107819.wav"};
        float[] expected;
        try (SafetensorsFile f = SafetensorsFile.open(
                resource("golden/nextgpt-projectors/extra_imagebind_preprocessing/imagebind_audio_inputs.safetensors"))) {
            expected = f.readFloats("fbank_clips");
        }
        AudioPreprocessor p = new AudioPreprocessor();
        int per = 3 * 128 * 204;
        for (int i = 0; i < files.length; i++) {
            float[] mine = p.process(resource(files[i])).values();
            float[] exp = Arrays.copyOfRange(expected, i * per, (i + 1) * per);
            double max = maxAbs(mine, exp);
            System.out.println("extra audio " + files[i] + " max abs " + max + " mean abs " + meanAbs(mine, exp));
            assertTrue(max <= 1e-3, files[i] + " max abs " + max);
        }
    }

    @Test
    void clipSamplerUsesExactFractions() {
        assertArrayEquals(new int[][] {{0, 32000}, {24000, 56000}, {48000, 80000}},
                ClipSampler.sampleRanges(80000, 16000, 2, 3));
        // 9 s: [0,2], [3.5,5.5], [7,9]
        assertArrayEquals(new int[][] {{0, 32000}, {56000, 88000}, {112000, 144000}},
                ClipSampler.sampleRanges(144000, 16000, 2, 3));
        // shorter than a clip: three identical windows
        assertArrayEquals(new int[][] {{0, 32000}, {0, 32000}, {0, 32000}},
                ClipSampler.sampleRanges(16000, 16000, 2, 3));
    }

    @Test
    void inPlaceMeanSubtractionIsSharedBetweenOverlappingClips() {
        // Constant DC signal, 3 s: clips [0,2s), [0.5s,2.5s), [1s,3s). Each clip's own mean subtraction alone would
        // leave all zeros (every frame at the log floor). Because clip 0 shifts samples [0, 32000) in place, clip 1
        // sees a step at sample 32000 (its frame ~148) and only there gets energy.
        float[] x = new float[16000 * 3];
        Arrays.fill(x, 0.5f);
        AudioPreprocessor.Result r = new AudioPreprocessor().process(new float[][] {x}, 16000, null);
        float floor = (float) ((Math.log(1.1920928955078125e-07) + 4.268) / 9.138);
        int per = 128 * 204;
        float clip0 = r.values()[0 * per + 0 * 204 + 10];
        assertEquals(floor, clip0, 1e-5);
        int stepFrame = (32000 - 8000 - 400) / 160 + 1; // first frame that contains sample 32000
        float atStep = r.values()[per + 0 * 204 + stepFrame];
        float away = r.values()[per + 0 * 204 + 20];
        assertEquals(floor, away, 1e-5);
        assertTrue(atStep > floor + 0.5f, "the in-place shift must create a step in clip 1: " + atStep);
    }
}
