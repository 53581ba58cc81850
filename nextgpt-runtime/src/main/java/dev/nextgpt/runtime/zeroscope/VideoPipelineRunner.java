package dev.nextgpt.runtime.zeroscope;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.runtime.component.ComponentRequest;
import dev.nextgpt.runtime.component.ComponentRunner;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Component kind {@code video-pipeline}: NExT-GPT's text-to-video decoder ({@link TextToVideoPipeline}) on a
 * pipeline folder. Inputs {@code prompt_embeds} (B, L, D), optional {@code negative_prompt_embeds} (computed from
 * {@code ""} with the folder's tokenizer and text encoder when absent and guidance > 1), optional {@code latents} (else N(0,1) from option {@code seed}).
 * Options {@code steps} (50), {@code guidance} (9.0), {@code height}, {@code width}, {@code num_frames}
 * (from the latents, else sample_size·8 and 16), {@code seed}, {@code eta}, {@code scheduler}. Outputs
 * {@code latents} (final), {@code video} (B, 3, F, H, W) and {@code frames_uint8} (F, H, B·W, 3).
 */
public final class VideoPipelineRunner implements ComponentRunner {

    private final TextToVideoPipeline.PromptTokenizer tokenizer;

    /** The folder's special tokens encode the default negative {@code ""} (see {@link TextToVideoPipeline#load(java.nio.file.Path)}). */
    public VideoPipelineRunner() {
        this(null);
    }

    /** With an explicit CLIP tokenizer for the default negative prompt {@code ""}. */
    public VideoPipelineRunner(TextToVideoPipeline.PromptTokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    @Override
    public String kind() {
        return "video-pipeline";
    }

    @Override
    public String description() {
        return "Zeroscope text-to-video: prompt_embeds [B,L,D] (+negative_prompt_embeds, latents); options steps, "
                + "guidance, height, width, num_frames, seed, eta, scheduler -> latents, video, frames_uint8";
    }

    @Override
    public Map<String, NDArray> run(ComponentRequest request, NDManager manager) {
        TextToVideoPipeline.Options o = TextToVideoPipeline.Options.defaults()
                .withSteps(request.intOption("steps", 50))
                .withGuidance(request.doubleOption("guidance", 9.0))
                .withSize(optInt(request, "height"), optInt(request, "width"))
                .withNumFrames(optInt(request, "num_frames"))
                .withSeed(request.longOption("seed", 0))
                .withEta(request.doubleOption("eta", 0.0))
                .withScheduler(request.option("scheduler").orElse(null));
        try (TextToVideoPipeline pipe = tokenizer == null ? TextToVideoPipeline.load(request.model())
                : TextToVideoPipeline.load(request.model(), tokenizer)) {
            TextToVideoPipeline.Result r = pipe.generate(manager, request.input("prompt_embeds"),
                    request.optionalInput("negative_prompt_embeds").orElse(null),
                    request.optionalInput("latents").orElse(null), o);
            Map<String, NDArray> out = new LinkedHashMap<>();
            out.put("latents", r.latents());
            out.put("video", r.video());
            out.put("frames_uint8", r.framesUint8());
            return out;
        }
    }

    static Integer optInt(ComponentRequest request, String key) {
        return request.option(key).isPresent() ? request.intOption(key, 0) : null;
    }
}
