package dev.nextgpt.train.current;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.runtime.diffusion.AutoencoderKL;
import dev.nextgpt.runtime.diffusion.UNet2DCondition;
import dev.nextgpt.runtime.diffusion.scheduler.DiffusionScheduler;
import dev.nextgpt.runtime.diffusion.scheduler.Schedulers;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The training losses of the current NExT-GPT ({@code nextgpt_llama.py} {@code forward}, reference §6.1), as
 * differentiable DJL operations:
 * <pre>
 *   loss = CE + Σ_modality present [ L_cap + L_gen (if the batch has target media) ]
 * </pre>
 * <ul>
 *   <li>{@link #causalLmLoss}: the HF causal-LM CE (logits at t predict label t+1, mean over labels ≠ −100). The
 *       signal tokens and the {@code ▁} separators between them (the 2N−1 layout) are ordinary targets;</li>
 *   <li>{@link #signalSpans}: where each sample's 2N−1 signal span lies ({@code labels == first id} … {@code == last
 *       id}), with the original's checks; the projector reads those hidden states and input embeddings;</li>
 *   <li>{@link #captionLoss}: mean Euclidean distance to the precomputed caption embeddings (audio {@code [B, D]} is
 *       viewed as {@code [B, 1, D]});</li>
 *   <li>{@link LatentDenoising}: {@code L_gen = MSE(UNet(add_noise(VAE.encode(x)·scaling, ε, t), t, cond), ε)} with
 *       the frozen decoder modules; audio passes the projection as {@code class_labels} ({@code squeeze(1)}) and no
 *       cross-attention context. The target is ε whatever the scheduler's prediction type (as the original).</li>
 * </ul>
 */
public final class CurrentTrainingLosses {
    /** The ignored label. */
    public static final long IGNORE_INDEX = -100;

    private CurrentTrainingLosses() {
    }

    /** One sample's signal span: {@code labels[row][start .. start+length)}. */
    public record SignalSpan(int row, int start, int length) {
    }

    /** The losses of one modality; {@code gen} is null when the batch has no target media of it. */
    public record ModalityLoss(String modality, NDArray cap, NDArray gen) {
    }

    /** How the per-element MSE of {@code L_gen} is reduced. */
    public enum GenReduction {
        /** {@code F.mse_loss(pred, ε)} (video and audio in the original). */
        MEAN,
        /**
         * What the original computes for images with {@code has_snr_loss=True}: the per-sample reduction averages
         * over {@code len(loss.shape)} of the scalar caption loss, i.e. over every element, so the result is
         * {@code mean(MSE) · mean_b(w_b)} with the Min-SNR-5 weights {@code w_b = min(snr_b, 5) / snr_b}.
         */
        MIN_SNR5_AS_ORIGINAL,
        /** The intended Min-SNR-5: {@code mean_b(mean(MSE_b) · w_b)}. */
        MIN_SNR5
    }

    /** HF causal-LM loss: {@code logits [B, S, V]}, {@code labels [B][S]}; mean over the shifted labels ≠ −100. */
    public static NDArray causalLmLoss(NDArray logits, long[][] labels) {
        Shape s = logits.getShape();
        if (s.dimension() != 3 || s.get(0) != labels.length || s.get(1) != labels[0].length) {
            throw new InvalidInputException("logits " + s + " do not match labels [" + labels.length + ", "
                    + (labels.length == 0 ? 0 : labels[0].length) + "]");
        }
        int b = labels.length;
        int n = labels[0].length;
        long v = s.get(2);
        List<Long> flatPos = new ArrayList<>();
        List<Long> targets = new ArrayList<>();
        for (int r = 0; r < b; r++) {
            for (int t = 0; t + 1 < n; t++) {
                long y = labels[r][t + 1];
                if (y == IGNORE_INDEX) {
                    continue;
                }
                if (y < 0 || y >= v) {
                    throw new InvalidInputException("label " + y + " at [" + r + ", " + (t + 1) + "] is outside the "
                            + "vocabulary of " + v);
                }
                flatPos.add((long) r * n + t);
                targets.add(y);
            }
        }
        if (targets.isEmpty()) {
            throw new InvalidInputException("no label is counted (all −100): the loss would be NaN");
        }
        NDManager m = logits.getManager();
        NDArray rows = logits.reshape(b * (long) n, v)
                .get(m.create(flatPos.stream().mapToLong(Long::longValue).toArray()));
        NDArray logProbs = rows.logSoftmax(1);
        NDArray oneHot = m.create(targets.stream().mapToLong(Long::longValue).toArray()).oneHot(Math.toIntExact(v))
                .toType(logProbs.getDataType(), false);
        return logProbs.mul(oneHot).sum(new int[] {1}).mean().neg();
    }

