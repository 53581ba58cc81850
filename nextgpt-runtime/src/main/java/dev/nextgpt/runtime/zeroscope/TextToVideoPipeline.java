package dev.nextgpt.runtime.zeroscope;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.cliptext.ClipTextModel;
import dev.nextgpt.runtime.diffusion.AutoencoderKL;
import dev.nextgpt.runtime.diffusion.scheduler.DdimScheduler;
import dev.nextgpt.runtime.diffusion.GuidedDenoisingLoop;
import dev.nextgpt.runtime.diffusion.scheduler.DiffusionScheduler;
import dev.nextgpt.runtime.diffusion.scheduler.SchedulerConfig;
import dev.nextgpt.runtime.diffusion.scheduler.Schedulers;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;

/**
 * NExT-GPT's video decoder: the diffusers 0.17 {@code TextToVideoSDPipeline} (Zeroscope / ModelScope) on a folder
 * with {@code unet/} ({@link UNet3DConditionModel}), {@code vae/} ({@link AutoencoderKL}), {@code scheduler/} and,
 * optionally, {@code text_encoder/} (CLIP) for the negative prompt.
 *
 * <p>Loop: latents {@code (B, 4, F, H/8, W/8)} (given, or N(0,1) from the seed), scheduler timesteps, per step
 * {@code UNet(cat([latents, latents]), t, cat([negative, prompt]))}, guidance {@code uncond + g·(text − uncond)}
 * (only when {@code g > 1}), scheduler step. Decode: {@code latents · (1/scaling_factor)}, each frame through the
 * VAE decoder (in chunks; frames are independent), {@code video (B, 3, F, H, W)} in about [-1, 1], then
 * {@link VideoOutput#tensor2vidUint8} → {@code (F, H, B·W, 3)} uint8 frames, played at {@link #FPS}.
 *
 * <p>Given {@code prompt_embeds} are used as they are. Without {@code negative_prompt_embeds} the pipeline encodes
 * {@code ""} padded to the prompt's token count with its own text encoder, which needs a {@link PromptTokenizer}.
 */
public final class TextToVideoPipeline implements AutoCloseable {
    /** Frame rate of the exported video (NExT-GPT writes its mp4 at 8 fps). */
    public static final int FPS = 8;

    /** CLIP-style tokenization of one prompt: BOS … EOS, padded (or truncated) to exactly {@code length} ids. */
    @FunctionalInterface
    public interface PromptTokenizer {
        long[] encode(String text, int length);
    }

    /** Text → {@code (1, length, D)} hidden states, as the pipeline's text encoder produces them. */
    @FunctionalInterface
    public interface PromptEncoder {
        NDArray encode(NDManager manager, String text, int length);
    }

    /** What the listener sees after each step; the arrays are only valid during the callback. */
    public record Step(int index, int total, long timestep, NDArray latentModelInput, NDArray noisePredUncond,
                       NDArray noisePredText, NDArray latentsAfter) {
    }

    /** Called after every denoising step (progress, tracing). */
    @FunctionalInterface
    public interface StepListener {
        void onStep(Step step);
    }

    /**
     * Generation settings. {@code height}/{@code width}/{@code numFrames} may be null: taken from the given latents,
     * else {@code unet.sample_size · 8} and 16 frames (diffusers' defaults). {@code scheduler} null keeps the
     * folder's scheduler (DDIM for Zeroscope), otherwise a {@link Schedulers#byName} name.
     */
    public record Options(int steps, double guidance, Integer height, Integer width, Integer numFrames, long seed,
                          double eta, String scheduler, int decodeChunk) {
        public Options {
            if (steps < 1) {
                throw new InvalidInputException("steps must be >= 1 but is " + steps);
            }
            if (decodeChunk < 1) {
                throw new InvalidInputException("decodeChunk must be >= 1 but is " + decodeChunk);
            }
            if (eta < 0) {
                throw new InvalidInputException("eta must be >= 0 but is " + eta);
            }
        }

        /** diffusers' defaults: 50 steps, guidance 9.0, seed 0, eta 0, decode 8 frames at a time. */
        public static Options defaults() {
            return new Options(50, 9.0, null, null, null, 0L, 0.0, null, 8);
        }

        public Options withSteps(int v) {
            return new Options(v, guidance, height, width, numFrames, seed, eta, scheduler, decodeChunk);
        }

        public Options withGuidance(double v) {
            return new Options(steps, v, height, width, numFrames, seed, eta, scheduler, decodeChunk);
        }

        public Options withSize(Integer h, Integer w) {
            return new Options(steps, guidance, h, w, numFrames, seed, eta, scheduler, decodeChunk);
        }

        public Options withNumFrames(Integer v) {
            return new Options(steps, guidance, height, width, v, seed, eta, scheduler, decodeChunk);
        }

        public Options withSeed(long v) {
            return new Options(steps, guidance, height, width, numFrames, v, eta, scheduler, decodeChunk);
        }

        public Options withEta(double v) {
            return new Options(steps, guidance, height, width, numFrames, seed, v, scheduler, decodeChunk);
        }

        public Options withScheduler(String v) {
            return new Options(steps, guidance, height, width, numFrames, seed, eta, v, decodeChunk);
        }

        public Options withDecodeChunk(int v) {
            return new Options(steps, guidance, height, width, numFrames, seed, eta, scheduler, v);
        }
    }

