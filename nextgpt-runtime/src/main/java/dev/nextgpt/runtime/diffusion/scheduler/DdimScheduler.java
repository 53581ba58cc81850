package dev.nextgpt.runtime.diffusion.scheduler;

import ai.djl.ndarray.NDArray;
import dev.nextgpt.InvalidInputException;

/** DDIM (diffusers {@code DDIMScheduler}); {@code eta} 0 by default (deterministic). */
public final class DdimScheduler extends DiffusionScheduler {
    private double eta;

    public DdimScheduler(SchedulerConfig config) {
        super(config);
    }

    /** The DDIM eta (0 = deterministic DDIM, 1 = DDPM-like variance); noise is drawn per step when eta > 0. */
    public void setEta(double eta) {
        if (eta < 0) {
            throw new InvalidInputException("DDIM eta must be >= 0 but is " + eta);
        }
        this.eta = eta;
    }

    @Override
    public void setTimesteps(int n) {
        requireStepsWithinTraining(n);
        resetState();
        numInferenceSteps = n;
        timesteps = spacedIntegerTimesteps(config, n, "leading");
    }

    @Override
    public StepResult step(NDArray modelOutput, double t, NDArray sample, NDArray noise) {
        requireTimesteps();
        int ti = trainIndex(t);
        int prev = ti - config.numTrainTimesteps() / numInferenceSteps;
        double aT = alphasCumprod[ti];
        double aPrev = prev >= 0 ? alphasCumprod[prev] : finalAlphaCumprod;
        double bT = 1 - aT;
        NDArray x0 = predictOriginal(modelOutput, sample, Math.sqrt(aT), Math.sqrt(bT));
        NDArray eps;
        switch (config.predictionType()) {
            case "epsilon":
                eps = modelOutput;
                break;
            case "sample":
                eps = sample.sub(x0.mul((float) Math.sqrt(aT))).div((float) Math.sqrt(bT));
                break;
            default: // v_prediction
                eps = modelOutput.mul((float) Math.sqrt(aT)).add(sample.mul((float) Math.sqrt(bT)));
        }
        if (config.clipSample()) {
            x0 = maybeClip(x0);
            // diffusers re-derives epsilon only with use_clipped_model_output; default keeps the model's epsilon
        }
        double variance = (1 - aPrev) / (1 - aT) * (1 - aT / aPrev);
        double std = eta * Math.sqrt(variance);
        NDArray direction = eps.mul((float) Math.sqrt(1 - aPrev - std * std));
        NDArray prevSample = x0.mul((float) Math.sqrt(aPrev)).add(direction);
        if (eta > 0) {
            NDArray z = noise != null ? noise : drawNoise(sample);
            prevSample = prevSample.add(z.mul((float) std));
        }
        return new StepResult(prevSample, x0);
    }
}