    /**
     * The signal span of every sample holding one: starts where {@code labels == signalIds[0]}, ends where
     * {@code labels == signalIds[N-1]}; each span must lie in one row and be {@code 2N−1} long (N signal tokens with a
     * separator between two). A modality absent from the batch gives an empty list.
     */
    public static List<SignalSpan> signalSpans(long[][] labels, long[] signalIds) {
        int n = signalIds.length;
        List<int[]> starts = new ArrayList<>();
        List<int[]> ends = new ArrayList<>();
        for (int r = 0; r < labels.length; r++) {
            for (int t = 0; t < labels[r].length; t++) {
                if (labels[r][t] == signalIds[0]) {
                    starts.add(new int[] {r, t});
                }
                if (labels[r][t] == signalIds[n - 1]) {
                    ends.add(new int[] {r, t});
                }
            }
        }
        if (starts.size() != ends.size()) {
            throw new InvalidInputException("labels hold " + starts.size() + " first signal tokens (id "
                    + signalIds[0] + ") but " + ends.size() + " last ones (id " + signalIds[n - 1] + ")");
        }
        List<SignalSpan> out = new ArrayList<>();
        for (int i = 0; i < starts.size(); i++) {
            int[] s = starts.get(i);
            int[] e = ends.get(i);
            if (s[0] != e[0] || e[1] - s[1] + 1 != 2 * n - 1) {
                throw new InvalidInputException("signal span " + i + " runs from " + Arrays.toString(s) + " to "
                        + Arrays.toString(e) + "; expected one row and " + (2 * n - 1) + " positions (" + n
                        + " signal tokens with separators)");
            }
            out.add(new SignalSpan(s[0], s[1], 2 * n - 1));
        }
        return out;
    }

    /** Mean over (sample, token) of {@code ‖P − C‖₂}; {@code C [B, D]} is viewed as {@code [B, 1, D]}. */
    public static NDArray captionLoss(NDArray projected, NDArray captions) {
        NDArray c = captions.getShape().dimension() == 2
                ? captions.reshape(captions.getShape().get(0), 1, captions.getShape().get(1)) : captions;
        if (!projected.getShape().equals(c.getShape())) {
            throw new InvalidInputException("projector output " + projected.getShape()
                    + " does not match the caption embeddings " + c.getShape());
        }
        return projected.sub(c).square().sum(new int[] {-1}).sqrt().mean();
    }

    /** {@code CE + Σ (cap + gen)} over the modalities present (gen skipped when null). */
    public static NDArray total(NDArray ce, List<ModalityLoss> modalities) {
        NDArray loss = ce;
        for (ModalityLoss m : modalities) {
            loss = loss.add(m.cap());
            if (m.gen() != null) {
                loss = loss.add(m.gen());
            }
        }
        return loss;
    }

    /** Min-SNR-γ weights {@code min(snr, γ) / snr}, {@code snr = acp[t] / (1 − acp[t])} in float32. */
    public static float[] minSnrWeights(float[] alphasCumprod, long[] timesteps, float gamma) {
        float[] w = new float[timesteps.length];
        for (int i = 0; i < w.length; i++) {
            float acp = alphasCumprod[Math.toIntExact(timesteps[i])];
            float a = (float) Math.sqrt(acp);
            float s = (float) Math.sqrt(1f - acp);
            float snr = (a / s) * (a / s);
            w[i] = Math.min(snr, gamma) / snr;
        }
        return w;
    }

    /**
     * The frozen decoder side of {@code L_gen}: a diffusers pipeline folder's {@code vae/}, {@code unet/} and
     * {@code scheduler/}. Image/audio (2-D UNets); the UNet's class embedding decides whether the projection is
     * {@code class_labels} (AudioLDM) or the cross-attention context (SD).
     */
    public static final class LatentDenoising implements AutoCloseable {
        private final NDManager manager;
        private final AutoencoderKL vae;
        private final UNet2DCondition unet;
        private final DiffusionScheduler scheduler;