    /**
     * @param latents     final latents (B, 4, F, h, w)
     * @param video       decoded video (B, 3, F, H, W), raw VAE output (about [-1, 1], unclamped)
     * @param framesUint8 {@code tensor2vid} frames (F, H, B·W, 3) uint8
     */
    public record Result(NDArray latents, NDArray video, NDArray framesUint8) {
    }

    private final UNet3DConditionModel unet;
    private final AutoencoderKL vae;
    private final SchedulerConfig schedulerConfig;
    private final ClipTextModel textEncoder;
    private final PromptEncoder promptEncoder;

    /**
     * @param textEncoder   the folder's CLIP text encoder (closed with the pipeline), or null
     * @param promptEncoder encodes {@code ""} for the default negative prompt, or null (negatives must be given)
     */
    public TextToVideoPipeline(UNet3DConditionModel unet, AutoencoderKL vae, SchedulerConfig schedulerConfig,
                               ClipTextModel textEncoder, PromptEncoder promptEncoder) {
        this.unet = unet;
        this.vae = vae;
        this.schedulerConfig = schedulerConfig;
        this.textEncoder = textEncoder;
        this.promptEncoder = promptEncoder;
    }

    /**
     * Loads a pipeline folder. The default negative prompt {@code ""} is tokenised from {@code tokenizer/}'s
     * special tokens ({@code [bos, eos, pad…]}, no BPE needed); other prompts need {@link #load(Path,
     * PromptTokenizer)} with the CLIP BPE tokenizer.
     */
    public static TextToVideoPipeline load(Path folder) {
        Path tok = folder.resolve("tokenizer");
        return load(folder, Files.isRegularFile(tok.resolve("vocab.json"))
                ? emptyPromptTokenizer(dev.nextgpt.runtime.diffusion.PromptTokenizer.emptyPromptOnly(tok)) : null);
    }

    /**
     * Adapts a tokenizer that pads to the model length ({@code model_max_length}) to {@code max_length = length}:
     * truncated, or extended with the last (pad) id, as {@code padding="max_length", truncation=True} gives for a
     * prompt shorter than both.
     */
    public static PromptTokenizer emptyPromptTokenizer(dev.nextgpt.runtime.diffusion.PromptTokenizer modelLength) {
        return (text, length) -> {
            long[] ids = modelLength.encode(text);
            if (ids.length == length) {
                return ids;
            }
            long[] out = java.util.Arrays.copyOf(ids, length);
            for (int i = ids.length; i < length; i++) {
                out[i] = ids[ids.length - 1];
            }
            return out;
        };
    }

    /**
     * Loads {@code unet/}, {@code vae/}, {@code scheduler/} and, when present, {@code text_encoder/}; with a
     * tokenizer the text encoder computes the default negative prompt {@code ""}.
     */
    public static TextToVideoPipeline load(Path folder, PromptTokenizer tokenizer) {
        if (!Files.isDirectory(folder)) {
            throw new InvalidInputException("text-to-video folder " + folder + " does not exist");
        }
        for (String sub : new String[] {"unet", "vae", "scheduler"}) {
            if (!Files.isDirectory(folder.resolve(sub))) {
                throw new ModelFormatException(folder + " has no '" + sub + "' folder (expected a diffusers"
                        + " TextToVideoSDPipeline layout: unet, vae, scheduler, text_encoder, tokenizer)");
            }
        }
        SchedulerConfig sc = SchedulerConfig.read(folder.resolve("scheduler"));
        UNet3DConditionModel unet = UNet3DConditionModel.load(folder.resolve("unet"));
        AutoencoderKL vae = null;
        ClipTextModel te = null;
        try {
            vae = AutoencoderKL.load(folder.resolve("vae"));
            if (Files.isDirectory(folder.resolve("text_encoder"))) {
                te = ClipTextModel.load(folder.resolve("text_encoder"));
            }
        } catch (RuntimeException e) {
            unet.close();
            if (vae != null) {
                vae.close();
            }
            throw e;
        }
        PromptEncoder pe = te != null && tokenizer != null ? clipEncoder(te, tokenizer) : null;
        return new TextToVideoPipeline(unet, vae, sc, te, pe);
    }

