package dev.nextgpt.runtime.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.runtime.io.SafetensorsFile;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;

import static org.junit.jupiter.api.Assertions.*;

/** Case 5 of the stable-diffusion fixture: the full pipeline per scheduler (public SD-2 style and v15). */
class StableDiffusionPipelineTest {
    private static final double TOL = 5e-5;

    @Test
    void publicPipelineAllSchedulers() {
        try (NDManager m = SdGolden.manager();
             StableDiffusionPipeline pipe = StableDiffusionPipeline.load(SdGolden.root());
             SafetensorsFile f = SdGolden.open("cases/case5_pipeline.safetensors")) {
            run(pipe, f, m, "ddim", null, true, false);
            run(pipe, f, m, "pndm", "pndm", true, false);
            run(pipe, f, m, "euler", "euler", true, false);
            run(pipe, f, m, "euler_ancestral", "euler-ancestral", true, true);
            run(pipe, f, m, "dpmsolver_multistep", "dpm", true, false);
            // NExT-GPT's call style: prompt_embeds only, the negative half encoded from "" by the folder's encoder
            run(pipe, f, m, "ddim", null, false, false);
        }
    }

    @Test
    void legacyDiffusers017DpmSolver() {
        try (NDManager m = SdGolden.manager();
             StableDiffusionPipeline pipe = StableDiffusionPipeline.load(SdGolden.root());
             SafetensorsFile f = SdGolden.open("cases/case5_pipeline.safetensors");
             SafetensorsFile legacy = SdGolden.open("cases/legacy_diffusers0.17_dpmsolver_multistep.safetensors")) {
            StableDiffusionPipeline.Result r = pipe.generate(f.load(m, "input.prompt_embeds"), options(f, m, true)
                    .scheduler("dpm-legacy"), m);
            SdGolden.assertClose("legacy dpm final_latents", r.latents(), legacy.load(m, "case5.final_latents"), TOL,
                    0);
            SdGolden.assertClose("legacy dpm image_float", r.image(), legacy.load(m, "case5.image_float"), TOL, 0);
            SdGolden.assertUint8Close("legacy dpm image_uint8", r.imageUint8(), legacy.load(m, "case5.image_uint8"));
        }
    }

    @Test
    void v15Pipeline() {
        try (NDManager m = SdGolden.manager();
             StableDiffusionPipeline pipe = StableDiffusionPipeline.load(SdGolden.root().resolve("v15"));
             SafetensorsFile f = SdGolden.open("v15/cases/case5_pipeline.safetensors")) {
            run(pipe, f, m, "pndm", null, true, false);
            run(pipe, f, m, "ddim", "ddim", true, false);
            run(pipe, f, m, "euler", "euler", true, false);
        }
    }

    @Test
    void validationProgressAndCancellation() {
        try (NDManager m = SdGolden.manager();
             StableDiffusionPipeline pipe = StableDiffusionPipeline.load(SdGolden.root());
             SafetensorsFile f = SdGolden.open("cases/case5_pipeline.safetensors")) {
            NDArray pe = f.load(m, "input.prompt_embeds");
            assertThrows(InvalidInputException.class, () -> pipe.generate(pe, options(f, m, true).steps(0), m));
            assertThrows(InvalidInputException.class, () -> pipe.generate(pe, options(f, m, true).guidanceScale(-1),
                    m));
            assertThrows(InvalidInputException.class, () -> pipe.generate(pe, options(f, m, true).height(36), m));
            assertThrows(InvalidInputException.class, () -> pipe.generate(pe, options(f, m, true).width(64), m));
            assertThrows(InvalidInputException.class, () -> pipe.generate(pe.get(0), options(f, m, true), m));
            List<Integer> seen = new ArrayList<>();
            pipe.generate(pe, options(f, m, true).steps(3).listener((i, n, t) -> seen.add(i)), m);
            assertEquals(List.of(0, 1, 2), seen);
            int[] calls = {0};
            assertThrows(CancellationException.class, () -> pipe.generate(pe, options(f, m, true).steps(3)
                    .cancelled(() -> calls[0]++ >= 1), m));
            // seeded latents: deterministic without given latents
            StableDiffusionPipeline.Result a = pipe.generate(pe, new StableDiffusionPipeline.Options().steps(2)
                    .seed(7).negativePromptEmbeds(f.load(m, "input.negative_prompt_embeds")), m);
            StableDiffusionPipeline.Result b = pipe.generate(pe, new StableDiffusionPipeline.Options().steps(2)
                    .seed(7).negativePromptEmbeds(f.load(m, "input.negative_prompt_embeds")), m);
            assertEquals(0.0, SdGolden.eMax(a.latents(), b.latents()));
            assertArrayEquals(new long[] {1, 32, 32, 3}, a.image().getShape().getShape());
        }
    }

    private static StableDiffusionPipeline.Options options(SafetensorsFile f, NDManager m, boolean withNegative) {
        StableDiffusionPipeline.Options o = new StableDiffusionPipeline.Options().steps(4).guidanceScale(7.5)
                .height(32).width(32).latents(f.load(m, "input.latents"));
        if (withNegative) {
            o.negativePromptEmbeds(f.load(m, "input.negative_prompt_embeds"));
        }
        return o;
    }

    private static void run(StableDiffusionPipeline pipe, SafetensorsFile f, NDManager m, String key,
                            String scheduler, boolean withNegative, boolean ancestral) {
        StableDiffusionPipeline.Options o = options(f, m, withNegative).scheduler(scheduler);
        if (ancestral) {
            NDArray noise = f.load(m, key + ".per_step_ancestral_noise");
            o.stepNoise(noise::get);
        }
        StableDiffusionPipeline.Result r = pipe.generate(f.load(m, "input.prompt_embeds"), o, m);
        String what = key + (withNegative ? "" : " (negative from \"\")");
        SdGolden.assertClose(what + " final_latents", r.latents(), f.load(m, key + ".final_latents"), TOL, 0);
        SdGolden.assertClose(what + " image_float", r.image(), f.load(m, key + ".image_float"), TOL, 0);
        SdGolden.assertUint8Close(what + " image_uint8", r.imageUint8(), f.load(m, key + ".image_uint8"));
    }
}
