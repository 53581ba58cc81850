package dev.nextgpt.train.optim;

import dev.nextgpt.InvalidInputException;

/**
 * Dynamic loss scaling for float16 training (DeepSpeed {@code DynamicLossScaler} with
 * {@code consecutive_hysteresis=false}; the legacy NExT-GPT config uses initial scale 2^16, window 1000,
 * hysteresis 2). The backward pass starts from {@code scale · loss}; a step whose unscaled gradients hold an inf or a
 * NaN is skipped. On such an overflow the scale is halved (not below {@code minScale}) once the hysteresis is used
 * up: with hysteresis {@code h}, the first {@code h − 1} overflows only count down. After {@code window}
 * consecutive good steps the scale doubles and the hysteresis is restored.
 */
public final class DynamicLossScaler {
    private final int window;
    private final int hysteresis;
    private final double minScale;
    private double scale;
    private int hysteresisLeft;
    private long goodSteps;
    private long skipped;

    public DynamicLossScaler(double initialScale, int window, int hysteresis, double minScale) {
        if (!(initialScale > 0) || window <= 0 || hysteresis <= 0 || !(minScale > 0) || minScale > initialScale) {
            throw new InvalidInputException("invalid loss scaler: initial " + initialScale + ", window " + window
                    + ", hysteresis " + hysteresis + ", min " + minScale);
        }
        this.scale = initialScale;
        this.window = window;
        this.hysteresis = hysteresis;
        this.minScale = minScale;
        this.hysteresisLeft = hysteresis;
    }

    /** The legacy DeepSpeed fp16 settings: 2^16, window 1000, hysteresis 2, min scale 1. */
    public static DynamicLossScaler legacyNextGpt() {
        return new DynamicLossScaler(65536, 1000, 2, 1);
    }

    public double scale() {
        return scale;
    }

    /** Steps skipped for overflow so far. */
    public long skippedSteps() {
        return skipped;
    }

    /** Whether the scale is at its minimum (a further overflow cannot be cured by scaling). */
    public boolean atMinimum() {
        return scale <= minScale;
    }

    /**
     * Records one step's outcome and updates the scale.
     *
     * @param overflow whether the gradients held an inf or a NaN
     * @return true when the optimiser step must be skipped (on overflow)
     */
    public boolean update(boolean overflow) {
        if (overflow) {
            if (hysteresis == 1 || hysteresisLeft == 1) {
                scale = Math.max(scale / 2, minScale);
            } else {
                hysteresisLeft--;
            }
            goodSteps = 0;
            skipped++;
            return true;
        }
        goodSteps++;
        if (goodSteps % window == 0) {
            scale *= 2;
            hysteresisLeft = hysteresis;
        }
        return false;
    }

    /** State for a checkpoint: {@code [scale, hysteresisLeft, goodSteps, skipped]}. */
    public double[] state() {
        return new double[] {scale, hysteresisLeft, goodSteps, skipped};
    }

    /** Restores {@link #state()}. */
    public void restore(double[] s) {
        scale = s[0];
        hysteresisLeft = (int) s[1];
        goodSteps = (long) s[2];
        skipped = (long) s[3];
    }
}
