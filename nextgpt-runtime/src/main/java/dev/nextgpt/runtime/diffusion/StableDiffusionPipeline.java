package dev.nextgpt.runtime.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.cliptext.ClipTextModel;
import dev.nextgpt.runtime.diffusion.scheduler.DdimScheduler;
import dev.nextgpt.runtime.diffusion.scheduler.DiffusionScheduler;
import dev.nextgpt.runtime.diffusion.scheduler.SchedulerConfig;
import dev.nextgpt.runtime.diffusion.scheduler.Schedulers;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;
import java.util.function.IntFunction;

/**
 * diffusers {@code StableDiffusionPipeline} from precomputed prompt embeddings (NExT-GPT's image decoder):
 * classifier-free guidance with the batch in the order {@code [uncond; cond]} and
 * {@code eps = eps_u + g·(eps_c - eps_u)} when {@code g > 1}, the scheduler loop, then VAE decoding of
 * {@code latents / scaling_factor} and post-processing to float NHWC in [0, 1] and uint8.
 *
 * <p>Loads a diffusers pipeline folder ({@code unet/}, {@code vae/}, {@code scheduler/}, and optionally
 * {@code text_encoder/} + {@code tokenizer/} for the default empty negative prompt). Each step's temporaries live in
 * a sub-manager closed at the end of the step, so memory does not grow with the number of steps.
 */
public final class StableDiffusionPipeline implements AutoCloseable {
    private final Path folder;
    private final UNet2DCondition unet;
    private final AutoencoderKL vae;
    private final SchedulerConfig schedulerConfig;
    private ClipTextModel textEncoder;
    private PromptTokenizer tokenizer;
    private NDManager cacheManager;
    private NDArray emptyPromptEmbeds;

    /** Called after each denoising step. */
    @FunctionalInterface
    public interface StepListener {
        void onStep(int stepIndex, int totalSteps, double timestep);
    }

    /** Generation settings; {@code null} height/width default to the UNet sample size times the VAE factor. */
    public static final class Options {
        private int steps = 50;
        private double guidanceScale = 7.5;
        private Integer height;
        private Integer width;
        private long seed;
        private NDArray latents;
        private NDArray negativePromptEmbeds;
        private String scheduler;
        private double eta;
        private StepListener listener;
        private BooleanSupplier cancelled;
        private IntFunction<NDArray> stepNoise;
        private Double latentScale;
        private java.util.function.ObjIntConsumer<NDArray> stepLatents;

        public Options steps(int v) {
            this.steps = v;
            return this;
        }

        public Options guidanceScale(double v) {
            this.guidanceScale = v;
            return this;
        }

        public Options height(int v) {
            this.height = v;
            return this;
        }

        public Options width(int v) {
            this.width = v;
            return this;
        }

        /** Seed of the Java generator for initial latents and ancestral noise (does not reproduce torch). */
        public Options seed(long v) {
            this.seed = v;
            return this;
        }

        /** Initial N(0,1) latents [B, C, h, w] (multiplied by the scheduler's init_noise_sigma). */
        public Options latents(NDArray v) {
            this.latents = v;
            return this;
        }

        /** Unconditional embeddings [B or 1, N, D]; default: the text encoder's output for {@code ""}. */
        public Options negativePromptEmbeds(NDArray v) {
            this.negativePromptEmbeds = v;
            return this;
        }

        /** Scheduler short name ({@link Schedulers#byName}); null keeps the folder's scheduler_config. */
        public Options scheduler(String v) {
            this.scheduler = v;
            return this;
        }

        /** DDIM eta (0 = deterministic). */
        public Options eta(double v) {
            this.eta = v;
            return this;
        }

        public Options listener(StepListener v) {
            this.listener = v;
            return this;
        }

        /** Polled before every step; when it returns true a {@link CancellationException} is thrown. */
        public Options cancelled(BooleanSupplier v) {
            this.cancelled = v;
            return this;
        }

        /** Per-step noise for ancestral schedulers (e.g. a recorded torch trace); null entries are drawn. */
        public Options stepNoise(IntFunction<NDArray> v) {
            this.stepNoise = v;
            return this;
        }

        /**
         * Divisor of the latents before VAE decoding instead of the VAE's {@code scaling_factor} (NExT-GPT's
         * {@code custom_sd} hard-codes 0.18215).
         */
        public Options latentScale(double v) {
            this.latentScale = v;
            return this;
        }

        /** Receives the latents after each step (valid only during the call) and the step index. */
        public Options stepLatents(java.util.function.ObjIntConsumer<NDArray> v) {
            this.stepLatents = v;
            return this;
        }
    }

    /** Final latents [B, C, h, w], image float NHWC in [0, 1], image uint8 NHWC. */
    public record Result(NDArray latents, NDArray image, NDArray imageUint8) {
    }

