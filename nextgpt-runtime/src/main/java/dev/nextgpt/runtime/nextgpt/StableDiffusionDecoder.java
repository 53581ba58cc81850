package dev.nextgpt.runtime.nextgpt;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.ImagePart;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.clip.ClipBpeTokenizer;
import dev.nextgpt.runtime.cliptext.ClipTextModel;
import dev.nextgpt.runtime.diffusion.AutoencoderKL;
import dev.nextgpt.runtime.diffusion.UNet2DCondition;
import dev.nextgpt.runtime.diffusion.scheduler.DiffusionScheduler;
import dev.nextgpt.runtime.diffusion.scheduler.SchedulerConfig;
import dev.nextgpt.runtime.diffusion.scheduler.Schedulers;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;

/**
 * The image decoder of NExT-GPT: diffusers' {@code StableDiffusionPipeline} as the legacy {@code custom_sd.py} runs it
 * when called with {@code prompt_embeds} (reference §5): classifier-free guidance against the pipeline's own text
 * encoding of the empty prompt (padded to the tokenizer's context length), the folder's own scheduler, latents
 * {@code [1, C, sample_size, sample_size]}, decode with {@code 1/0.18215} (hard-coded in {@code custom_sd}), then
 * {@code (x/2+0.5).clamp(0,1)}. Defaults: 50 steps, guidance 7.5. No safety checker.
 *
 * <p>This is NExT-GPT glue over the {@code runtime.diffusion} / {@code runtime.cliptext} networks; the negative
 * embedding is computed once and cached.
 */
public final class StableDiffusionDecoder implements ModalityDecoder {
    /** The VAE scale {@code custom_sd.decode_latents} hard-codes. */
    public static final float LEGACY_LATENT_SCALE = 0.18215f;
    public static final int DEFAULT_STEPS = 50;
    public static final double DEFAULT_GUIDANCE = 7.5;

    private final NDManager manager;
    private final UNet2DCondition unet;
    private final AutoencoderKL vae;
    private final SchedulerConfig schedulerConfig;
    private final NDArray negativeEmbeds;
    private final int defaultSteps;