    /** The pipeline's prompt encoding: {@code text_encoder(tokenizer(text, length).input_ids)[0]}, no mask. */
    public static PromptEncoder clipEncoder(ClipTextModel model, PromptTokenizer tokenizer) {
        return (manager, text, length) -> {
            long[] ids = tokenizer.encode(text, length);
            if (ids.length != length) {
                throw new InvalidInputException("tokenizer returned " + ids.length + " ids for '" + text
                        + "', expected " + length);
            }
            NDArray in = manager.create(ids, new Shape(1, length));
            return model.forward(in).lastHiddenState();
        };
    }

    public UNet3DConditionModel unet() {
        return unet;
    }

    public AutoencoderKL vae() {
        return vae;
    }

    /** {@code 2^(len(vae.block_out_channels) - 1)}. */
    public int vaeScaleFactor() {
        return 1 << (vae.config().blockOutChannels().length - 1);
    }

    /** The text encoder's last hidden state for {@code text} padded to {@code length} tokens (1, length, D). */
    public NDArray encodePrompt(NDManager manager, String text, int length) {
        if (promptEncoder == null) {
            throw new InvalidInputException("this pipeline has no "
                    + (textEncoder == null ? "text_encoder" : "tokenizer")
                    + " to encode a prompt; pass negative_prompt_embeds (or guidance <= 1)");
        }
        return promptEncoder.encode(manager, text, length);
    }

    /** {@link #generate(NDManager, NDArray, NDArray, NDArray, Options, StepListener, BooleanSupplier)} without hooks. */
    public Result generate(NDManager manager, NDArray promptEmbeds, NDArray negativePromptEmbeds,
                           NDArray initialLatents, Options options) {
        return generate(manager, promptEmbeds, negativePromptEmbeds, initialLatents, options, null, null);
    }

    /**
     * Runs the text-to-video loop.
     *
     * @param manager              owns the returned arrays
     * @param promptEmbeds         (B, L, D) text hidden states
     * @param negativePromptEmbeds (B, L, D), or null: encoding of {@code ""} (when guidance > 1)
     * @param initialLatents       (B, 4, F, H/8, W/8), or null: N(0,1) from {@code options.seed()}
     * @param listener             per-step callback, or null
     * @param cancel               checked before each step; when set a {@link CancellationException} is thrown
     */
    public Result generate(NDManager manager, NDArray promptEmbeds, NDArray negativePromptEmbeds,
                           NDArray initialLatents, Options options, StepListener listener, BooleanSupplier cancel) {
        Shape ps = promptEmbeds.getShape();
        int d = unet.config().crossAttentionDim();
        if (ps.dimension() != 3 || ps.get(2) != d) {
            throw new InvalidInputException("prompt_embeds must be (B, L, " + d + ") but is " + ps);
        }
        long b = ps.get(0);
        boolean cfg = options.guidance() > 1.0;
        int sf = vaeScaleFactor();
        long[] geom = geometry(initialLatents, options, b, sf);
        long frames = geom[0];
        long lh = geom[1];
        long lw = geom[2];
        Shape latentShape = new Shape(b, unet.config().inChannels(), frames, lh, lw);

        try (DiffusionScheduler scheduler = Schedulers.byName(options.scheduler(), schedulerConfig);
             NDManager work = manager.newSubManager()) {
            if (scheduler instanceof DdimScheduler ddim) {
                ddim.setEta(options.eta());
            }
            scheduler.setSeed(options.seed());
            NDArray prompt = promptEmbeds.toType(DataType.FLOAT32, true);
            prompt.attach(work);
            NDArray context = prompt;
            if (cfg) {
                NDArray negative = negative(work, negativePromptEmbeds, ps);
                context = negative.concat(prompt, 0);
            }
            NDArray latents;
            if (initialLatents != null) {
                latents = initialLatents.toType(DataType.FLOAT32, true);
                latents.attach(work);
            } else {
                latents = gaussian(work, latentShape, options.seed());
            }
            NDArray encoderHiddenStates = context;
            latents = GuidedDenoisingLoop.run(scheduler, work, latents, options.steps(), options.guidance(),
                    (in, t) -> unet.forward(in, t, encoderHiddenStates),
                    listener == null ? null : s -> listener.onStep(new Step(s.index(), s.total(), s.timestep(),
                            s.latentModelInput(), s.noisePredUncond(), s.noisePredText(), s.prevLatents())),
                    cancel, "text-to-video");
            NDArray video = decode(work, latents, options.decodeChunk());
            NDArray frames8 = VideoOutput.tensor2vidUint8(video);
            latents.attach(manager);
            video.attach(manager);
            frames8.attach(manager);
            return new Result(latents, video, frames8);
        }
    }

