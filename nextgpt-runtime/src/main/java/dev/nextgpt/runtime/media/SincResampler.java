package dev.nextgpt.runtime.media;

import dev.nextgpt.InvalidInputException;

/**
 * Band-limited resampling like {@code torchaudio.functional.resample} with {@code sinc_interp_hann}
 * ({@code "sinc_interpolation"} in torchaudio 0.13): rates reduced by their gcd, cutoff
 * {@code min(orig,new)·rolloff}, a Hann-windowed sinc of {@code lowpass_filter_width} zero crossings, one kernel
 * per output phase, input zero-padded by {@code width} on the left and {@code width+orig} on the right, and the
 * output cut to {@code ceil(new·length/orig)} samples. The kernel is built in float32 like the original (which uses
 * the waveform dtype); the convolution accumulates in double.
 */
public final class SincResampler {
    private final int orig;
    private final int target;
    private final int width;
    private final float[][] kernels;

    public SincResampler(int origRate, int newRate) {
        this(origRate, newRate, 6, 0.99);
    }

    public SincResampler(int origRate, int newRate, int lowpassFilterWidth, double rolloff) {
        if (origRate <= 0 || newRate <= 0) {
            throw new InvalidInputException("sample rates must be positive, got " + origRate + " -> " + newRate);
        }
        if (lowpassFilterWidth <= 0) {
            throw new InvalidInputException("lowpass_filter_width must be positive, got " + lowpassFilterWidth);
        }
        int g = gcd(origRate, newRate);
        this.orig = origRate / g;
        this.target = newRate / g;
        double baseFreq = Math.min(orig, target) * rolloff;
        this.width = (int) Math.ceil(lowpassFilterWidth * orig / baseFreq);
        int len = 2 * width + orig;
        float base = (float) baseFreq;
        float scale = (float) (baseFreq / orig);
        this.kernels = new float[target][len];
        for (int i = 0; i < target; i++) {
            float phase = (float) -i / target;
            for (int k = 0; k < len; k++) {
                float idx = (float) ((double) (k - width) / orig);
                float t = (phase + idx) * base;
                t = Math.max(-lowpassFilterWidth, Math.min(lowpassFilterWidth, t));
                float c = (float) Math.cos(t * (float) Math.PI / lowpassFilterWidth / 2);
                float window = c * c;
                float tp = t * (float) Math.PI;
                float sinc = tp == 0f ? 1f : (float) Math.sin(tp) / tp;
                kernels[i][k] = sinc * (window * scale);
            }
        }
    }

    private static int gcd(int a, int b) {
        return b == 0 ? a : gcd(b, a % b);
    }

    /** Output length for {@code length} input samples: {@code ceil(new·length/orig)}. */
    public int outputLength(int length) {
        return (int) Math.ceil((double) target * length / orig);
    }

    /** Resamples one channel. */
    public float[] resample(float[] x) {
        if (orig == target) {
            return x.clone();
        }
        int n = x.length;
        int outLen = outputLength(n);
        float[] out = new float[outLen];
        int len = 2 * width + orig;
        for (int o = 0; o < outLen; o++) {
            int frame = o / target;
            int phase = o % target;
            float[] kern = kernels[phase];
            int start = frame * orig - width;
            double acc = 0;
            int k0 = Math.max(0, -start);
            int k1 = Math.min(len, n - start);
            for (int k = k0; k < k1; k++) {
                acc += (double) x[start + k] * kern[k];
            }
            out[o] = (float) acc;
        }
        return out;
    }
}
