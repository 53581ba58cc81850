package dev.nextgpt.runtime.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.runtime.cliptext.ClipTextModel;
import dev.nextgpt.runtime.component.ComponentPaths;
import dev.nextgpt.runtime.component.ComponentRequest;
import dev.nextgpt.runtime.component.ComponentRunner;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Component runners of the image decoder ({@code nextgpt component <kind> --model DIR ...}). {@code --model} is the
 * pipeline folder or the component's own folder.
 */
public final class DiffusionRunners {
    private DiffusionRunners() {
    }

    /** Moves the results to {@code manager}. */
    private static Map<String, NDArray> keep(Map<String, NDArray> out, NDManager manager) {
        for (NDArray a : out.values()) {
            a.attach(manager);
        }
        return out;
    }

    /** {@code clip-text}: {@code input_ids} → {@code last_hidden_state}, {@code pooler_output} (+ {@code text_embeds}). */
    public static final class ClipText implements ComponentRunner {
        @Override
        public String kind() {
            return "clip-text";
        }

        @Override
        public String description() {
            return "CLIP text encoder (SD text_encoder/): input_ids [B,S] -> last_hidden_state, pooler_output";
        }

        @Override
        public Map<String, NDArray> run(ComponentRequest request, NDManager manager) {
            try (ClipTextModel model = ClipTextModel.load(ComponentPaths.subfolderOrSelf(request.model(), "text_encoder"));
                 NDManager sm = manager.newSubManager()) {
                NDArray ids = request.input("input_ids");
                ids.tempAttach(sm);
                ClipTextModel.Output o = model.forward(ids);
                Map<String, NDArray> out = new LinkedHashMap<>();
                out.put("last_hidden_state", o.lastHiddenState());
                out.put("pooler_output", o.poolerOutput());
                if (o.textEmbeds() != null) {
                    out.put("text_embeds", o.textEmbeds());
                }
                return keep(out, manager);
            }
        }
    }

    /** {@code unet2d}: {@code sample}, {@code timestep}, optional {@code encoder_hidden_states}, {@code class_labels}. */
    public static final class Unet2d implements ComponentRunner {
        @Override
        public String kind() {
            return "unet2d";
        }

        @Override
        public String description() {
            return "UNet2DConditionModel: sample [B,C,H,W], timestep (one or B values, int or float), optional"
                    + " encoder_hidden_states [B,N,D], class_labels -> sample";
        }

        @Override
        public Map<String, NDArray> run(ComponentRequest request, NDManager manager) {
            try (UNet2DCondition unet = UNet2DCondition.load(ComponentPaths.subfolderOrSelf(request.model(), "unet"));
                 NDManager sm = manager.newSubManager()) {
                NDArray sample = request.input("sample");
                NDArray t = request.input("timestep");
                NDArray ehs = request.optionalInput("encoder_hidden_states").orElse(null);
                NDArray cls = request.optionalInput("class_labels").orElse(null);
                for (NDArray a : new NDArray[] {sample, t, ehs, cls}) {
                    if (a != null) {
                        a.tempAttach(sm);
                    }
                }
                Map<String, NDArray> out = new LinkedHashMap<>();
                out.put("sample", unet.forward(sample, t, ehs, cls));
                return keep(out, manager);
            }
        }
    }

    /** {@code vae-decode}: {@code latent} as the pipeline holds it (divided by scaling_factor here) → {@code sample}. */
    public static final class VaeDecode implements ComponentRunner {
        @Override
        public String kind() {
            return "vae-decode";
        }

        @Override
        public String description() {
            return "AutoencoderKL decode: latent [B,4,h,w] (pipeline scale; divided by scaling_factor) -> sample"
                    + " [B,3,H,W] in about [-1,1], image (NHWC [0,1]), image_uint8";
        }

        @Override
        public Map<String, NDArray> run(ComponentRequest request, NDManager manager) {
            try (AutoencoderKL vae = AutoencoderKL.load(ComponentPaths.subfolderOrSelf(request.model(), "vae"));
                 NDManager sm = manager.newSubManager()) {
                NDArray latent = request.input("latent");
                latent.tempAttach(sm);
                NDArray decoded = vae.decode(vae.decoderInput(latent));
                NDArray image = AutoencoderKL.postprocess(decoded);
                Map<String, NDArray> out = new LinkedHashMap<>();
                out.put("sample", decoded);
                out.put("image", image);
                out.put("image_uint8", AutoencoderKL.toUint8(image));
                return keep(out, manager);
            }
        }
    }

    /** {@code vae-encode}: {@code sample} in [-1, 1] → {@code mean}, {@code std} (and {@code logvar}). */
    public static final class VaeEncode implements ComponentRunner {
        @Override
        public String kind() {
            return "vae-encode";
        }

        @Override
        public String description() {
            return "AutoencoderKL encode: sample [B,3,H,W] in [-1,1] -> mean, std, logvar of the latent distribution";
        }

        @Override
        public Map<String, NDArray> run(ComponentRequest request, NDManager manager) {
            try (AutoencoderKL vae = AutoencoderKL.load(ComponentPaths.subfolderOrSelf(request.model(), "vae"));
                 NDManager sm = manager.newSubManager()) {
                NDArray x = request.input("sample");
                x.tempAttach(sm);
                AutoencoderKL.LatentDist d = vae.encode(x);
                Map<String, NDArray> out = new LinkedHashMap<>();
                out.put("mean", d.mean());
                out.put("std", d.std());
                out.put("logvar", d.logvar());
                return keep(out, manager);
            }
        }
    }

    /** {@code sd-pipeline}: prompt embeddings → final latents and image. */
    public static final class SdPipeline implements ComponentRunner {
        @Override
        public String kind() {
            return "sd-pipeline";
        }

        @Override
        public String description() {
            return "StableDiffusionPipeline: prompt_embeds [B,77,D], optional negative_prompt_embeds (else CLIP of"
                    + " \"\"), optional latents; options steps, guidance, height, width, seed, eta,"
                    + " scheduler=ddim|pndm|dpm|dpm-legacy|euler|euler-ancestral -> latents, image, image_uint8";
        }

        @Override
        public Map<String, NDArray> run(ComponentRequest request, NDManager manager) {
            try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(request.model())) {
                StableDiffusionPipeline.Options o = new StableDiffusionPipeline.Options()
                        .steps(request.intOption("steps", 50))
                        .guidanceScale(request.doubleOption("guidance", 7.5))
                        .seed(request.intOption("seed", 0))
                        .eta(request.doubleOption("eta", 0.0))
                        .scheduler(request.option("scheduler").orElse(null));
                request.option("height").ifPresent(v -> o.height(request.intOption("height", 0)));
                request.option("width").ifPresent(v -> o.width(request.intOption("width", 0)));
                request.optionalInput("negative_prompt_embeds").ifPresent(o::negativePromptEmbeds);
                request.optionalInput("latents").ifPresent(o::latents);
                NDArray pe = request.input("prompt_embeds");
                if (pe.getShape().dimension() == 2) {
                    throw new InvalidInputException("prompt_embeds must be [B, N, D] but is " + pe.getShape());
                }
                StableDiffusionPipeline.Result r = pipe.generate(pe, o, manager);
                Map<String, NDArray> out = new LinkedHashMap<>();
                out.put("latents", r.latents());
                out.put("image", r.image());
                out.put("image_uint8", r.imageUint8());
                return out;
            }
        }
    }
}
