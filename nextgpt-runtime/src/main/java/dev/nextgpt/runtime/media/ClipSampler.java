package dev.nextgpt.runtime.media;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.List;

/**
 * pytorchvideo's {@code ConstantClipsPerVideoSampler} as driven by ImageBind's {@code get_clip_timepoints}: clip
 * {@code i} starts at {@code i·max(duration−clip,0)/max(n−1,1)} with exact rational arithmetic (the float
 * {@code duration − clip} is taken at its exact binary value, like {@code Fraction(float)}) and ends {@code clip}
 * seconds later; sampling stops after {@code n} clips or once the next start would pass the last possible start.
 */
public final class ClipSampler {
    private ClipSampler() {
    }

    /** One clip window, kept exact as {@code numerator / denominator} seconds. */
    public record Clip(BigDecimal startNumerator, BigDecimal endNumerator, int denominator) {
        public double startSec() {
            return startNumerator.doubleValue() / denominator;
        }

        public double endSec() {
            return endNumerator.doubleValue() / denominator;
        }

        /** {@code int(start · rate)}: truncation, exact. */
        public int startIndex(double rate) {
            return scaled(startNumerator, rate, RoundingMode.FLOOR);
        }

        /** {@code int(end · rate)}: truncation, exact. */
        public int endIndex(double rate) {
            return scaled(endNumerator, rate, RoundingMode.FLOOR);
        }

        /** {@code ceil(rate · start)}, exact (pytorchvideo's decord frame rule). */
        public int startIndexCeil(double rate) {
            return scaled(startNumerator, rate, RoundingMode.CEILING);
        }

        /** {@code ceil(rate · end)}, exact. */
        public int endIndexCeil(double rate) {
            return scaled(endNumerator, rate, RoundingMode.CEILING);
        }

        private int scaled(BigDecimal numerator, double rate, RoundingMode mode) {
            return numerator.multiply(new BigDecimal(rate)).divide(BigDecimal.valueOf(denominator), 0, mode)
                    .intValueExact();
        }
    }

    /** The clips for a medium of {@code durationSec} seconds. */
    public static List<Clip> clips(double durationSec, double clipDurationSec, int clipsPerVideo) {
        if (clipsPerVideo <= 0) {
            throw new IllegalArgumentException("clipsPerVideo must be positive");
        }
        BigDecimal clip = new BigDecimal(clipDurationSec);
        BigDecimal maxStart = new BigDecimal(Math.max(durationSec - clipDurationSec, 0.0));
        int denom = Math.max(clipsPerVideo - 1, 1);
        BigDecimal clipNum = clip.multiply(BigDecimal.valueOf(denom));
        BigDecimal maxStartNum = maxStart.multiply(BigDecimal.valueOf(denom));
        List<Clip> out = new ArrayList<>();
        for (int i = 0; ; i++) {
            BigDecimal startNum = maxStart.multiply(BigDecimal.valueOf(i));
            out.add(new Clip(startNum, startNum.add(clipNum), denom));
            int next = i + 1;
            if (next >= clipsPerVideo || maxStart.multiply(BigDecimal.valueOf(next)).compareTo(maxStartNum) > 0) {
                break;
            }
        }
        return out;
    }

    /** Sample ranges {@code [n][2]} = {from, to} (to exclusive, not clamped to the signal length). */
    public static int[][] sampleRanges(int numSamples, int rate, double clipDurationSec, int clipsPerVideo) {
        List<Clip> clips = clips((double) numSamples / rate, clipDurationSec, clipsPerVideo);
        int[][] r = new int[clips.size()][2];
        for (int i = 0; i < r.length; i++) {
            r[i][0] = clips.get(i).startIndex(rate);
            r[i][1] = clips.get(i).endIndex(rate);
        }
        return r;
    }
}
