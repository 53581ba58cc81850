package dev.nextgpt.runtime.nextgpt;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.ImagePart;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.VideoPart;
import dev.nextgpt.runtime.clip.ClipBpeTokenizer;
import dev.nextgpt.runtime.zeroscope.TextToVideoPipeline;
import dev.nextgpt.runtime.zeroscope.UNet3DConditionModel;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * The video decoder of NExT-GPT: Zeroscope's {@code TextToVideoSDPipeline} called with {@code prompt_embeds}
 * {@code [1, 77, D]} (the video TextFcLayer output), classifier-free guidance against the pipeline's own text
 * encoding of {@code ""} (or of the requested negative prompt), then {@code tensor2vid} frames, exported at
 * {@link TextToVideoPipeline#FPS} frames per second (reference §5).
 */
public final class VideoDiffusionDecoder implements ModalityDecoder {
    /** Conditioning tokens NExT-GPT produces (the CLIP context length). */
    public static final int TOKENS = 77;

    private final TextToVideoPipeline pipeline;
    private final int tokens;

    /** Wraps a pipeline (owned from now on) whose conditioning has {@code tokens} rows. */
    public VideoDiffusionDecoder(TextToVideoPipeline pipeline, int tokens) {
        this.pipeline = pipeline;
        this.tokens = tokens;
    }

    /**
     * The conditioning shape a Zeroscope folder accepts, {@code [1, 77, unet cross_attention_dim]}, read from
     * {@code unet/config.json} only (no weights), so widths can be validated before loading.
     */
    public static long[] conditioningShapeOf(Path folder) {
        Path cfg = folder.resolve("unet").resolve("config.json");
        if (!Files.isRegularFile(cfg)) {
            throw new ModelFormatException("video decoder folder " + folder + " has no unet/config.json (expected a "
                    + "diffusers TextToVideoSDPipeline layout: unet, vae, scheduler, text_encoder, tokenizer)");
        }
        return new long[] {1, TOKENS, UNet3DConditionModel.Config.read(cfg).crossAttentionDim()};
    }

    /**
     * Loads a Zeroscope folder; the prompt tokenizer is the folder's CLIP BPE tokenizer when it has
     * {@code merges.txt}, otherwise the empty-prompt-only tokenizer (then negative prompts must be empty).
     */
    public static VideoDiffusionDecoder load(Path folder) {
        Path tok = folder.resolve("tokenizer");
        TextToVideoPipeline.PromptTokenizer t = null;
        if (Files.isRegularFile(tok.resolve("merges.txt"))) {
            ClipBpeTokenizer bpe = ClipBpeTokenizer.fromFolder(tok);
            t = TextToVideoPipeline.emptyPromptTokenizer(bpe::encode);
        } else if (Files.isRegularFile(tok.resolve("vocab.json"))) {
            t = TextToVideoPipeline.emptyPromptTokenizer(
                    dev.nextgpt.runtime.diffusion.PromptTokenizer.emptyPromptOnly(tok));
        }
        return new VideoDiffusionDecoder(TextToVideoPipeline.load(folder, t), TOKENS);
    }

    public TextToVideoPipeline pipeline() {
        return pipeline;
    }

    @Override
    public Modality modality() {
        return Modality.VIDEO;
    }

    @Override
    public long[] conditioningShape() {
        return new long[] {1, tokens, pipeline.unet().config().crossAttentionDim()};
    }

    @Override
    public Output decode(NDArray conditioning, Options options, Progress progress, BooleanSupplier cancelled) {
        Options o = DecoderSupport.orDefaults(options);
        Progress p = DecoderSupport.orNone(progress);
        long[] want = conditioningShape();
        NDArray cond = DecoderSupport.tokenConditioning(conditioning, want, "video", "UNet3D");
        TextToVideoPipeline.Options po = TextToVideoPipeline.Options.defaults();
        if (o.steps() != null) {
            po = po.withSteps(o.steps());
        }
        if (o.guidanceScale() != null) {
            po = po.withGuidance(o.guidanceScale());
        }
        if (o.seed() != null) {
            po = po.withSeed(o.seed());
        }
        po = po.withSize(o.height(), o.width()).withNumFrames(o.frames());
        double fps = o.fps() != null ? o.fps() : TextToVideoPipeline.FPS;
        NDManager out = conditioning.getManager();
        try (NDManager scope = out.newSubManager()) {
            NDArray negative = null;
            if (DecoderSupport.hasNegativePrompt(o) && po.guidance() > 1.0) {
                negative = pipeline.encodePrompt(scope, o.negativePrompt(), (int) want[1]);
            }
            TextToVideoPipeline.Result r = pipeline.generate(scope, cond, negative, o.initialLatents(), po,
                    step -> p.onStep(step.index() + 1, step.total()), cancelled);
            NDArray frames = r.framesUint8(); // (F, H, W, 3)
            Shape fs = frames.getShape();
            int f = (int) fs.get(0);
            int h = (int) fs.get(1);
            int w = (int) fs.get(2);
            byte[] all = frames.toByteArray();
            int frameBytes = h * w * 3;
            List<ImagePart> images = new ArrayList<>(f);
            for (int i = 0; i < f; i++) {
                images.add(ImagePart.ofRgbBytes(w, h, Arrays.copyOfRange(all, i * frameBytes, (i + 1) * frameBytes)));
            }
            Map<String, NDArray> tensors = new LinkedHashMap<>();
            tensors.put("video.prompt_embeds", DecoderSupport.keep(cond, out));
            tensors.put("video.final_latents", DecoderSupport.keep(r.latents(), out));
            tensors.put("video.frames_uint8", DecoderSupport.keep(frames, out));
            return new Output(VideoPart.ofFrames(images, fps), tensors);
        }
    }

    @Override
    public void close() {
        pipeline.close();
    }
}
