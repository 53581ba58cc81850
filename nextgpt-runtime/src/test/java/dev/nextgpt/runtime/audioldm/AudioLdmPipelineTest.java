package dev.nextgpt.runtime.audioldm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.runtime.diffusion.scheduler.DiffusionScheduler;
import dev.nextgpt.runtime.diffusion.scheduler.Schedulers;
import dev.nextgpt.runtime.io.SafetensorsFile;
import dev.nextgpt.runtime.testutil.Golden;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.*;

/**
 * AudioLDM pipeline against golden cases 3, 5, 6 and the scheduler tables, README criteria: mel decode 1e-4·s +
 * rel-L2 1e-5; prompt embeddings 1e-5; per-step tensors / final latents 1e-3·s + rel-L2 1e-4; e2e mel 1e-3·s;
 * e2e audio and waveform_full 2e-4.
 */
class AudioLdmPipelineTest {
    private static AudioLdmPipeline pipe;

    @BeforeAll
    static void load() {
        pipe = AudioLdmPipeline.load(AudioLdmGolden.root());
    }

    @AfterAll
    static void close() {
        pipe.close();
    }

    @Test
    void schedulerTablesMatch() {
        try (SafetensorsFile f = AudioLdmGolden.openCase("scheduler_tables");
             DiffusionScheduler s = Schedulers.fromPretrained(AudioLdmGolden.root().resolve("scheduler"))) {
            double b = Golden.maxAbsDiff(s.betas(), f.readFloats("betas"));
            double a = Golden.maxAbsDiff(s.alphasCumprod(), f.readFloats("alphas_cumprod"));
            System.out.printf("audioldm scheduler tables: betas %.2e, alphas_cumprod %.2e (tol 1e-6)%n", b, a);
            assertTrue(b <= 1e-6 && a <= 1e-6);
        }
    }

    @Test
    void case3MelVaeDecode() {
        try (NDManager m = NDManager.newBaseManager(); SafetensorsFile f = AudioLdmGolden.openCase("case3_vae_decode")) {
            assertEquals(4, pipe.lengths().vaeScaleFactor());
            NDArray mel = pipe.decodeLatents(f.load(m, "latents"));
            AudioLdmGolden.assertClose("case3 mel_spectrogram", mel, f, "mel_spectrogram", 1e-4, true, 1e-5);
        }
    }

    @Test
    void case5PromptEmbedsGivenNegativeFromEmptyPrompt() {
        try (NDManager m = NDManager.newBaseManager();
             SafetensorsFile f = AudioLdmGolden.openCase("case5_e2e_prompt_embeds")) {
            AudioLdmGolden.assertClose("case5 negative_prompt_embeds (CLAP of \"\")",
                    pipe.encodePrompts(m, List.of(""), 512), f, "negative_prompt_embeds", 1e-5, false, 0);
            List<Long> ts = new ArrayList<>();
            AudioLdmPipeline.Options o = AudioLdmPipeline.Options.defaults().withSteps(3).withGuidance(2.5)
                    .withAudioLengthInS(0.0117);
            AudioLdmPipeline.Result r = pipe.generate(m, f.load(m, "prompt_embeds"), null,
                    f.load(m, "initial_latents"), o, s -> {
                        ts.add(s.timestep());
                        String p = "step" + s.index() + "_";
                        AudioLdmGolden.assertClose("case5 " + p + "unet_input", s.latentModelInput(), f,
                                p + "unet_input", 1e-3, true, 1e-4);
                        AudioLdmGolden.assertClose("case5 " + p + "noise_pred_uncond", s.noisePredUncond(), f,
                                p + "noise_pred_uncond", 1e-3, true, 1e-4);
                        AudioLdmGolden.assertClose("case5 " + p + "noise_pred_text", s.noisePredText(), f,
                                p + "noise_pred_text", 1e-3, true, 1e-4);
                        AudioLdmGolden.assertClose("case5 " + p + "noise_pred_guided", s.noisePredGuided(), f,
                                p + "noise_pred_guided", 1e-3, true, 1e-4);
                        AudioLdmGolden.assertClose("case5 " + p + "latents_after", s.latentsAfter(), f,
                                p + "latents_after", 1e-3, true, 1e-4);
                    }, null);
            assertArrayEquals(f.readLongs("timesteps"), ts.stream().mapToLong(Long::longValue).toArray());
            AudioLdmGolden.assertClose("case5 final_latents", r.latents(), f, "final_latents", 1e-3, true, 1e-4);
            AudioLdmGolden.assertClose("case5 mel_spectrogram", r.melSpectrogram(), f, "mel_spectrogram", 1e-3, true,
                    0);
            AudioLdmGolden.assertClose("case5 waveform_full", r.waveformFull(), f, "waveform_full", 2e-4, false, 0);
            AudioLdmGolden.assertClose("case5 audio", r.audio(), f, "audio", 2e-4, false, 0);
        }
    }

