package dev.nextgpt.runtime.audioldm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonObject;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.runtime.io.SafetensorsFile;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** Length/shape arithmetic against the e2e cases' metadata (exact) and the README's l-full figures. */
class AudioLdmLengthsTest {

    @Test
    void tinyPipelineConfigs() {
        AudioLdmLengths l = AudioLdmLengths.fromPipeline(AudioLdmGolden.root());
        assertEquals(4, l.vaeScaleFactor());
        assertEquals(0.000625, l.vocoderUpsampleFactor(), 0.0);
        assertEquals(16, l.melBins());
        assertEquals(8, l.unetInChannels());
    }

    @Test
    void case5ExplicitLength() {
        AudioLdmLengths l = AudioLdmLengths.fromPipeline(AudioLdmGolden.root());
        try (SafetensorsFile f = AudioLdmGolden.openCase("case5_e2e_prompt_embeds")) {
            JsonObject meta = AudioLdmGolden.caseMetadata(f);
            double len = meta.get("audio_length_in_s").getAsDouble();
            AudioLdmLengths.Plan p = l.plan(len, 1);
            assertEquals(meta.get("height").getAsInt(), p.height());
            assertEquals(meta.get("original_waveform_length").getAsInt(), p.originalWaveformLength());
            assertEquals(meta.get("vae_scale_factor").getAsInt(), l.vaeScaleFactor());
            assertEquals(meta.get("vocoder_upsample_factor").getAsDouble(), l.vocoderUpsampleFactor(), 0.0);
            assertEquals(new Shape(f.info("initial_latents").shape()), p.latentShape());
            assertEquals(f.info("audio").dim(1), p.originalWaveformLength());
        }
    }

    @Test
    void case6DefaultLength() {
        AudioLdmLengths l = AudioLdmLengths.fromPipeline(AudioLdmGolden.root());
        try (SafetensorsFile f = AudioLdmGolden.openCase("case6_e2e_text")) {
            JsonObject meta = AudioLdmGolden.caseMetadata(f);
            assertTrue(meta.get("audio_length_in_s").isJsonNull());
            AudioLdmLengths.Plan p = l.plan(null, 1);
            assertEquals(meta.get("effective_audio_length_in_s").getAsDouble(), p.audioLengthInS(), 1e-15);
            assertEquals(meta.get("height").getAsInt(), p.height());
            assertEquals(meta.get("original_waveform_length").getAsInt(), p.originalWaveformLength());
            assertEquals(new Shape(f.info("initial_latents").shape()), p.latentShape());
            assertEquals(f.info("mel_spectrogram").dim(2), p.height());
        }
    }

    @Test
    void realLFullFigures() {
        // cvssp/audioldm-l-full: 3 VAE levels... block_out_channels 128,256,512 -> vae_sf 4; rates [5,4,2,2,2].
        int[] rates = {5, 4, 2, 2, 2};
        double f = AudioLdmLengths.vocoderUpsampleFactor(rates, 16000);
        AudioLdmLengths l = new AudioLdmLengths(AudioLdmLengths.vaeScaleFactor(3), 256, 8, 64, 16000, f);
        AudioLdmLengths.Plan p = l.plan(5.0, 2);
        assertEquals(500, p.height());
        assertEquals(80000, p.originalWaveformLength());
        assertEquals(new Shape(2, 8, 125, 16), p.latentShape());
        // height is truncated then rounded UP to a multiple of the VAE factor
        assertEquals(20, l.height(0.0117 * 16)); // 18.72 frames -> 18 -> 20
        assertEquals(16, l.height(0.16));
        assertThrows(InvalidInputException.class, () -> l.height(0));
        assertThrows(InvalidInputException.class, () -> l.height(Double.NaN));
        assertThrows(InvalidInputException.class, () -> l.height(0.001));
    }

    @Test
    void vocoderOutputLengthRule() {
        HifiGanVocoder.Config real = new HifiGanVocoder.Config(64, 16000, 1024, new int[] {5, 4, 2, 2, 2},
                new int[] {16, 16, 8, 4, 4}, new int[] {3, 7, 11}, new int[][] {{1, 3, 5}, {1, 3, 5}, {1, 3, 5}},
                0.1, false);
        assertEquals(80032, real.outputLength(500));
        assertEquals(160, real.hopLength());
    }

    @Test
    void melSqueezeAndCrop() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray vae = m.arange(2 * 1 * 3 * 4f).reshape(2, 1, 3, 4);
            NDArray mel = AudioLdmLengths.melFromVaeOutput(vae);
            assertEquals(new Shape(2, 3, 4), mel.getShape());
            assertEquals(vae.get(1, 0, 2, 3).getFloat(), mel.get(1, 2, 3).getFloat());
            assertThrows(InvalidInputException.class, () -> AudioLdmLengths.melFromVaeOutput(m.zeros(new Shape(2, 2,
                    3, 4))));
            NDArray wave = m.arange(10f).reshape(2, 5);
            NDArray crop = AudioLdmLengths.cropWaveform(wave, 3);
            assertArrayEquals(new float[] {0, 1, 2, 5, 6, 7}, crop.toFloatArray());
            assertEquals(new Shape(2, 5), AudioLdmLengths.cropWaveform(wave, 9).getShape());
        }
    }
}