    /**
     * Assembles the decoder; the text encoder and tokenizer are used once to encode the empty negative prompt and
     * are not kept. Takes ownership of {@code unet} and {@code vae}.
     */
    public StableDiffusionDecoder(UNet2DCondition unet, AutoencoderKL vae, ClipTextModel textEncoder,
                                  ClipBpeTokenizer tokenizer, SchedulerConfig schedulerConfig, int defaultSteps) {
        this.manager = NDManager.newBaseManager();
        this.unet = unet;
        this.vae = vae;
        this.schedulerConfig = schedulerConfig;
        this.defaultSteps = defaultSteps;
        try (NDManager tmp = manager.newSubManager()) {
            long[] ids = tokenizer.encode("");
            NDArray out = textEncoder.forward(tmp.create(ids).reshape(1, ids.length)).lastHiddenState();
            NDArray neg = out.toType(DataType.FLOAT32, true);
            neg.attach(manager);
            this.negativeEmbeds = neg;
        }
        long[] expect = conditioningShape();
        if (negativeEmbeds.getShape().get(2) != expect[2]) {
            throw new ModelFormatException("SD text encoder width " + negativeEmbeds.getShape().get(2)
                    + " differs from the UNet cross_attention_dim " + expect[2]);
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
        UNet2DCondition unet = UNet2DCondition.load(folder.resolve("unet"));
        AutoencoderKL vae = null;
        try (ClipTextModel text = ClipTextModel.load(folder.resolve("text_encoder"))) {
            vae = AutoencoderKL.load(folder.resolve("vae"));
            return new StableDiffusionDecoder(unet, vae, text,
                    ClipBpeTokenizer.fromFolder(folder.resolve("tokenizer")),
                    SchedulerConfig.read(folder.resolve("scheduler")), DEFAULT_STEPS);
        } catch (RuntimeException e) {
            unet.close();
            if (vae != null) {
                vae.close();
            }
            throw e;
        }
    }

    @Override
    public Modality modality() {
        return Modality.IMAGE;
    }

    @Override
    public long[] conditioningShape() {
        return new long[] {1, negativeEmbeds.getShape().get(1), unet.config().crossAttentionDim()[0]};
    }

    /** The empty-prompt embedding {@code [1, 77, D]} used as the CFG negative. */
    public NDArray negativeEmbeds() {
        return negativeEmbeds;
    }

    /** Latent shape {@code [1, C, s, s]} from the UNet config ({@code in_channels}, {@code sample_size}). */
    public long[] latentShape() {
        int s = unet.config().sampleSize();
        return new long[] {1, unet.config().inChannels(), s, s};
    }

    @Override
    public Output decode(NDArray conditioning, Options options, Progress progress, BooleanSupplier cancelled) {
        Options o = options == null ? Options.defaults() : options;
        Progress p = progress == null ? Progress.NONE : progress;
        long[] want = conditioningShape();
        NDArray cond = conditioning.getShape().dimension() == 2 ? conditioning.expandDims(0) : conditioning;
        if (!java.util.Arrays.equals(cond.getShape().getShape(), want)) {
            throw new InvalidInputException("image decoder conditioning must be " + new Shape(want) + " (77 tokens × "
                    + "UNet cross_attention_dim) but is " + conditioning.getShape());
        }
        int steps = o.steps() != null ? o.steps() : defaultSteps;
        double g = o.guidanceScale() != null ? o.guidanceScale() : DEFAULT_GUIDANCE;
        NDManager out = conditioning.getManager();
        try (NDManager scope = manager.newSubManager(); DiffusionScheduler scheduler = Schedulers.fromConfig(schedulerConfig)) {
            scheduler.setTimesteps(steps);
            NDArray latents;
            if (o.initialLatents() != null) {
                if (!java.util.Arrays.equals(o.initialLatents().getShape().getShape(), latentShape())) {
                    throw new InvalidInputException("initial latents must be " + new Shape(latentShape()) + " but are "
                            + o.initialLatents().getShape());
                }
                latents = o.initialLatents().toType(DataType.FLOAT32, true);
                latents.attach(scope);
            } else {
                latents = gaussian(scope, latentShape(), o.seed() != null ? o.seed() : 0L);
            }
            latents = latents.mul(scheduler.initNoiseSigma());
            NDArray c = cond.toType(DataType.FLOAT32, true);
            c.attach(scope);
            boolean cfg = g > 1.0;
            NDArray context = cfg ? NDArrays.concat(new NDList(negativeEmbeds, c), 0) : c;
            double[] ts = scheduler.timesteps();
            NDList perLoop = new NDList();
            for (int i = 0; i < ts.length; i++) {
                if (cancelled != null && cancelled.getAsBoolean()) {
                    throw new CancellationException("image decoding cancelled at step " + i + " of " + ts.length);
                }
                try (NDManager step = scope.newSubManager()) {
                    NDArray in = cfg ? NDArrays.concat(new NDList(latents, latents), 0) : latents;
                    in = scheduler.scaleModelInput(in, ts[i]);
                    NDArray t = scheduler.integerTimesteps() ? step.create(new long[] {(long) ts[i]})
                            : step.create(new float[] {(float) ts[i]});
                    NDArray eps = unet.forward(in, t, context, null);
                    if (cfg) {
                        NDArray u = eps.get("0:1");
                        NDArray tx = eps.get("1:2");
                        eps = u.add(tx.sub(u).mul((float) g));
                    }
                    NDArray next = scheduler.step(eps, ts[i], latents).prevSample();
                    next.attach(scope);
                    latents = next;
                }
                perLoop.add(latents);
                p.onStep(i + 1, ts.length);
            }
            NDArray decoded = vae.decode(latents.div(LEGACY_LATENT_SCALE));
            NDArray imageFloat = AutoencoderKL.postprocess(decoded);
            NDArray uint8 = AutoencoderKL.toUint8(imageFloat);
            Shape is = imageFloat.getShape();
            int h = (int) is.get(1);
            int w = (int) is.get(2);
            ImagePart part = ImagePart.ofRgbBytes(w, h, uint8.get(0).toByteArray());
            Map<String, NDArray> tensors = new LinkedHashMap<>();
            tensors.put("sd.prompt_embeds", keep(c, out));
            tensors.put("sd.per_loop_latents", keep(NDArrays.stack(perLoop, 0).squeeze(1), out));
            tensors.put("sd.final_latents", keep(latents, out));
            tensors.put("sd.image_float", keep(imageFloat, out));
            tensors.put("sd.image_uint8", keep(uint8.get(0), out));
            return new Output(part, tensors);
        }
    }

    private static NDArray keep(NDArray a, NDManager target) {
        NDArray c = a.duplicate();
        c.attach(target);
        return c;
    }

    private static NDArray gaussian(NDManager m, long[] shape, long seed) {
        Random r = new Random(seed);
        int n = 1;
        for (long d : shape) {
            n *= (int) d;
        }
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return m.create(v, new Shape(shape));
    }

    @Override
    public void close() {
        unet.close();
        vae.close();
        manager.close();
    }
}