    private StableDiffusionPipeline(Path folder, UNet2DCondition unet, AutoencoderKL vae, SchedulerConfig sched) {
        this.folder = folder;
        this.unet = unet;
        this.vae = vae;
        this.schedulerConfig = sched;
    }

    /**
     * Assembles a pipeline from built parts (e.g. an in-memory model); the text encoder and tokenizer (either may be
     * null, then negatives must be given) are closed with the pipeline, as are {@code unet} and {@code vae}.
     */
    public StableDiffusionPipeline(UNet2DCondition unet, AutoencoderKL vae, SchedulerConfig sched,
                                   ClipTextModel textEncoder, PromptTokenizer tokenizer) {
        this(null, unet, vae, sched);
        this.textEncoder = textEncoder;
        this.tokenizer = tokenizer;
    }

    /** Loads {@code unet/}, {@code vae/} and {@code scheduler/} of a pipeline folder (text encoder lazily). */
    public static StableDiffusionPipeline load(Path folder) {
        for (String sub : new String[] {"unet", "vae", "scheduler"}) {
            if (!Files.isDirectory(folder.resolve(sub))) {
                throw new ModelFormatException("pipeline folder " + folder + " has no " + sub + "/ sub-folder");
            }
        }
        SchedulerConfig sc = SchedulerConfig.read(folder.resolve("scheduler"));
        UNet2DCondition unet = UNet2DCondition.load(folder.resolve("unet"));
        try {
            AutoencoderKL vae = AutoencoderKL.load(folder.resolve("vae"));
            return new StableDiffusionPipeline(folder, unet, vae, sc);
        } catch (RuntimeException e) {
            unet.close();
            throw e;
        }
    }

    public UNet2DCondition unet() {
        return unet;
    }

    public AutoencoderKL vae() {
        return vae;
    }

    public SchedulerConfig schedulerConfig() {
        return schedulerConfig;
    }