        private LatentDenoising(NDManager manager, AutoencoderKL vae, UNet2DCondition unet, DiffusionScheduler s) {
            this.manager = manager;
            this.vae = vae;
            this.unet = unet;
            this.scheduler = s;
        }

        /** Loads {@code vae/}, {@code unet/}, {@code scheduler/} of a pipeline folder. */
        public static LatentDenoising load(Path pipeline) {
            for (String sub : new String[] {"vae", "unet", "scheduler"}) {
                if (!Files.isDirectory(pipeline.resolve(sub))) {
                    throw new InvalidInputException(pipeline + " has no " + sub + "/ folder (a diffusers pipeline is "
                            + "needed for the latent denoising loss)");
                }
            }
            NDManager m = NDManager.newBaseManager();
            try {
                AutoencoderKL vae = AutoencoderKL.load(pipeline.resolve("vae"), m.newSubManager());
                UNet2DCondition unet = UNet2DCondition.load(pipeline.resolve("unet"), m.newSubManager());
                DiffusionScheduler s = Schedulers.fromPretrained(pipeline.resolve("scheduler"));
                return new LatentDenoising(m, vae, unet, s);
            } catch (RuntimeException e) {
                m.close();
                throw e;
            }
        }

        public DiffusionScheduler scheduler() {
            return scheduler;
        }

        public int numTrainTimesteps() {
            return scheduler.alphasCumprod().length;
        }

        /** {@code VAE.encode(target).sample(vaeNoise) · scaling_factor}; a null {@code vaeNoise} takes the mean. */
        public NDArray latents(NDArray target, NDArray vaeNoise) {
            AutoencoderKL.LatentDist d = vae.encode(target);
            NDArray z = vaeNoise == null ? d.mean() : d.sample(vaeNoise);
            return z.mul(vae.scalingFactor());
        }

        /**
         * {@code L_gen} for a batch: {@code target} pixels / mel {@code [B, C, H, W]}, the VAE sampling noise and the
         * diffusion noise ε (latent-shaped), one integer timestep per sample, and the projected conditioning
         * ({@code [B, T, D]}; audio {@code [B, 1, D]}).
         */
        public NDArray loss(NDArray target, NDArray vaeNoise, NDArray eps, long[] timesteps, NDArray conditioning,
                            GenReduction reduction) {
            NDArray z = latents(target, vaeNoise);
            if (!z.getShape().equals(eps.getShape())) {
                throw new InvalidInputException("noise " + eps.getShape() + " does not match the latents "
                        + z.getShape());
            }
            if (timesteps.length != z.getShape().get(0)) {
                throw new InvalidInputException(timesteps.length + " timesteps for a batch of " + z.getShape().get(0));
            }
            int n = numTrainTimesteps();
            double[] t = new double[timesteps.length];
            for (int i = 0; i < t.length; i++) {
                if (timesteps[i] < 0 || timesteps[i] >= n) {
                    throw new InvalidInputException("timestep " + timesteps[i] + " is outside [0, " + n + ")");
                }
                t[i] = timesteps[i];
            }
            NDArray noisy = scheduler.addNoise(z, eps, t);
            NDArray ts = eps.getManager().create(timesteps);
            NDArray pred = unet.needsClassLabels()
                    ? unet.forward(noisy, ts, null, squeezeTokens(conditioning))
                    : unet.forward(noisy, ts, conditioning, null);
            NDArray se = pred.sub(eps).square();
            return switch (reduction) {
                case MEAN -> se.mean();
                case MIN_SNR5_AS_ORIGINAL -> se.mean().mul(weights(eps.getManager(), timesteps).mean());
                case MIN_SNR5 -> se.reshape(timesteps.length, -1).mean(new int[] {1})
                        .mul(weights(eps.getManager(), timesteps)).mean();
            };
        }

        private NDArray weights(NDManager m, long[] timesteps) {
            return m.create(minSnrWeights(scheduler.alphasCumprod(), timesteps, 5f));
        }

        private static NDArray squeezeTokens(NDArray c) {
            return c.getShape().dimension() == 3 ? c.squeeze(1) : c;
        }

        @Override
        public void close() {
            unet.close();
            vae.close();
            manager.close();
        }
    }
}