    /** {@code decode_latents}: (B, 4, F, h, w) → (B, 3, F, H, W), frame by frame through the VAE decoder. */
    public NDArray decode(NDManager manager, NDArray latents) {
        return decode(manager, latents, 8);
    }

    /** {@link #decode(NDManager, NDArray)} decoding {@code chunk} frames per VAE call. */
    public NDArray decode(NDManager manager, NDArray latents, int chunk) {
        Shape s = latents.getShape();
        if (s.dimension() != 5 || s.get(1) != vae.config().latentChannels()) {
            throw new InvalidInputException("video latents must be (B, " + vae.config().latentChannels()
                    + ", F, h, w) but are " + s);
        }
        int frames = Math.toIntExact(s.get(2));
        try (NDManager work = manager.newSubManager()) {
            NDArray z = latents.toType(DataType.FLOAT32, true);
            z.attach(work);
            z = FrameLayout.videoToFrames(z.mul((float) (1.0 / vae.config().scalingFactor())));
            long n = z.getShape().get(0);
            NDList parts = new NDList();
            for (long start = 0; start < n; start += chunk) {
                long end = Math.min(n, start + chunk);
                parts.add(vae.decode(z.get("{}:{}", start, end)));
            }
            NDArray images = parts.size() == 1 ? parts.get(0) : NDArrays.concat(parts, 0);
            NDArray video = FrameLayout.toVideo(images, frames).duplicate();
            video.attach(manager);
            return video;
        }
    }

    private long[] geometry(NDArray initialLatents, Options o, long b, int sf) {
        if (initialLatents != null) {
            Shape ls = initialLatents.getShape();
            if (ls.dimension() != 5 || ls.get(0) != b || ls.get(1) != unet.config().inChannels()) {
                throw new InvalidInputException("latents must be (" + b + ", " + unet.config().inChannels()
                        + ", F, H/" + sf + ", W/" + sf + ") but are " + ls);
            }
            check(o.numFrames(), ls.get(2), "num_frames", ls);
            check(o.height(), ls.get(3) * sf, "height", ls);
            check(o.width(), ls.get(4) * sf, "width", ls);
            return new long[] {ls.get(2), ls.get(3), ls.get(4)};
        }
        int h = o.height() != null ? o.height() : unet.config().sampleSize() * sf;
        int w = o.width() != null ? o.width() : unet.config().sampleSize() * sf;
        int f = o.numFrames() != null ? o.numFrames() : 16;
        if (h <= 0 || w <= 0 || h % 8 != 0 || w % 8 != 0) {
            throw new InvalidInputException("height and width must be positive multiples of 8 but are " + h + " and "
                    + w);
        }
        if (f < 1) {
            throw new InvalidInputException("num_frames must be >= 1 but is " + f);
        }
        return new long[] {f, h / sf, w / sf};
    }

    private static void check(Integer requested, long actual, String what, Shape ls) {
        if (requested != null && requested != actual) {
            throw new InvalidInputException(what + " " + requested + " does not match the given latents " + ls
                    + " (" + what + " " + actual + ")");
        }
    }

    private NDArray negative(NDManager work, NDArray given, Shape ps) {
        if (given != null) {
            if (!given.getShape().equals(ps)) {
                throw new InvalidInputException("negative_prompt_embeds " + given.getShape()
                        + " must have the shape of prompt_embeds " + ps);
            }
            NDArray n = given.toType(DataType.FLOAT32, true);
            n.attach(work);
            return n;
        }
        NDArray one = encodePrompt(work, "", Math.toIntExact(ps.get(1)));
        if (!one.getShape().equals(new Shape(1, ps.get(1), ps.get(2)))) {
            throw new InvalidInputException("the text encoder gives " + one.getShape() + " for \"\", but prompt_embeds"
                    + " are " + ps);
        }
        return ps.get(0) == 1 ? one : one.repeat(0, ps.get(0));
    }

    /** N(0, 1) latents from a Java {@link Random} (deterministic for a seed; not torch's generator). */
    static NDArray gaussian(NDManager manager, Shape shape, long seed) {
        Random r = new Random(seed);
        float[] v = new float[Math.toIntExact(shape.size())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return manager.create(v, shape);
    }

    @Override
    public void close() {
        unet.close();
        vae.close();
        if (textEncoder != null) {
            textEncoder.close();
        }
    }
}
