package dev.nextgpt.runtime.audioldm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.diffusion.AutoencoderKL;
import dev.nextgpt.runtime.diffusion.UNet2DCondition;
import dev.nextgpt.runtime.diffusion.scheduler.DdimScheduler;
import dev.nextgpt.runtime.diffusion.GuidedDenoisingLoop;
import dev.nextgpt.runtime.diffusion.scheduler.DiffusionScheduler;
import dev.nextgpt.runtime.diffusion.scheduler.SchedulerConfig;
import dev.nextgpt.runtime.diffusion.scheduler.Schedulers;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;

/**
 * NExT-GPT's audio decoder: diffusers' {@code AudioLDMPipeline} (0.17 / 0.30, {@code custom_ad.py}) on a folder
 * with {@code unet/} ({@link UNet2DCondition} with {@code simple_projection} class conditioning), {@code vae/}
 * (mel {@link AutoencoderKL}), {@code vocoder/} ({@link HifiGanVocoder}), {@code scheduler/} and, optionally,
 * {@code text_encoder/} + {@code tokenizer/} (CLAP, RoBERTa BPE) for text prompts and the default negative.
 *
 * <p>Loop: latents {@code (B, C, height/vae_sf, mel_bins/vae_sf)} (time along H; height from
 * {@code audio_length_in_s}, see {@link AudioLdmLengths}), per step
 * {@code UNet(cat([latents, latents]), t, encoder_hidden_states=None, class_labels=cat([negative, prompt]))},
 * guidance {@code uncond + g·(text − uncond)} (only when {@code g > 1}), scheduler step. Then
 * {@code mel = vae.decode(latents · (1/scaling_factor))}, {@code waveform = vocoder(mel.squeeze(1))}, cropped to
 * {@code int(audio_length_in_s · sampling_rate)} samples (16 kHz float for AudioLDM).
 *
 * <p>Given {@code prompt_embeds} are used as they are (NExT-GPT feeds its un-normalised projection output). The
 * default negative is the L2-normalised CLAP {@code text_embeds} of {@code ""} tokenised to
 * {@code prompt_embeds.shape[1]} tokens.
 */
public final class AudioLdmPipeline implements AutoCloseable {

    /** What the listener sees after each step; the arrays are only valid during the callback. */
    public record Step(int index, int total, long timestep, NDArray latentModelInput, NDArray noisePredUncond,
                       NDArray noisePredText, NDArray noisePredGuided, NDArray latentsAfter) {
    }

    /** Called after every denoising step (progress, tracing). */
    @FunctionalInterface
    public interface StepListener {
        void onStep(Step step);
    }

    /**
     * Generation settings. {@code audioLengthInS} null means the pipeline default
     * ({@code unet.sample_size · vae_sf · vocoder_upsample_factor}); {@code scheduler} null keeps the folder's
     * scheduler (DDIM), otherwise a {@link Schedulers#byName} name.
     */
    public record Options(int steps, double guidance, Double audioLengthInS, long seed, double eta,
                          String scheduler) {
        public Options {
            if (steps < 1) {
                throw new InvalidInputException("steps must be >= 1 but is " + steps);
            }
            if (eta < 0) {
                throw new InvalidInputException("eta must be >= 0 but is " + eta);
            }
        }

        /** diffusers' defaults: 10 steps, guidance 2.5, default length, seed 0, eta 0. */
        public static Options defaults() {
            return new Options(10, 2.5, null, 0L, 0.0, null);
        }

        public Options withSteps(int v) {
            return new Options(v, guidance, audioLengthInS, seed, eta, scheduler);
        }

        public Options withGuidance(double v) {
            return new Options(steps, v, audioLengthInS, seed, eta, scheduler);
        }

        public Options withAudioLengthInS(Double v) {
            return new Options(steps, guidance, v, seed, eta, scheduler);
        }

        public Options withSeed(long v) {
            return new Options(steps, guidance, audioLengthInS, v, eta, scheduler);
        }

        public Options withEta(double v) {
            return new Options(steps, guidance, audioLengthInS, seed, v, scheduler);
        }

        public Options withScheduler(String v) {
            return new Options(steps, guidance, audioLengthInS, seed, eta, v);
        }
    }

