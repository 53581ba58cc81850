package dev.nextgpt.runtime.diffusion.scheduler;

import ai.djl.ndarray.NDArray;
import dev.nextgpt.UnsupportedConfigurationException;

import java.util.ArrayList;
import java.util.List;

/**
 * DPM-Solver++ multistep (diffusers {@code DPMSolverMultistepScheduler}, algorithm {@code dpmsolver++}, solver
 * order 1-3, {@code midpoint} or {@code heun} second-order update). Two variants of the schedule end:
 * <ul>
 *   <li>current diffusers ({@code legacy = false}): the noise levels are sigmas interpolated at the timesteps, and
 *       the last step goes to {@code final_sigmas_type} ({@code zero}: sigma 0, i.e. the x0 prediction, always
 *       first order; {@code sigma_min}: the smallest training sigma);</li>
 *   <li>diffusers 0.17 ({@code legacy = true}, NExT-GPT's pin): alpha/sigma/lambda tables indexed by the integer
 *       timesteps, the last step ends at timestep 0 and is first order only when lower_order_final and fewer than
 *       15 steps.</li>
 * </ul>
 */
public final class DpmSolverMultistepScheduler extends DiffusionScheduler {
    private final boolean legacy;
    private float[] sigmas = new float[0];
    private final List<NDArray> modelOutputs = new ArrayList<>();
    private final List<Double> outputTimesteps = new ArrayList<>();
    private int lowerOrderNums;
    private int stepIndex = -1;

    public DpmSolverMultistepScheduler(SchedulerConfig config) {
        this(config, false);
    }

    public DpmSolverMultistepScheduler(SchedulerConfig config, boolean legacy) {
        super(config);
        this.legacy = legacy;
        if (!config.algorithmType().equals("dpmsolver++")) {
            throw new UnsupportedConfigurationException("DPMSolverMultistep algorithm_type '" + config.algorithmType()
                    + "' is not supported (only dpmsolver++)");
        }
        if (!config.solverType().equals("midpoint") && !config.solverType().equals("heun")) {
            throw new UnsupportedConfigurationException("DPMSolverMultistep solver_type '" + config.solverType()
                    + "' is not supported (midpoint, heun)");
        }
        if (config.solverOrder() < 1 || config.solverOrder() > 3) {
            throw new UnsupportedConfigurationException("DPMSolverMultistep solver_order must be 1..3 but is "
                    + config.solverOrder());
        }
        if (!legacy && !config.finalSigmasType().equals("zero") && !config.finalSigmasType().equals("sigma_min")) {
            throw new UnsupportedConfigurationException("final_sigmas_type '" + config.finalSigmasType()
                    + "' is not supported (zero, sigma_min)");
        }
    }

    @Override
    public void setTimesteps(int n) {
        requireStepsWithinTraining(n);
        int train = config.numTrainTimesteps();
        resetState();
        modelOutputs.clear();
        outputTimesteps.clear();
        lowerOrderNums = 0;
        stepIndex = -1;
        numInferenceSteps = n;
        String spacing = config.spacing("linspace");
        double[] t;
        switch (spacing) {
            case "linspace": {
                double[] l = linspace(0, train - 1, n + 1);
                t = new double[n];
                for (int i = 0; i < n; i++) {
                    t[i] = roundHalfEven(l[n - i]);
                }
                break;
            }
            case "leading": {
                int ratio = train / (n + 1);
                t = new double[n];
                for (int i = 0; i < n; i++) {
                    t[i] = (double) (n - i) * ratio + config.stepsOffset();
                }
                break;
            }
            case "trailing":
                t = spacedIntegerTimesteps(config, n, "trailing");
                break;
            default:
                throw unsupportedSpacing(spacing);
        }
        timesteps = t;
        sigmas = interpolatedSigmas(t, config.finalSigmasType().equals("sigma_min") ? trainSigmas()[0] : 0f);
    }

    /** The sigmas (copy; current-diffusers variant), one per timestep plus the final one. */
    public float[] sigmas() {
        return sigmas.clone();
    }

    /** alpha_t, sigma_t of step position {@code i} (i = timesteps.length means the end of the schedule). */
    private double[] alphaSigma(int i) {
        if (legacy) {
            double acp = i < timesteps.length ? alphasCumprod[trainIndex(timesteps[i])] : alphasCumprod[0];
            return new double[] {Math.sqrt(acp), Math.sqrt(1 - acp)};
        }
        double s = sigmas[i];
        double a = 1 / Math.sqrt(s * s + 1);
        return new double[] {a, s * a};
    }

    private static double lambda(double[] as) {
        return Math.log(as[0]) - Math.log(as[1]);
    }

