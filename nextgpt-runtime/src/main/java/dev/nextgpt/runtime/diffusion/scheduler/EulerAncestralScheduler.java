package dev.nextgpt.runtime.diffusion.scheduler;

/**
 * Euler ancestral (diffusers {@code EulerAncestralDiscreteScheduler}). Each step adds {@code sigma_up · noise}; pass
 * the noise to {@link #step(ai.djl.ndarray.NDArray, double, ai.djl.ndarray.NDArray, ai.djl.ndarray.NDArray)} to
 * reproduce a PyTorch trace, otherwise it comes from the seeded Java generator (which cannot match torch's).
 */
public final class EulerAncestralScheduler extends EulerDiscreteScheduler {
    public EulerAncestralScheduler(SchedulerConfig config) {
        super(config, true);
    }
}