    /**
     * @param latents        final latents (B, C, h, w)
     * @param melSpectrogram VAE output (B, 1, frames, mel bins)
     * @param waveformFull   vocoder output before cropping (B, samples)
     * @param audio          {@code waveformFull[:, :originalWaveformLength]}, float at {@link #samplingRate()}
     */
    public record Result(NDArray latents, NDArray melSpectrogram, NDArray waveformFull, NDArray audio) {
    }

    private final UNet2DCondition unet;
    private final AutoencoderKL vae;
    private final HifiGanVocoder vocoder;
    private final SchedulerConfig schedulerConfig;
    private final ClapTextModel textEncoder;
    private final RobertaBpeTokenizer tokenizer;
    private final AudioLdmLengths lengths;
    private final NDManager manager;

    private AudioLdmPipeline(UNet2DCondition unet, AutoencoderKL vae, HifiGanVocoder vocoder,
                             SchedulerConfig schedulerConfig, ClapTextModel textEncoder,
                             RobertaBpeTokenizer tokenizer, AudioLdmLengths lengths, NDManager manager) {
        this.unet = unet;
        this.vae = vae;
        this.vocoder = vocoder;
        this.schedulerConfig = schedulerConfig;
        this.textEncoder = textEncoder;
        this.tokenizer = tokenizer;
        this.lengths = lengths;
        this.manager = manager;
    }

    /**
     * Assembles a pipeline from built parts (e.g. an in-memory model). {@code textEncoder} and {@code tokenizer} may
     * be null (then negatives must be given); closing the pipeline closes {@code unet}, {@code vae} and
     * {@code manager}, which must own the vocoder's and text encoder's arrays.
     */
    public static AudioLdmPipeline of(UNet2DCondition unet, AutoencoderKL vae, HifiGanVocoder vocoder,
                                      SchedulerConfig schedulerConfig, ClapTextModel textEncoder,
                                      RobertaBpeTokenizer tokenizer, AudioLdmLengths lengths, NDManager manager) {
        if (!unet.needsClassLabels()) {
            throw new ModelFormatException("an AudioLDM UNet needs class_embed_type (simple_projection) for the CLAP"
                    + " conditioning");
        }
        return new AudioLdmPipeline(unet, vae, vocoder, schedulerConfig, textEncoder, tokenizer, lengths, manager);
    }

    /** Loads an AudioLDM pipeline folder; {@code text_encoder/} and {@code tokenizer/} are optional. */
    public static AudioLdmPipeline load(Path folder) {
        if (!Files.isDirectory(folder)) {
            throw new InvalidInputException("AudioLDM folder " + folder + " does not exist");
        }
        for (String sub : new String[] {"unet", "vae", "vocoder", "scheduler"}) {
            if (!Files.isDirectory(folder.resolve(sub))) {
                throw new ModelFormatException(folder + " has no '" + sub + "' folder (expected a diffusers"
                        + " AudioLDMPipeline layout: unet, vae, vocoder, scheduler, text_encoder, tokenizer)");
            }
        }
        SchedulerConfig sc = SchedulerConfig.read(folder.resolve("scheduler"));
        AudioLdmLengths lengths = AudioLdmLengths.fromPipeline(folder);
        NDManager root = NDManager.newBaseManager();
        try {
            UNet2DCondition unet = UNet2DCondition.load(folder.resolve("unet"), root.newSubManager());
            if (!unet.needsClassLabels()) {
                throw new ModelFormatException(folder.resolve("unet") + ": an AudioLDM UNet needs class_embed_type"
                        + " (simple_projection) for the CLAP conditioning");
            }
            AutoencoderKL vae = AutoencoderKL.load(folder.resolve("vae"), root.newSubManager());
            HifiGanVocoder vocoder = HifiGanVocoder.load(folder.resolve("vocoder"), root);
            ClapTextModel te = null;
            RobertaBpeTokenizer tok = null;
            if (Files.isDirectory(folder.resolve("text_encoder"))) {
                te = ClapTextModel.load(folder.resolve("text_encoder"), root);
            }
            if (Files.isRegularFile(folder.resolve("tokenizer").resolve("vocab.json"))) {
                tok = RobertaBpeTokenizer.fromFolder(folder.resolve("tokenizer"));
            }
            return new AudioLdmPipeline(unet, vae, vocoder, sc, te, tok, lengths, root);
        } catch (RuntimeException e) {
            root.close();
            throw e;
        }
    }