    @Override
    public StepResult step(NDArray modelOutput, double t, NDArray sample, NDArray noise) {
        requireTimesteps();
        stepIndex = resolveStepIndex(stepIndex, t);
        int n = timesteps.length;
        boolean last = stepIndex == n - 1;
        boolean lowerOrderFinal;
        boolean lowerOrderSecond;
        if (legacy) {
            lowerOrderFinal = last && config.lowerOrderFinal() && n < 15;
            lowerOrderSecond = stepIndex == n - 2 && config.lowerOrderFinal() && n < 15;
        } else {
            lowerOrderFinal = last && ((config.lowerOrderFinal() && n < 15)
                    || config.finalSigmasType().equals("zero"));
            lowerOrderSecond = false;
        }
        // data prediction x0
        double[] asNow = alphaSigma(stepIndex);
        NDArray x0 = predictOriginal(modelOutput, sample, asNow[0], asNow[1]);
        int order = config.solverOrder();
        modelOutputs.add(keep(x0));
        outputTimesteps.add(t);
        while (modelOutputs.size() > order) {
            drop(modelOutputs.remove(0));
            outputTimesteps.remove(0);
        }
        NDArray prev;
        if (order == 1 || lowerOrderNums < 1 || lowerOrderFinal) {
            prev = firstOrder(x0, sample);
        } else if (order == 2 || lowerOrderNums < 2 || lowerOrderSecond) {
            prev = secondOrder(sample);
        } else {
            prev = thirdOrder(sample);
        }
        if (lowerOrderNums < order) {
            lowerOrderNums++;
        }
        stepIndex++;
        return new StepResult(prev, x0);
    }

    private NDArray firstOrder(NDArray x0, NDArray sample) {
        double[] s = alphaSigma(stepIndex);
        double[] tt = alphaSigma(stepIndex + 1);
        double h = lambda(tt) - lambda(s);
        // sigma_t = 0 (final zero sigma): h = +inf, exp(-h) = 0, result = x0
        double ratio = tt[1] / s[1];
        double c = tt[0] * (Math.exp(-h) - 1.0);
        return sample.mul((float) ratio).sub(x0.mul((float) c));
    }

    private NDArray secondOrder(NDArray sample) {
        double[] t = alphaSigma(stepIndex + 1);
        double[] s0 = alphaSigma(stepIndex);
        double[] s1 = alphaSigma(stepIndex - 1);
        NDArray m0 = local(modelOutputs.get(modelOutputs.size() - 1), sample);
        NDArray m1 = local(modelOutputs.get(modelOutputs.size() - 2), sample);
        double h = lambda(t) - lambda(s0);
        double h0 = lambda(s0) - lambda(s1);
        double r0 = h0 / h;
        NDArray d1 = m0.sub(m1).mul((float) (1.0 / r0));
        double em1 = Math.exp(-h) - 1.0;
        NDArray x = sample.mul((float) (t[1] / s0[1])).sub(m0.mul((float) (t[0] * em1)));
        if (config.solverType().equals("midpoint")) {
            return x.sub(d1.mul((float) (0.5 * t[0] * em1)));
        }
        return x.add(d1.mul((float) (t[0] * (em1 / h + 1.0))));
    }

    private NDArray thirdOrder(NDArray sample) {
        double[] t = alphaSigma(stepIndex + 1);
        double[] s0 = alphaSigma(stepIndex);
        double[] s1 = alphaSigma(stepIndex - 1);
        double[] s2 = alphaSigma(stepIndex - 2);
        int k = modelOutputs.size();
        NDArray m0 = local(modelOutputs.get(k - 1), sample);
        NDArray m1 = local(modelOutputs.get(k - 2), sample);
        NDArray m2 = local(modelOutputs.get(k - 3), sample);
        double h = lambda(t) - lambda(s0);
        double h0 = lambda(s0) - lambda(s1);
        double h1 = lambda(s1) - lambda(s2);
        double r0 = h0 / h;
        double r1 = h1 / h;
        NDArray d10 = m0.sub(m1).mul((float) (1.0 / r0));
        NDArray d11 = m1.sub(m2).mul((float) (1.0 / r1));
        NDArray d1 = d10.add(d10.sub(d11).mul((float) (r0 / (r0 + r1))));
        NDArray d2 = d10.sub(d11).mul((float) (1.0 / (r0 + r1)));
        double em1 = Math.exp(-h) - 1.0;
        return sample.mul((float) (t[1] / s0[1])).sub(m0.mul((float) (t[0] * em1)))
                .add(d1.mul((float) (t[0] * (em1 / h + 1.0))))
                .sub(d2.mul((float) (t[0] * ((em1 + h) / (h * h) - 0.5))));
    }

    /**
     * Forward diffusion {@code alpha(sigma)·x0 + sigma_t(sigma)·noise}. Current diffusers looks each timestep up in
     * the inference schedule and, for a timestep that is not in it, uses the LAST schedule entry (reproduced here);
     * the legacy (0.17) variant uses the DDPM formula at the training timestep.
     */
    @Override
    public NDArray addNoise(NDArray original, NDArray noise, double[] perSampleTimesteps) {
        if (legacy) {
            return super.addNoise(original, noise, perSampleTimesteps);
        }
        requireTimesteps();
        float[] a = new float[perSampleTimesteps.length];
        float[] b = new float[perSampleTimesteps.length];
        for (int i = 0; i < a.length; i++) {
            int idx = timesteps.length - 1;
            int count = 0;
            for (int j = 0; j < timesteps.length; j++) {
                if (timesteps[j] == perSampleTimesteps[i]) {
                    count++;
                    if (count == 1 || count == 2) {
                        idx = j;
                    }
                }
            }
            double[] as = alphaSigma(idx);
            a[i] = (float) as[0];
            b[i] = (float) as[1];
        }
        return original.mul(perSample(original, a)).add(noise.mul(perSample(original, b)));
    }

    @Override
    protected void resetState() {
        super.resetState();
        modelOutputs.clear();
        outputTimesteps.clear();
    }
}
