package dev.nextgpt.runtime.nextgpt;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.runtime.component.ComponentRequest;
import dev.nextgpt.runtime.component.ComponentRunner;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Component runner {@code nextgpt-legacy}: the whole legacy NExT-GPT first demo turn on a system folder
 * ({@code --model SYSTEM_DIR}). Options {@code prompt=TEXT} (required), {@code image=FILE}, {@code audio=FILE},
 * {@code video=FILE}, {@code max_new_tokens=N} (246). Optional input {@code sd.latents_init} runs the image decoder
 * from those latents (without it the image decoder is skipped). Outputs {@code input.inputs_embeds},
 * {@code generated_ids}, per produced modality {@code img.projector_output} / {@code vid.decoder_prompt_embeds} /
 * {@code aud.decoder_prompt_embeds} (and {@code *.projector_output}), and {@code sd.final_latents},
 * {@code sd.image_float} when the image decoder ran.
 */
public final class LegacyNextGptRunner implements ComponentRunner {

    @Override
    public String kind() {
        return "nextgpt-legacy";
    }

    @Override
    public String description() {
        return "legacy NExT-GPT end to end on a system folder: options prompt=TEXT [image=FILE audio=FILE video=FILE "
                + "max_new_tokens=N steps=N guidance=G]; optional input sd.latents_init -> input.inputs_embeds, "
                + "generated_ids, img.projector_output, vid/aud.decoder_prompt_embeds, sd.final_latents, "
                + "sd.image_float";
    }

    @Override
    public Map<String, NDArray> run(ComponentRequest request, NDManager manager) {
        String text = request.option("prompt").orElseThrow(() -> new InvalidInputException(
                "option prompt=TEXT is required"));
        LegacyPromptBuilder.MediaPaths media = new LegacyPromptBuilder.MediaPaths(list(request.option("image")),
                list(request.option("audio")), list(request.option("video")));
        Optional<NDArray> latents = request.optionalInput("sd.latents_init");
        LegacyNextGpt.LoadOptions lo = LegacyNextGpt.LoadOptions.defaults().withImageDecoder(latents.isPresent());
        Map<String, NDArray> out = new LinkedHashMap<>();
        try (LegacyNextGpt model = LegacyNextGpt.load(request.model(), lo)) {
            String prompt = LegacyPromptBuilder.demoPrompt(List.of(), media, text);
            LegacyNextGpt.Result r = model.generate(LegacyNextGpt.Request.of(prompt, null)
                    .withMaxNewTokens(request.intOption("max_new_tokens", 246)), manager);
            out.put("input.inputs_embeds", r.inputsEmbeds());
            out.put("generated_ids", manager.create(r.generatedIds()));
            for (LegacyNextGpt.Signal s : r.signals()) {
                String key = s.span().modality().shortKey();
                out.put(key + ".projector_output", s.projectorOutput());
                out.put(key + ".decoder_prompt_embeds", s.conditioning());
                if (s.span().modality() == Modality.IMAGE && latents.isPresent()
                        && model.decoder(Modality.IMAGE).isPresent()) {
                    ModalityDecoder.Options o = ModalityDecoder.Options.defaults()
                            .withSteps(request.intOption("steps", 4))
                            .withGuidanceScale(request.doubleOption("guidance", 7.5))
                            .withInitialLatents(latents.get());
                    ModalityDecoder.Output d = model.decode(s, o, ModalityDecoder.Progress.NONE, () -> false);
                    out.put("sd.final_latents", d.tensors().get("sd.final_latents"));
                    out.put("sd.image_float", d.tensors().get("sd.image_float"));
                }
            }
        }
        return out;
    }

    private static List<String> list(Optional<String> v) {
        return v.map(List::of).orElse(List.of());
    }
}
