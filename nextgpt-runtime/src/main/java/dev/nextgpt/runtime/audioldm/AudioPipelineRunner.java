package dev.nextgpt.runtime.audioldm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.runtime.component.ComponentRequest;
import dev.nextgpt.runtime.component.ComponentRunner;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Component kind {@code audio-pipeline}: NExT-GPT's audio decoder ({@link AudioLdmPipeline}) on an AudioLDM
 * folder. Inputs {@code prompt_embeds} (B, P) (used as given), optional {@code negative_prompt_embeds} (else the
 * normalised CLAP embedding of {@code ""}), optional {@code latents} (else N(0,1) from option {@code seed}); or,
 * with no {@code prompt_embeds}, option {@code prompt=TEXT}. Options {@code steps} (10), {@code guidance} (2.5),
 * {@code audio_length_in_s} (pipeline default), {@code seed}, {@code eta}, {@code scheduler}. Outputs
 * {@code latents} (final), {@code mel_spectrogram} (B, 1, frames, bins), {@code audio} (B, samples) at 16 kHz.
 */
public final class AudioPipelineRunner implements ComponentRunner {

    @Override
    public String kind() {
        return "audio-pipeline";
    }

    @Override
    public String description() {
        return "AudioLDM text-to-audio: prompt_embeds [B,P] (+negative_prompt_embeds, latents) or --option prompt=TEXT;"
                + " options steps, guidance, audio_length_in_s, seed, eta, scheduler -> latents, mel_spectrogram,"
                + " audio";
    }

    @Override
    public Map<String, NDArray> run(ComponentRequest request, NDManager manager) {
        AudioLdmPipeline.Options o = AudioLdmPipeline.Options.defaults()
                .withSteps(request.intOption("steps", 10))
                .withGuidance(request.doubleOption("guidance", 2.5))
                .withAudioLengthInS(request.option("audio_length_in_s").isPresent()
                        ? request.doubleOption("audio_length_in_s", 0) : null)
                .withSeed(request.longOption("seed", 0))
                .withEta(request.doubleOption("eta", 0.0))
                .withScheduler(request.option("scheduler").orElse(null));
        NDArray latents = request.optionalInput("latents").orElse(null);
        try (AudioLdmPipeline pipe = AudioLdmPipeline.load(request.model())) {
            AudioLdmPipeline.Result r;
            if (request.optionalInput("prompt_embeds").isPresent()) {
                r = pipe.generate(manager, request.input("prompt_embeds"),
                        request.optionalInput("negative_prompt_embeds").orElse(null), latents, o, null, null);
            } else {
                String prompt = request.option("prompt").orElseThrow(() -> new InvalidInputException(
                        "audio-pipeline needs input tensor 'prompt_embeds' or option prompt=TEXT; inputs hold "
                                + request.inputs().keySet()));
                r = pipe.generate(manager, prompt, latents, o, null, null);
            }
            Map<String, NDArray> out = new LinkedHashMap<>();
            out.put("latents", r.latents());
            out.put("mel_spectrogram", r.melSpectrogram());
            out.put("audio", r.audio());
            return out;
        }
    }
}
