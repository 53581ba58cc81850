package dev.nextgpt.runtime.diffusion.scheduler;

import ai.djl.ndarray.NDArray;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.UnsupportedConfigurationException;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * PNDM (diffusers {@code PNDMScheduler}): PLMS with the 2-stage warm-up when {@code skip_prk_steps}, otherwise 3
 * Runge-Kutta (PRK) warm-up steps of 4 model calls each followed by PLMS.
 */
public final class PndmScheduler extends DiffusionScheduler {
    private int prkCount;
    private final List<NDArray> ets = new ArrayList<>();
    private int counter;
    private NDArray curModelOutput;
    private NDArray curSample;

    public PndmScheduler(SchedulerConfig config) {
        super(config);
    }

    @Override
    public void setTimesteps(int n) {
        requireStepsWithinTraining(n);
        int train = config.numTrainTimesteps();
        resetState();
        ets.clear();
        counter = 0;
        curModelOutput = null;
        curSample = null;
        numInferenceSteps = n;
        double[] base = ascendingBase(n);
        List<Double> all = new ArrayList<>();
        if (config.skipPrkSteps()) {
            prkCount = 0;
            // [t_0..t_{n-2}, t_{n-2}, t_{n-1}] reversed
            List<Double> plms = new ArrayList<>();
            for (int i = 0; i < n - 1; i++) {
                plms.add(base[i]);
            }
            if (n >= 2) {
                plms.add(base[n - 2]);
            }
            plms.add(base[n - 1]);
            for (int i = plms.size() - 1; i >= 0; i--) {
                all.add(plms.get(i));
            }
        } else {
            if (n < 4) {
                throw new InvalidInputException("PNDM with PRK warm-up needs at least 4 steps, got " + n);
            }
            int order = 4;
            int half = train / n / 2;
            List<Double> prk = new ArrayList<>();
            for (int i = n - order; i < n; i++) {
                prk.add(base[i]);
                prk.add(base[i] + half);
            }
            // np.array(...).repeat(2) + tile([0, half]) was built above as pairs; now [:-1].repeat(2)[1:-1][::-1]
            List<Double> rep = new ArrayList<>();
            for (int i = 0; i < prk.size() - 1; i++) {
                rep.add(prk.get(i));
                rep.add(prk.get(i));
            }
            List<Double> mid = rep.subList(1, rep.size() - 1);
            for (int i = mid.size() - 1; i >= 0; i--) {
                all.add(mid.get(i));
            }
            prkCount = all.size();
            for (int i = n - 4; i >= 0; i--) {
                all.add(base[i]);
            }
        }
        timesteps = all.stream().mapToDouble(Double::doubleValue).toArray();
    }

    /** The integer timesteps of the configured spacing (class default leading), ascending. */
    private double[] ascendingBase(int n) {
        return reversed(spacedIntegerTimesteps(config, n, "leading"));
    }

    @Override
    public StepResult step(NDArray modelOutput, double t, NDArray sample, NDArray noise) {
        requireTimesteps();
        if (counter < prkCount && !config.skipPrkSteps()) {
            return stepPrk(modelOutput, t, sample);
        }
        return stepPlms(modelOutput, t, sample);
    }

    private StepResult stepPrk(NDArray modelOutput, double t, NDArray sample) {
        int train = config.numTrainTimesteps();
        int diffToPrev = counter % 2 != 0 ? 0 : train / numInferenceSteps / 2;
        double prevT = t - diffToPrev;
        double tt = timesteps[counter / 4 * 4];
        NDArray mo = modelOutput;
        if (counter % 4 == 0) {
            drop(curModelOutput);
            curModelOutput = keep(modelOutput.mul(1f / 6f));
            ets.add(keep(modelOutput));
            drop(curSample);
            curSample = keep(sample);
        } else if ((counter - 1) % 4 == 0 || (counter - 2) % 4 == 0) {
            NDArray sum = modelOutput.mul(1f / 3f).add(local(curModelOutput, modelOutput));
            drop(curModelOutput);
            curModelOutput = keep(sum);
        } else {
            mo = modelOutput.mul(1f / 6f).add(local(curModelOutput, modelOutput));
            drop(curModelOutput);
            curModelOutput = null;
        }
        NDArray base = curSample != null ? local(curSample, sample) : sample;
        NDArray prev = prevSample(base, tt, prevT, mo);
        counter++;
        return new StepResult(prev, null);
    }

    private StepResult stepPlms(NDArray modelOutput, double t, NDArray sample) {
        if (!config.skipPrkSteps() && ets.size() < 3) {
            throw new IllegalStateException("PLMS step before the PRK warm-up finished");
        }
        int ratio = config.numTrainTimesteps() / numInferenceSteps;
        double prevT = t - ratio;
        double tt = t;
        if (counter != 1) {
            while (ets.size() > 3) {
                drop(ets.remove(0));
            }
            ets.add(keep(modelOutput));
        } else {
            prevT = t;
            tt = t + ratio;
        }
        NDArray mo;
        NDArray s = sample;
        int n = ets.size();
        if (n == 1 && counter == 0) {
            mo = modelOutput;
            drop(curSample);
            curSample = keep(sample);
        } else if (n == 1 && counter == 1) {
            mo = modelOutput.add(local(ets.get(0), modelOutput)).div(2f);
            s = local(curSample, sample);
            drop(curSample);
            curSample = null;
        } else if (n == 2) {
            mo = e(3, 1, modelOutput).sub(e(1, 0, modelOutput)).div(2f);
        } else if (n == 3) {
            mo = e(23, 2, modelOutput).sub(e(16, 1, modelOutput)).add(e(5, 0, modelOutput)).div(12f);
        } else {
            mo = e(55, 3, modelOutput).sub(e(59, 2, modelOutput)).add(e(37, 1, modelOutput))
                    .sub(e(9, 0, modelOutput)).mul(1f / 24f);
        }
        NDArray prev = prevSample(s, tt, prevT, mo);
        counter++;
        return new StepResult(prev, null);
    }

    /** {@code coeff * ets[i]} computed in {@code like}'s manager. */
    private NDArray e(float coeff, int i, NDArray like) {
        return local(ets.get(i), like).mul(coeff);
    }

    /** Formula (9) of the PNDM paper. */
    private NDArray prevSample(NDArray sample, double t, double prevT, NDArray modelOutput) {
        int ti = trainIndex(t);
        double aT = alphasCumprod[ti];
        double aPrev = prevT >= 0 ? alphasCumprod[trainIndex(prevT)] : finalAlphaCumprod;
        double bT = 1 - aT;
        double bPrev = 1 - aPrev;
        NDArray mo = modelOutput;
        if (config.predictionType().equals("v_prediction")) {
            mo = modelOutput.mul((float) Math.sqrt(aT)).add(sample.mul((float) Math.sqrt(bT)));
        } else if (!config.predictionType().equals("epsilon")) {
            throw new UnsupportedConfigurationException("PNDM supports prediction_type epsilon and v_prediction, not "
                    + config.predictionType());
        }
        double sampleCoeff = Math.sqrt(aPrev / aT);
        double denom = aT * Math.sqrt(bPrev) + Math.sqrt(aT * bT * aPrev);
        return sample.mul((float) sampleCoeff).sub(mo.mul((float) ((aPrev - aT) / denom)));
    }

    @Override
    protected void resetState() {
        super.resetState();
        ets.clear();
        curModelOutput = null;
        curSample = null;
    }

    @Override
    public String toString() {
        return "PNDM" + Arrays.toString(timesteps);
    }
}
