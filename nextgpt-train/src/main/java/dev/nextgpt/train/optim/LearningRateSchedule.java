package dev.nextgpt.train.optim;

import dev.nextgpt.InvalidInputException;

/** A learning rate as a function of the 0-based optimiser step. */
@FunctionalInterface
public interface LearningRateSchedule {

    double lr(long step);

    /** A constant rate. */
    static LearningRateSchedule constant(double lr) {
        return step -> lr;
    }

    /**
     * Linear warm-up from 0 to {@code peak} over {@code warmupSteps}, then cosine decay to {@code minLr} at
     * {@code totalSteps} (the HF "cosine" schedule of the current NExT-GPT scripts, with minLr 0).
     */
    static LearningRateSchedule warmupCosine(double peak, long warmupSteps, long totalSteps, double minLr) {
        if (totalSteps <= 0 || warmupSteps < 0 || warmupSteps > totalSteps) {
            throw new InvalidInputException("invalid schedule: warmup " + warmupSteps + ", total " + totalSteps);
        }
        return step -> {
            if (step < warmupSteps) {
                return peak * (step + 1) / (double) warmupSteps;
            }
            double progress = Math.min(1.0, (step - warmupSteps) / (double) Math.max(1, totalSteps - warmupSteps));
            return minLr + (peak - minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
        };
    }

    /**
     * DeepSpeed {@code WarmupDecayLR} with log warm-up as the legacy NExT-GPT configs use it:
     * {@code max·ln(step+1)/ln(W)} for step &lt; W, then {@code max·(T − step)/(T − W)}.
     */
    static LearningRateSchedule deepSpeedWarmupDecay(double maxLr, long warmupSteps, long totalSteps) {
        if (warmupSteps < 2 || totalSteps <= warmupSteps) {
            throw new InvalidInputException("invalid schedule: warmup " + warmupSteps + ", total " + totalSteps);
        }
        return step -> {
            if (step < warmupSteps) {
                return maxLr * Math.log(step + 1) / Math.log(warmupSteps);
            }
            return Math.max(0.0, maxLr * (totalSteps - step) / (double) (totalSteps - warmupSteps));
        };
    }

    /** The legacy warm-up length: {@code max(10, int(0.1·total))}. */
    static long legacyWarmupSteps(long totalSteps) {
        return Math.max(10, (long) (0.1 * totalSteps));
    }
}
