package dev.nextgpt.runtime.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.runtime.diffusion.scheduler.DiffusionScheduler;

import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;

/**
 * The diffusers denoising loop with classifier-free guidance, as the AudioLDM and text-to-video pipelines run it:
 * {@code set_timesteps}, scale the initial latents by {@code init_noise_sigma}, then per timestep the doubled latent
 * input (unconditional half first) through the denoiser, {@code uncond + g·(text − uncond)}, the scheduler step.
 * The denoiser is a function, so each pipeline passes its own model call and conditioning.
 */
public final class GuidedDenoisingLoop {
    private GuidedDenoisingLoop() {
    }

    /** One model call: the noise prediction for a (scaled) latent input at a timestep tensor of one element. */
    @FunctionalInterface
    public interface Denoiser {
        NDArray predict(NDArray latentModelInput, NDArray timestep);
    }

    /**
     * What one step computed; the arrays live only during the callback. {@code noisePredUncond} is null without
     * guidance, where {@code noisePredText} and {@code noisePred} are the plain prediction.
     */
    public record Step(int index, int total, long timestep, NDArray latentModelInput, NDArray noisePredUncond,
                       NDArray noisePredText, NDArray noisePred, NDArray prevLatents) {
    }

    /** Per-step callback. */
    @FunctionalInterface
    public interface StepListener {
        void onStep(Step step);
    }

    /**
     * Runs {@code steps} denoising steps from {@code latents} (attached to {@code work}); guidance applies when
     * {@code guidance > 1} (the denoiser then gets the batch twice and its conditioning must be
     * {@code [negative; positive]}). {@code cancel} is checked before each step: a {@link CancellationException}
     * naming {@code what}. Returns the final latents, attached to {@code work}.
     */
    public static NDArray run(DiffusionScheduler scheduler, NDManager work, NDArray latents, int steps,
                              double guidance, Denoiser denoiser, StepListener listener, BooleanSupplier cancel,
                              String what) {
        boolean cfg = guidance > 1.0;
        scheduler.setTimesteps(steps);
        latents = latents.mul(scheduler.initNoiseSigma());
        double[] timesteps = scheduler.timesteps();
        for (int i = 0; i < timesteps.length; i++) {
            if (cancel != null && cancel.getAsBoolean()) {
                throw new CancellationException(what + " cancelled before step " + (i + 1) + " of "
                        + timesteps.length);
            }
            double t = timesteps[i];
            try (NDManager step = work.newSubManager()) {
                latents.tempAttach(step);
                NDArray in = cfg ? latents.concat(latents, 0) : latents;
                in = scheduler.scaleModelInput(in, t);
                NDArray tArr = scheduler.integerTimesteps() ? step.create(new long[] {(long) t})
                        : step.create(new float[] {(float) t});
                NDArray noise = denoiser.predict(in, tArr);
                NDArray uncond = null;
                NDArray text = noise;
                if (cfg) {
                    NDList halves = noise.split(2, 0);
                    uncond = halves.get(0);
                    text = halves.get(1);
                    noise = uncond.add(text.sub(uncond).mul((float) guidance));
                }
                NDArray next = scheduler.step(noise, t, latents, null).prevSample();
                if (listener != null) {
                    listener.onStep(new Step(i, timesteps.length, (long) t, in, uncond, text, noise, next));
                }
                next.attach(work);
                latents = next;
            }
        }
        return latents;
    }
}