    public UNet2DCondition unet() {
        return unet;
    }

    public AutoencoderKL vae() {
        return vae;
    }

    public HifiGanVocoder vocoder() {
        return vocoder;
    }

    public AudioLdmLengths lengths() {
        return lengths;
    }

    /** The vocoder's sampling rate (16 kHz for AudioLDM). */
    public int samplingRate() {
        return lengths.samplingRate();
    }

    /**
     * The pipeline's prompt encoding: tokenise (padding to {@code maxLength}, truncation, attention mask), CLAP
     * {@code text_embeds}, L2-normalised. Returns (B, projection_dim) in {@code manager}.
     */
    public NDArray encodePrompts(NDManager manager, List<String> prompts, int maxLength) {
        if (textEncoder == null || tokenizer == null) {
            throw new InvalidInputException("this AudioLDM folder has no " + (textEncoder == null ? "text_encoder"
                    : "tokenizer") + " to encode prompts; pass prompt_embeds and negative_prompt_embeds");
        }
        if (!textEncoder.hasProjection()) {
            throw new ModelFormatException("the AudioLDM text encoder has no text_projection weights");
        }
        RobertaBpeTokenizer.Encoding enc = tokenizer.encodeBatch(prompts, maxLength);
        NDArray ids = manager.create(enc.inputIds());
        NDArray mask = manager.create(enc.attentionMask());
        return textEncoder.forward(ids, mask).promptEmbeds();
    }

    /** {@link #encodePrompts} padded to the tokenizer's {@code model_max_length}, as the pipeline encodes prompts. */
    public NDArray encodePrompts(NDManager manager, List<String> prompts) {
        if (tokenizer == null) {
            return encodePrompts(manager, prompts, 0); // throws the missing-component error
        }
        return encodePrompts(manager, prompts, tokenizer.modelMaxLength());
    }

    /** Text prompt → audio: encodes {@code prompt} (and the negative {@code ""}), then {@link #generate}. */
    public Result generate(NDManager manager, String prompt, NDArray initialLatents, Options options,
                           StepListener listener, BooleanSupplier cancel) {
        try (NDManager work = manager.newSubManager()) {
            NDArray pe = encodePrompts(work, List.of(prompt));
            Result r = generate(work, pe, null, initialLatents, options, listener, cancel);
            for (NDArray a : new NDArray[] {r.latents(), r.melSpectrogram(), r.waveformFull(), r.audio()}) {
                a.attach(manager);
            }
            return r;
        }
    }

    /** {@link #generate(NDManager, NDArray, NDArray, NDArray, Options, StepListener, BooleanSupplier)} without hooks. */
    public Result generate(NDManager manager, NDArray promptEmbeds, NDArray negativePromptEmbeds,
                           NDArray initialLatents, Options options) {
        return generate(manager, promptEmbeds, negativePromptEmbeds, initialLatents, options, null, null);
    }

