package dev.nextgpt.runtime.diffusion.scheduler;

import ai.djl.ndarray.NDArray;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.UnsupportedConfigurationException;

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
        requirePositiveSteps(n);
        int train = config.numTrainTimesteps();
        if (n > train) {
            throw new InvalidInputException("num_inference_steps " + n + " exceeds num_train_timesteps " + train);
        }
        resetState();
        numInferenceSteps = n;
        timesteps = spacedIntegerTimesteps(config, n, "leading");
    }

    /** Leading / trailing / linspace integer timesteps (DDIM and DDPM rules), descending. */
    static double[] spacedIntegerTimesteps(SchedulerConfig config, int n, String classDefault) {
        int train = config.numTrainTimesteps();
        String spacing = config.spacing(classDefault);
        double[] t = new double[n];
        switch (spacing) {
            case "linspace": {
                double[] l = linspace(0, train - 1, n);
                for (int i = 0; i < n; i++) {
                    t[i] = roundHalfEven(l[n - 1 - i]);
                }
                return t;
            }
            case "leading": {
                int ratio = train / n;
                for (int i = 0; i < n; i++) {
                    t[i] = (double) (n - 1 - i) * ratio + config.stepsOffset();
                }
                return t;
            }
            case "trailing": {
                double ratio = (double) train / n;
                java.util.List<Double> v = new java.util.ArrayList<>();
                for (double x = train; x > 0; x -= ratio) {
                    v.add(roundHalfEven(x) - 1);
                }
                return v.stream().mapToDouble(Double::doubleValue).toArray();
            }
            default:
                throw new UnsupportedConfigurationException("timestep_spacing '" + spacing
                        + "' is not supported (leading, trailing, linspace)");
        }
    }

    @Override
    public StepResult step(NDArray modelOutput, double t, NDArray sample, NDArray noise) {
        requireTimesteps();
        int ti = trainIndex(t);
        int prev = ti - config.numTrainTimesteps() / numInferenceSteps;
        double aT = alphasCumprod[ti];
        double aPrev = prev >= 0 ? alphasCumprod[prev] : finalAlphaCumprod;
        double bT = 1 - aT;
        NDArray x0;
        NDArray eps;
        switch (config.predictionType()) {
            case "epsilon":
                x0 = sample.sub(modelOutput.mul((float) Math.sqrt(bT))).div((float) Math.sqrt(aT));
                eps = modelOutput;
                break;
            case "sample":
                x0 = modelOutput;
                eps = sample.sub(x0.mul((float) Math.sqrt(aT))).div((float) Math.sqrt(bT));
                break;
            default: // v_prediction
                x0 = sample.mul((float) Math.sqrt(aT)).sub(modelOutput.mul((float) Math.sqrt(bT)));
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
