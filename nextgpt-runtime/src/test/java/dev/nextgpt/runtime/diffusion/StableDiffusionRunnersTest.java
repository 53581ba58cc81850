package dev.nextgpt.runtime.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.runtime.component.ComponentRegistry;
import dev.nextgpt.runtime.component.ComponentRequest;
import dev.nextgpt.runtime.io.SafetensorsFile;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** The image-decoder component runners, found through the registry, on the fixture cases. */
class StableDiffusionRunnersTest {

    private static Map<String, NDArray> run(String kind, Path model, Map<String, NDArray> in, Map<String, String> opts,
                                            NDManager m) {
        return ComponentRegistry.get(kind).run(new ComponentRequest(model, in, opts, Map.of()), m);
    }

    @Test
    void runners() {
        Path root = SdGolden.root();
        try (NDManager m = SdGolden.manager()) {
            try (SafetensorsFile f = SdGolden.open("cases/case1_text_encoder.safetensors")) {
                Map<String, NDArray> out = run("clip-text", root, Map.of("input_ids", f.load(m, "input.input_ids")),
                        Map.of(), m);
                SdGolden.assertClose("runner clip-text last_hidden_state", out.get("last_hidden_state"),
                        f.load(m, "expected.last_hidden_state"), 1e-5, 5e-6);
                SdGolden.assertClose("runner clip-text pooler_output", out.get("pooler_output"),
                        f.load(m, "expected.pooler_output"), 1e-5, 5e-6);
            }
            try (SafetensorsFile f = SdGolden.open("cases/case2_unet.safetensors")) {
                Map<String, NDArray> in = new HashMap<>();
                in.put("sample", f.load(m, "input.sample"));
                in.put("timestep", f.load(m, "input.timestep_c"));
                in.put("encoder_hidden_states", f.load(m, "input.encoder_hidden_states"));
                Map<String, NDArray> out = run("unet2d", root.resolve("unet"), in, Map.of(), m);
                SdGolden.assertClose("runner unet2d", out.get("sample"), f.load(m, "expected.out_c"), 1e-5, 5e-6);
            }
            try (SafetensorsFile f = SdGolden.open("cases/case3_vae.safetensors")) {
                Map<String, NDArray> out = run("vae-decode", root, Map.of("latent", f.load(m, "input.latents")),
                        Map.of(), m);
                SdGolden.assertClose("runner vae-decode", out.get("sample"), f.load(m, "expected.decoded"), 1e-5,
                        5e-6);
                out = run("vae-encode", root.resolve("vae"),
                        Map.of("sample", f.load(m, "expected.preprocessed_image")), Map.of(), m);
                SdGolden.assertClose("runner vae-encode mean", out.get("mean"), f.load(m, "expected.latent_dist_mean"),
                        1e-5, 5e-6);
                SdGolden.assertClose("runner vae-encode std", out.get("std"), f.load(m, "expected.latent_dist_std"),
                        1e-5, 5e-6);
            }
            try (SafetensorsFile f = SdGolden.open("cases/case5_pipeline.safetensors")) {
                Map<String, NDArray> in = new HashMap<>();
                in.put("prompt_embeds", f.load(m, "input.prompt_embeds"));
                in.put("latents", f.load(m, "input.latents"));
                Map<String, NDArray> out = run("sd-pipeline", root, in, Map.of("steps", "4", "guidance", "7.5",
                        "height", "32", "width", "32", "scheduler", "euler"), m);
                SdGolden.assertClose("runner sd-pipeline euler latents", out.get("latents"),
                        f.load(m, "euler.final_latents"), 5e-5, 0);
                SdGolden.assertClose("runner sd-pipeline euler image", out.get("image"),
                        f.load(m, "euler.image_float"), 5e-5, 0);
                SdGolden.assertUint8Close("runner sd-pipeline image_uint8", out.get("image_uint8"),
                        f.load(m, "euler.image_uint8"));
            }
            assertTrue(ComponentRegistry.all().keySet().containsAll(
                    java.util.List.of("clip-text", "unet2d", "vae-decode", "vae-encode", "sd-pipeline")));
        }
    }
}
