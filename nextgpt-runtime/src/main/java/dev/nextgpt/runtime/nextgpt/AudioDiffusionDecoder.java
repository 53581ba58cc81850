package dev.nextgpt.runtime.nextgpt;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.AudioPart;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.audioldm.AudioLdmPipeline;
import dev.nextgpt.runtime.diffusion.UNet2DConditionConfig;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * The audio decoder of NExT-GPT: {@code AudioLDMPipeline} called with {@code prompt_embeds = gen_emb.view(1, D)}
 * (the audio TextFcLayer's single query), used as the UNet's class labels as given (the pipeline does not
 * re-normalise given embeddings); the unconditional branch is the pipeline's own L2-normalised CLAP embedding of
 * {@code ""} (or of the requested negative prompt). The waveform is mono at the vocoder's sampling rate (16 kHz).
 */
public final class AudioDiffusionDecoder implements ModalityDecoder {
    private final AudioLdmPipeline pipeline;

    /** Wraps a pipeline, owned from now on. */
    public AudioDiffusionDecoder(AudioLdmPipeline pipeline) {
        this.pipeline = pipeline;
    }

    /** Loads an AudioLDM folder ({@code unet vae vocoder scheduler text_encoder tokenizer}). */
    public static AudioDiffusionDecoder load(Path folder) {
        return new AudioDiffusionDecoder(AudioLdmPipeline.load(folder));
    }

    /**
     * The conditioning shape an AudioLDM folder accepts, {@code [1, projection_class_embeddings_input_dim]}, read
     * from {@code unet/config.json} only (no weights).
     */
    public static long[] conditioningShapeOf(Path folder) {
        Path cfg = folder.resolve("unet").resolve("config.json");
        if (!Files.isRegularFile(cfg)) {
            throw new ModelFormatException("audio decoder folder " + folder + " has no unet/config.json (expected a "
                    + "diffusers AudioLDMPipeline layout: unet, vae, vocoder, scheduler, text_encoder, tokenizer)");
        }
        return new long[] {1, width(UNet2DConditionConfig.read(cfg), cfg.toString())};
    }

    private static int width(UNet2DConditionConfig c, String source) {
        if (c.projectionClassEmbeddingsInputDim() == null) {
            throw new ModelFormatException(source + ": an AudioLDM UNet needs projection_class_embeddings_input_dim "
                    + "(class_embed_type simple_projection) for the CLAP conditioning");
        }
        return c.projectionClassEmbeddingsInputDim();
    }

    public AudioLdmPipeline pipeline() {
        return pipeline;
    }

    @Override
    public Modality modality() {
        return Modality.AUDIO;
    }

    @Override
    public long[] conditioningShape() {
        return new long[] {1, width(pipeline.unet().config(), "AudioLDM unet")};
    }

    @Override
    public Output decode(NDArray conditioning, Options options, Progress progress, BooleanSupplier cancelled) {
        Options o = DecoderSupport.orDefaults(options);
        Progress p = DecoderSupport.orNone(progress);
        long[] want = conditioningShape();
        // NExT-GPT's audio conditioning is [1, 1, D] viewed as [1, D]
        NDArray cond = conditioning.getShape().size() == want[1] ? conditioning.reshape(want) : conditioning;
        if (!cond.getShape().equals(new Shape(want))) {
            throw new InvalidInputException("audio decoder conditioning must be " + new Shape(want) + " (or [1, 1, "
                    + want[1] + "]; CLAP projection width) but is " + conditioning.getShape());
        }
        AudioLdmPipeline.Options po = AudioLdmPipeline.Options.defaults();
        if (o.steps() != null) {
            po = po.withSteps(o.steps());
        }
        if (o.guidanceScale() != null) {
            po = po.withGuidance(o.guidanceScale());
        }
        if (o.seed() != null) {
            po = po.withSeed(o.seed());
        }
        po = po.withAudioLengthInS(o.seconds());
        NDManager out = conditioning.getManager();
        try (NDManager scope = out.newSubManager()) {
            NDArray negative = null;
            if (DecoderSupport.hasNegativePrompt(o) && po.guidance() > 1.0) {
                negative = pipeline.encodePrompts(scope, List.of(o.negativePrompt()));
            }
            AudioLdmPipeline.Result r = pipeline.generate(scope, cond, negative, o.initialLatents(), po,
                    step -> p.onStep(step.index() + 1, step.total()), cancelled);
            float[] samples = r.audio().get(0).toFloatArray();
            Map<String, NDArray> tensors = new LinkedHashMap<>();
            tensors.put("audio.prompt_embeds", DecoderSupport.keep(cond, out));
            tensors.put("audio.final_latents", DecoderSupport.keep(r.latents(), out));
            tensors.put("audio.waveform", DecoderSupport.keep(r.audio(), out));
            return new Output(AudioPart.ofMono(samples, pipeline.samplingRate()), tensors);
        }
    }

    @Override
    public void close() {
        pipeline.close();
    }
}