    /** Replaces the tokenizer used for prompts (default: the folder's CLIP BPE tokenizer). */
    public void setTokenizer(PromptTokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** The text encoder of the folder (loaded on first use). */
    public synchronized ClipTextModel textEncoder() {
        if (textEncoder == null) {
            if (folder == null) {
                throw new InvalidInputException("this pipeline has no text encoder; pass negative_prompt_embeds"
                        + " explicitly");
            }
            Path te = folder.resolve("text_encoder");
            if (!Files.isDirectory(te)) {
                throw new InvalidInputException("pipeline folder " + folder + " has no text_encoder/; pass"
                        + " negative_prompt_embeds explicitly");
            }
            textEncoder = ClipTextModel.load(te);
        }
        return textEncoder;
    }

    /** CLIP embeddings [1, 77, D] ({@code last_hidden_state}) of a prompt, owned by {@code manager}. */
    public NDArray encodePrompt(String text, NDManager manager) {
        PromptTokenizer tok = tokenizer;
        if (tok == null) {
            if (folder == null) {
                throw new InvalidInputException("this pipeline has no tokenizer; pass negative_prompt_embeds"
                        + " explicitly");
            }
            Path td = folder.resolve("tokenizer");
            if (!Files.isDirectory(td)) {
                throw new InvalidInputException("pipeline folder " + folder + " has no tokenizer/; pass"
                        + " negative_prompt_embeds explicitly");
            }
            tok = Files.isRegularFile(td.resolve("merges.txt"))
                    ? dev.nextgpt.runtime.clip.ClipBpeTokenizer.fromFolder(td)::encode
                    : PromptTokenizer.emptyPromptOnly(td);
            tokenizer = tok;
        }
        long[] ids = tok.encode(text);
        try (NDManager sm = manager.newSubManager()) {
            NDArray out = textEncoder().forward(sm.create(ids, new Shape(1, ids.length))).lastHiddenState();
            out.attach(manager);
            return out;
        }
    }

    /** The embeddings of {@code ""} [1, 77, D] (computed once and cached; owned by the pipeline). */
    public synchronized NDArray emptyPromptEmbeds() {
        if (emptyPromptEmbeds == null) {
            cacheManager = NDManager.newBaseManager();
            emptyPromptEmbeds = encodePrompt("", cacheManager);
        }
        return emptyPromptEmbeds;
    }

    /**
     * Runs the pipeline.
     *
     * @param promptEmbeds [B, N, D] conditional embeddings (e.g. NExT-GPT's output projection, [1, 77, 768|1024])
     * @param manager      owner of the returned arrays
     */
    public Result generate(NDArray promptEmbeds, Options o, NDManager manager) {
        Shape ps = promptEmbeds.getShape();
        if (ps.dimension() != 3) {
            throw new InvalidInputException("prompt_embeds must be [batch, tokens, dim] but is " + ps);
        }
        if (o.steps < 1) {
            throw new InvalidInputException("steps must be >= 1 but is " + o.steps);
        }
        if (!(o.guidanceScale >= 0) || Double.isInfinite(o.guidanceScale)) {
            throw new InvalidInputException("guidance scale must be a finite number >= 0 but is " + o.guidanceScale);
        }
        int f = vae.config().scaleFactor();
        int defaultSize = unet.config().sampleSize() * f;
        int height = o.height != null ? o.height : defaultSize;
        int width = o.width != null ? o.width : defaultSize;
        if (height <= 0 || width <= 0 || height % 8 != 0 || width % 8 != 0 || height % f != 0 || width % f != 0) {
            throw new InvalidInputException("height and width must be positive multiples of 8 (and of the VAE"
                    + " factor " + f + ") but are " + height + "x" + width);
        }
        long b = ps.get(0);
        boolean cfg = o.guidanceScale > 1.0;
        int latentC = vae.config().latentChannels();
        Shape latentShape = new Shape(b, latentC, height / f, width / f);

        try (NDManager work = manager.newSubManager();
             DiffusionScheduler scheduler = Schedulers.byName(o.scheduler, schedulerConfig)) {
            if (scheduler instanceof DdimScheduler d) {
                d.setEta(o.eta);
            }
            scheduler.setSeed(o.seed);
            NDArray ehs = promptEmbeds.duplicate();
            ehs.attach(work);
            if (cfg) {
                NDArray neg = o.negativePromptEmbeds != null ? o.negativePromptEmbeds : emptyPromptEmbeds();
                Shape ns = neg.getShape();
                if (ns.dimension() != 3 || ns.get(1) != ps.get(1) || ns.get(2) != ps.get(2)
                        || (ns.get(0) != b && ns.get(0) != 1)) {
                    throw new InvalidInputException("negative_prompt_embeds " + ns + " do not match prompt_embeds "
                            + ps);
                }
                NDArray negW = neg.duplicate();
                negW.attach(work);
                if (ns.get(0) != b) {
                    negW = negW.repeat(0, b);
                }
                ehs = negW.concat(ehs, 0);
            }
            NDArray latents;
            if (o.latents != null) {
                if (!o.latents.getShape().equals(latentShape)) {
                    throw new InvalidInputException("latents must have shape " + latentShape + " for " + height + "x"
                            + width + " but have " + o.latents.getShape());
                }
                latents = o.latents.toType(DataType.FLOAT32, true);
                latents.attach(work);
            } else {
                latents = gaussian(work, latentShape, new Random(o.seed));
            }
            scheduler.setTimesteps(o.steps);
            latents = latents.mul(scheduler.initNoiseSigma());
            double[] timesteps = scheduler.timesteps();
            for (int i = 0; i < timesteps.length; i++) {
                if (o.cancelled != null && o.cancelled.getAsBoolean()) {
                    throw new CancellationException("image generation cancelled before step " + i + " of "
                            + timesteps.length);
                }
                double t = timesteps[i];
                NDArray next;
                try (NDManager sm = work.newSubManager()) {
                    latents.tempAttach(sm);
                    ehs.tempAttach(sm);
                    NDArray in = cfg ? latents.concat(latents, 0) : latents;
                    in = scheduler.scaleModelInput(in, t);
                    NDArray tArr = scheduler.integerTimesteps() ? sm.create(new long[] {(long) t})
                            : sm.create(new float[] {(float) t});
                    NDArray out = unet.forward(in, tArr, ehs, null);
                    NDArray guided = out;
                    if (cfg) {
                        NDArray u = out.get("0:{}", b);
                        NDArray c = out.get("{}:", b);
                        guided = u.add(c.sub(u).mul((float) o.guidanceScale));
                    }
                    NDArray noise = o.stepNoise != null ? o.stepNoise.apply(i) : null;
                    next = scheduler.step(guided, t, latents, noise).prevSample();
                    next.attach(work);
                }
                latents.close();
                latents = next;
                if (o.stepLatents != null) {
                    o.stepLatents.accept(latents, i);
                }
                if (o.listener != null) {
                    o.listener.onStep(i, timesteps.length, t);
                }
            }
            NDArray image;
            NDArray uint8;
            try (NDManager sm = work.newSubManager()) {
                latents.tempAttach(sm);
                NDArray decoded = vae.decode(o.latentScale != null ? latents.div(o.latentScale.floatValue())
                        : vae.decoderInput(latents));
                image = AutoencoderKL.postprocess(decoded);
                uint8 = AutoencoderKL.toUint8(image);
                image.attach(manager);
                uint8.attach(manager);
            }
            latents.attach(manager);
            return new Result(latents, image, uint8);
        }
    }

    /** N(0,1) from a seeded Java generator (deterministic, but not torch's stream). */
    static NDArray gaussian(NDManager m, Shape shape, Random r) {
        float[] v = new float[Math.toIntExact(shape.size())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return m.create(v, shape);
    }

    @Override
    public synchronized void close() {
        unet.close();
        vae.close();
        if (textEncoder != null) {
            textEncoder.close();
        }
        if (cacheManager != null) {
            cacheManager.close();
        }
    }
}
