package dev.nextgpt.runtime.nextgpt;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.ImagePart;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.clip.ClipBpeTokenizer;
import dev.nextgpt.runtime.cliptext.ClipTextModel;
import dev.nextgpt.runtime.diffusion.AutoencoderKL;
import dev.nextgpt.runtime.diffusion.UNet2DCondition;
import dev.nextgpt.runtime.config.JsonConfig;
import dev.nextgpt.runtime.diffusion.StableDiffusionPipeline;
import dev.nextgpt.runtime.diffusion.UNet2DConditionConfig;
import dev.nextgpt.runtime.diffusion.scheduler.SchedulerConfig;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;

/**
 * The image decoder of NExT-GPT: diffusers' {@code StableDiffusionPipeline} as the legacy {@code custom_sd.py} runs it
 * when called with {@code prompt_embeds} (reference §5): classifier-free guidance against the pipeline's own text
 * encoding of the empty prompt (padded to the tokenizer's context length), the folder's own scheduler, latents
 * {@code [1, C, sample_size, sample_size]}, decode with {@code 1/0.18215} (hard-coded in {@code custom_sd}), then
 * {@code (x/2+0.5).clamp(0,1)}. Defaults: 50 steps, guidance 7.5. No safety checker.
 *
 * <p>This is NExT-GPT glue over {@link StableDiffusionPipeline} (the one SD implementation); the negative
 * embedding is computed once and cached by the pipeline.
 */
public final class StableDiffusionDecoder implements ModalityDecoder {
    /** The VAE scale {@code custom_sd.decode_latents} hard-codes. */
    public static final float LEGACY_LATENT_SCALE = 0.18215f;
    public static final int DEFAULT_STEPS = 50;
    public static final double DEFAULT_GUIDANCE = 7.5;

    private final StableDiffusionPipeline pipeline;
    private final int defaultSteps;

    /**
     * Assembles the decoder from built parts; takes ownership of {@code unet}, {@code vae} and {@code textEncoder}
     * (kept for negative prompts). The empty-prompt negative is encoded now.
     */
    public StableDiffusionDecoder(UNet2DCondition unet, AutoencoderKL vae, ClipTextModel textEncoder,
                                  ClipBpeTokenizer tokenizer, SchedulerConfig schedulerConfig, int defaultSteps) {
        this(new StableDiffusionPipeline(unet, vae, schedulerConfig, textEncoder, tokenizer::encode), defaultSteps);
    }

    /** Wraps a pipeline (owned from now on) that can encode the empty prompt. */
    public StableDiffusionDecoder(StableDiffusionPipeline pipeline, int defaultSteps) {
        this.pipeline = pipeline;
        this.defaultSteps = defaultSteps;
        NDArray neg = pipeline.emptyPromptEmbeds();
        int d = pipeline.unet().config().crossAttentionDim()[0];
        if (neg.getShape().get(2) != d) {
            pipeline.close();
            throw new ModelFormatException("SD text encoder width " + neg.getShape().get(2)
                    + " differs from the UNet cross_attention_dim " + d);
        }
    }

    /** Loads a diffusers SD folder ({@code unet/ vae/ text_encoder/ tokenizer/ scheduler/}). */
    public static StableDiffusionDecoder load(Path folder) {
        for (String sub : new String[] {"unet", "vae", "text_encoder", "tokenizer", "scheduler"}) {
            if (!Files.isDirectory(folder.resolve(sub))) {
                throw new ModelFormatException("Stable Diffusion folder " + folder + " lacks the sub-folder '" + sub
                        + "'");
            }
        }
        StableDiffusionPipeline p = StableDiffusionPipeline.load(folder);
        try {
            return new StableDiffusionDecoder(p, DEFAULT_STEPS);
        } catch (RuntimeException e) {
            p.close();
            throw e;
        }
    }

