package dev.nextgpt.runtime.diffusion.scheduler;

import ai.djl.ndarray.NDArray;
import dev.nextgpt.InvalidInputException;

/**
 * Euler (diffusers {@code EulerDiscreteScheduler}, s_churn 0) and, with {@code ancestral = true}, Euler
 * ancestral ({@code EulerAncestralDiscreteScheduler}). Timesteps are float (fractional with linspace spacing);
 * sigmas are interpolated from {@code sqrt((1-acp)/acp)} and end with 0.
 */
public class EulerDiscreteScheduler extends DiffusionScheduler {
    private final boolean ancestral;
    /** float32 sigmas, one per timestep plus the final 0. */
    protected float[] sigmas = new float[0];
    private int stepIndex = -1;

    public EulerDiscreteScheduler(SchedulerConfig config) {
        this(config, false);
    }

    protected EulerDiscreteScheduler(SchedulerConfig config, boolean ancestral) {
        super(config);
        this.ancestral = ancestral;
    }

    @Override
    public boolean integerTimesteps() {
        return false;
    }

    @Override
    public void setTimesteps(int n) {
        requirePositiveSteps(n);
        resetState();
        numInferenceSteps = n;
        stepIndex = -1;
        int train = config.numTrainTimesteps();
        double[] t;
        if (config.spacing("linspace").equals("linspace")) {
            // fractional timesteps (float32), not rounded
            double[] l = linspace(0, train - 1, n);
            t = new double[n];
            for (int i = 0; i < n; i++) {
                t[i] = (float) l[n - 1 - i];
            }
        } else {
            // leading / trailing: the integer timesteps as float32
            t = spacedIntegerTimesteps(config, n, "linspace");
            for (int i = 0; i < t.length; i++) {
                t[i] = (float) t[i];
            }
        }
        timesteps = t;
        sigmas = interpolatedSigmas(t, 0f);
    }

    /** The sigmas (copy), one per timestep plus the trailing 0. */
    public float[] sigmas() {
        return sigmas.clone();
    }

    @Override
    public float initNoiseSigma() {
        float max = 0f;
        for (float s : sigmas) {
            max = Math.max(max, s);
        }
        String spacing = config.spacing("linspace");
        if (spacing.equals("linspace") || spacing.equals("trailing")) {
            return max;
        }
        return (float) Math.sqrt((double) max * max + 1);
    }

    @Override
    public NDArray scaleModelInput(NDArray sample, double t) {
        requireTimesteps();
        int i = stepIndex >= 0 ? stepIndex : indexForTimestep(t);
        float s = sigmas[i];
        return sample.div((float) Math.sqrt(s * s + 1f));
    }

    @Override
    public StepResult step(NDArray modelOutput, double t, NDArray sample, NDArray noise) {
        requireTimesteps();
        stepIndex = resolveStepIndex(stepIndex, t);
        float sigma = sigmas[stepIndex];
        float sigmaNext = sigmas[stepIndex + 1];
        NDArray x0;
        switch (config.predictionType()) {
            case "epsilon":
                x0 = sample.sub(modelOutput.mul(sigma));
                break;
            case "v_prediction":
                x0 = modelOutput.mul((float) (-sigma / Math.sqrt(sigma * sigma + 1f)))
                        .add(sample.div(sigma * sigma + 1f));
                break;
            default:
                x0 = modelOutput;
        }
        NDArray derivative = sample.sub(x0).div(sigma);
        NDArray prev;
        if (!ancestral) {
            prev = sample.add(derivative.mul(sigmaNext - sigma));
        } else {
            double up = Math.sqrt((double) sigmaNext * sigmaNext * ((double) sigma * sigma
                    - (double) sigmaNext * sigmaNext) / ((double) sigma * sigma));
            double down = Math.sqrt((double) sigmaNext * sigmaNext - up * up);
            prev = sample.add(derivative.mul((float) (down - sigma)));
            NDArray z = noise != null ? noise : drawNoise(sample);
            if (!z.getShape().equals(sample.getShape())) {
                throw new InvalidInputException("ancestral noise has shape " + z.getShape() + " but the sample has "
                        + sample.getShape());
            }
            prev = prev.add(z.mul((float) up));
        }
        stepIndex++;
        return new StepResult(prev, x0);
    }

    /** Sigma-based forward diffusion {@code x0 + sigma(t)·noise} for schedule timesteps (one per sample). */
    @Override
    public NDArray addNoise(NDArray original, NDArray noise, double[] perSampleTimesteps) {
        requireTimesteps();
        float[] s = new float[perSampleTimesteps.length];
        for (int i = 0; i < s.length; i++) {
            s[i] = sigmas[indexForTimestep(perSampleTimesteps[i])];
        }
        return original.add(noise.mul(perSample(original, s)));
    }
}