    /**
     * Runs the AudioLDM loop.
     *
     * @param manager              owns the returned arrays
     * @param promptEmbeds         (B, P) class conditioning, used as given (not normalised here)
     * @param negativePromptEmbeds (B, P), or null: normalised CLAP embedding of {@code ""} (when guidance > 1)
     * @param initialLatents       (B, C, h, w) matching the planned length, or null: N(0,1) from the seed
     * @param listener             per-step callback, or null
     * @param cancel               checked before each step; when set a {@link CancellationException} is thrown
     */
    public Result generate(NDManager manager, NDArray promptEmbeds, NDArray negativePromptEmbeds,
                           NDArray initialLatents, Options options, StepListener listener, BooleanSupplier cancel) {
        Shape ps = promptEmbeds.getShape();
        if (ps.dimension() != 2) {
            throw new InvalidInputException("prompt_embeds must be (B, projection_dim) but are " + ps);
        }
        int b = Math.toIntExact(ps.get(0));
        boolean cfg = options.guidance() > 1.0;
        AudioLdmLengths.Plan plan = lengths.plan(options.audioLengthInS(), b);
        if (initialLatents != null && !initialLatents.getShape().equals(plan.latentShape())) {
            throw new InvalidInputException("latents " + initialLatents.getShape() + " do not match the latent shape "
                    + plan.latentShape() + " of audio_length_in_s " + plan.audioLengthInS() + " (height "
                    + plan.height() + ")");
        }
        try (DiffusionScheduler scheduler = Schedulers.byName(options.scheduler(), schedulerConfig);
             NDManager work = manager.newSubManager()) {
            if (scheduler instanceof DdimScheduler ddim) {
                ddim.setEta(options.eta());
            }
            scheduler.setSeed(options.seed());
            NDArray prompt = promptEmbeds.toType(DataType.FLOAT32, true);
            prompt.attach(work);
            NDArray classLabels = prompt;
            if (cfg) {
                NDArray negative;
                if (negativePromptEmbeds != null) {
                    if (!negativePromptEmbeds.getShape().equals(ps)) {
                        throw new InvalidInputException("negative_prompt_embeds " + negativePromptEmbeds.getShape()
                                + " must have the shape of prompt_embeds " + ps);
                    }
                    negative = negativePromptEmbeds.toType(DataType.FLOAT32, true);
                    negative.attach(work);
                } else {
                    List<String> empty = new ArrayList<>();
                    for (int i = 0; i < b; i++) {
                        empty.add("");
                    }
                    negative = encodePrompts(work, empty, Math.toIntExact(ps.get(1)));
                    if (!negative.getShape().equals(ps)) {
                        throw new InvalidInputException("the CLAP embedding of \"\" is " + negative.getShape()
                                + " but prompt_embeds are " + ps);
                    }
                }
                classLabels = negative.concat(prompt, 0);
            }
            NDArray latents;
            if (initialLatents != null) {
                latents = initialLatents.toType(DataType.FLOAT32, true);
                latents.attach(work);
            } else {
                latents = gaussian(work, plan.latentShape(), options.seed());
            }
            NDArray labels = classLabels;
            latents = GuidedDenoisingLoop.run(scheduler, work, latents, options.steps(), options.guidance(),
                    (in, t) -> unet.forward(in, t, null, labels),
                    listener == null ? null : s -> listener.onStep(new Step(s.index(), s.total(), s.timestep(),
                            s.latentModelInput(), s.noisePredUncond(), s.noisePredText(), s.noisePred(),
                            s.prevLatents())),
                    cancel, "AudioLDM");
            NDArray mel = decodeLatents(latents);
            NDArray waveform = melToWaveform(mel);
            NDArray audio = AudioLdmLengths.cropWaveform(waveform, plan.originalWaveformLength()).duplicate();
            for (NDArray a : new NDArray[] {latents, mel, waveform, audio}) {
                a.attach(manager);
            }
            return new Result(latents, mel, waveform, audio);
        }
    }

    /** {@code decode_latents}: {@code vae.decode(latents · (1/scaling_factor))} → (B, 1, frames, mel bins). */
    public NDArray decodeLatents(NDArray latents) {
        Shape s = latents.getShape();
        if (s.dimension() != 4 || s.get(1) != vae.config().latentChannels()) {
            throw new InvalidInputException("AudioLDM latents must be (B, " + vae.config().latentChannels()
                    + ", h, w) but are " + s);
        }
        return vae.decode(latents.mul((float) (1.0 / vae.config().scalingFactor())));
    }

    /** {@code mel_spectrogram_to_waveform}: {@code vocoder(mel.squeeze(1))} → (B, samples). */
    public NDArray melToWaveform(NDArray mel) {
        return vocoder.forward(AudioLdmLengths.melFromVaeOutput(mel));
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
        try {
            unet.close();
            vae.close();
        } finally {
            manager.close();
        }
    }
}