    /**
     * The conditioning shape an SD folder accepts, {@code [1, 77, unet cross_attention_dim]}, from
     * {@code unet/config.json} only (no weights). The token count is the text encoder's
     * {@code max_position_embeddings} when its config is present.
     */
    public static long[] conditioningShapeOf(Path folder) {
        Path cfg = folder.resolve("unet").resolve("config.json");
        if (!Files.isRegularFile(cfg)) {
            throw new ModelFormatException("image decoder folder " + folder + " has no unet/config.json (expected a "
                    + "diffusers StableDiffusionPipeline layout)");
        }
        long tokens = 77;
        Path te = folder.resolve("text_encoder").resolve("config.json");
        if (Files.isRegularFile(te)) {
            tokens = JsonConfig.read(te).getInt("max_position_embeddings", 77);
        }
        return new long[] {1, tokens, UNet2DConditionConfig.read(cfg).crossAttentionDim()[0]};
    }

    public StableDiffusionPipeline pipeline() {
        return pipeline;
    }

    @Override
    public Modality modality() {
        return Modality.IMAGE;
    }

    @Override
    public long[] conditioningShape() {
        return new long[] {1, negativeEmbeds().getShape().get(1), pipeline.unet().config().crossAttentionDim()[0]};
    }

    /** The empty-prompt embedding {@code [1, 77, D]} used as the CFG negative. */
    public NDArray negativeEmbeds() {
        return pipeline.emptyPromptEmbeds();
    }

    /** Latent shape {@code [1, C, s, s]} at the default size. */
    public long[] latentShape() {
        int s = pipeline.unet().config().sampleSize();
        return new long[] {1, pipeline.vae().config().latentChannels(), s, s};
    }

    @Override
    public Output decode(NDArray conditioning, Options options, Progress progress, BooleanSupplier cancelled) {
        Options o = DecoderSupport.orDefaults(options);
        Progress p = DecoderSupport.orNone(progress);
        long[] want = conditioningShape();
        NDArray cond = DecoderSupport.tokenConditioning(conditioning, want, "image", "UNet");
        NDManager out = conditioning.getManager();
        try (NDManager scope = out.newSubManager()) {
            NDArray c = cond.toType(DataType.FLOAT32, true);
            c.attach(scope);
            NDList perLoop = new NDList();
            StableDiffusionPipeline.Options po = new StableDiffusionPipeline.Options()
                    .steps(o.steps() != null ? o.steps() : defaultSteps)
                    .guidanceScale(o.guidanceScale() != null ? o.guidanceScale() : DEFAULT_GUIDANCE)
                    .seed(o.seed() != null ? o.seed() : 0L)
                    .latentScale(LEGACY_LATENT_SCALE)
                    .cancelled(cancelled)
                    .stepLatents((latents, i) -> {
                        NDArray copy = latents.duplicate();
                        copy.attach(scope);
                        perLoop.add(copy);
                    })
                    .listener((i, total, t) -> p.onStep(i + 1, total));
            if (o.height() != null) {
                po.height(o.height());
            }
            if (o.width() != null) {
                po.width(o.width());
            }
            if (o.initialLatents() != null) {
                po.latents(o.initialLatents());
            }
            if (DecoderSupport.hasNegativePrompt(o)) {
                po.negativePromptEmbeds(pipeline.encodePrompt(o.negativePrompt(), scope));
            }
            StableDiffusionPipeline.Result r;
            try {
                r = pipeline.generate(c, po, scope);
            } catch (CancellationException e) {
                throw new CancellationException("image decoding cancelled: " + e.getMessage());
            }
            NDArray imageFloat = r.image();
            NDArray uint8 = r.imageUint8();
            Shape is = imageFloat.getShape();
            int h = (int) is.get(1);
            int w = (int) is.get(2);
            ImagePart part = ImagePart.ofRgbBytes(w, h, uint8.get(0).toByteArray());
            Map<String, NDArray> tensors = new LinkedHashMap<>();
            tensors.put("sd.prompt_embeds", DecoderSupport.keep(c, out));
            tensors.put("sd.per_loop_latents", DecoderSupport.keep(NDArrays.stack(perLoop, 0).squeeze(1), out));
            tensors.put("sd.final_latents", DecoderSupport.keep(r.latents(), out));
            tensors.put("sd.image_float", DecoderSupport.keep(imageFloat, out));
            tensors.put("sd.image_uint8", DecoderSupport.keep(uint8.get(0), out));
            return new Output(part, tensors);
        }
    }

    @Override
    public void close() {
        pipeline.close();
    }
}