    @Test
    void case6TextPromptDefaultLength() {
        try (NDManager m = NDManager.newBaseManager(); SafetensorsFile f = AudioLdmGolden.openCase("case6_e2e_text")) {
            String prompt = AudioLdmGolden.caseMetadata(f).get("prompt").getAsString();
            NDArray cfg = pipe.encodePrompts(m, List.of("")).concat(pipe.encodePrompts(m, List.of(prompt)), 0);
            AudioLdmGolden.assertClose("case6 prompt_embeds_cfg", cfg, f, "prompt_embeds_cfg", 1e-5, false, 0);
            List<Long> ts = new ArrayList<>();
            AudioLdmPipeline.Result r = pipe.generate(m, prompt, f.load(m, "initial_latents"),
                    AudioLdmPipeline.Options.defaults().withSteps(3), s -> {
                        ts.add(s.timestep());
                        AudioLdmGolden.assertClose("case6 step" + s.index() + "_latents_after", s.latentsAfter(), f,
                                "step" + s.index() + "_latents_after", 1e-3, true, 1e-4);
                    }, null);
            assertArrayEquals(f.readLongs("timesteps"), ts.stream().mapToLong(Long::longValue).toArray());
            AudioLdmGolden.assertClose("case6 final_latents", r.latents(), f, "final_latents", 1e-3, true, 1e-4);
            AudioLdmGolden.assertClose("case6 mel_spectrogram", r.melSpectrogram(), f, "mel_spectrogram", 1e-3, true,
                    0);
            assertEquals(322, r.waveformFull().getShape().get(1));
            AudioLdmGolden.assertClose("case6 audio", r.audio(), f, "audio", 2e-4, false, 0);
        }
    }

    @Test
    void seededNoiseAndCancellation() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray pe = m.randomNormal(new Shape(1, 512));
            AtomicBoolean cancel = new AtomicBoolean();
            List<float[]> inputs = new ArrayList<>();
            assertThrows(CancellationException.class, () -> pipe.generate(m, pe, pe, null,
                    AudioLdmPipeline.Options.defaults().withSteps(4).withSeed(3), s -> {
                        assertEquals(new Shape(2, 8, 8, 4), s.latentModelInput().getShape()); // default 0.02 s
                        inputs.add(s.latentModelInput().get("0:1").toFloatArray());
                        cancel.set(true);
                    }, cancel::get));
            assertEquals(1, inputs.size());
            assertArrayEquals(AudioLdmPipeline.gaussian(m, new Shape(1, 8, 8, 4), 3).toFloatArray(), inputs.get(0));
        }
    }

    @Test
    void rejectsBadInputs() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray pe = m.zeros(new Shape(1, 512));
            AudioLdmPipeline.Options o = AudioLdmPipeline.Options.defaults().withSteps(1);
            assertThrows(InvalidInputException.class, () -> pipe.generate(m, pe, pe, m.zeros(new Shape(1, 8, 5, 4)),
                    o)); // default length needs 8x4 latents
            assertThrows(InvalidInputException.class, () -> pipe.generate(m, pe, m.zeros(new Shape(1, 16)), null, o));
            assertThrows(InvalidInputException.class, () -> pipe.generate(m, m.zeros(new Shape(1, 1, 512)), null,
                    null, o));
            assertThrows(InvalidInputException.class, () -> pipe.generate(m, pe, pe, null,
                    o.withAudioLengthInS(-1.0)));
        }
    }
}
