package dev.nextgpt.runtime.media;

import dev.nextgpt.InvalidInputException;

/**
 * Log mel filterbank features like {@code torchaudio.compliance.kaldi.fbank} with ImageBind's arguments:
 * frames of {@code frameLength} ms every {@code frameShift} ms with {@code snip_edges}, per-frame DC removal,
 * pre-emphasis ({@code x[i] − k·x[i−1]}, {@code x[−1] = x[0]}), a symmetric window ({@code hanning}, {@code hamming},
 * {@code povey}, {@code rectangular}, {@code blackman}), zero padding to the next power of two, the power (or
 * magnitude) spectrum, Kaldi's triangular HTK-mel banks between {@code lowFreq} and {@code highFreq} (≤ 0 means
 * relative to Nyquist) and {@code log(max(e, float32 eps))}. {@code use_energy} is false and dither 0, so the
 * output holds only the mel bins. Only the given channel is used (torchaudio uses channel 0). Computed in double
 * with an own radix-2 FFT.
 */
public final class KaldiFbank {
    private static final double FLOAT_EPS = 1.1920928955078125e-07;

    /** Options of torchaudio's {@code kaldi.fbank} that ImageBind sets or relies on. */
    public record Options(double sampleFrequency, double frameLengthMs, double frameShiftMs, int numMelBins,
                          double lowFreq, double highFreq, double preemphasis, boolean removeDcOffset,
                          String windowType, boolean usePower, boolean roundToPowerOfTwo) {
        /** ImageBind's call: 16 kHz, 25/10 ms, hanning, 128 bins, Kaldi defaults otherwise. */
        public static Options imageBind(int numMelBins) {
            return new Options(16000, 25, 10, numMelBins, 20, 0, 0.97, true, "hanning", true, true);
        }
    }

    private final Options o;
    private final int windowSize;
    private final int windowShift;
    private final int paddedSize;
    private final double[] window;
    private final double[][] melBanks; // [bin][fftBin] for fftBin < paddedSize/2
    private final int[] melFirst;
    private final int[] melLast;
    private final Fft fft;

    public KaldiFbank(Options options) {
        this.o = options;
        this.windowSize = (int) (options.sampleFrequency() * options.frameLengthMs() * 0.001);
        this.windowShift = (int) (options.sampleFrequency() * options.frameShiftMs() * 0.001);
        if (windowSize < 2 || windowShift < 1) {
            throw new InvalidInputException("fbank window " + windowSize + " / shift " + windowShift + " samples is too small");
        }
        this.paddedSize = options.roundToPowerOfTwo() ? Integer.highestOneBit(windowSize - 1) << 1 : windowSize;
        if (Integer.bitCount(paddedSize) != 1) {
            throw new InvalidInputException("fbank FFT size " + paddedSize + " must be a power of two");
        }
        this.window = window(options.windowType(), windowSize);
        this.fft = new Fft(paddedSize);
        int numFftBins = paddedSize / 2;
        double nyquist = 0.5 * options.sampleFrequency();
        double high = options.highFreq() <= 0 ? options.highFreq() + nyquist : options.highFreq();
        double low = options.lowFreq();
        if (low < 0 || low >= nyquist || high <= 0 || high > nyquist || high <= low) {
            throw new InvalidInputException("bad mel band: low " + low + " Hz, high " + high + " Hz, nyquist " + nyquist);
        }
        float binWidth = (float) (options.sampleFrequency() / paddedSize);
        double melLow = mel(low);
        double melHigh = mel(high);
        float delta = (float) ((melHigh - melLow) / (options.numMelBins() + 1));
        int nb = options.numMelBins();
        melBanks = new double[nb][numFftBins];
        melFirst = new int[nb];
        melLast = new int[nb];
        float[] fftMel = new float[numFftBins];
        for (int k = 0; k < numFftBins; k++) {
            fftMel[k] = (float) (1127.0 * Math.log1p((double) (binWidth * k) / 700.0));
        }
        for (int b = 0; b < nb; b++) {
            float left = (float) melLow + b * delta;
            float center = (float) melLow + (b + 1f) * delta;
            float right = (float) melLow + (b + 2f) * delta;
            melFirst[b] = numFftBins;
            melLast[b] = -1;
            for (int k = 0; k < numFftBins; k++) {
                float up = (fftMel[k] - left) / (center - left);
                float down = (right - fftMel[k]) / (right - center);
                float w = Math.max(0f, Math.min(up, down));
                melBanks[b][k] = w;
                if (w > 0) {
                    melFirst[b] = Math.min(melFirst[b], k);
                    melLast[b] = k;
                }
            }
        }
    }

    private static double mel(double f) {
        return 1127.0 * Math.log(1.0 + f / 700.0);
    }

    private static double[] window(String type, int n) {
        double[] w = new double[n];
        double a = 2 * Math.PI / (n - 1);
        for (int i = 0; i < n; i++) {
            w[i] = switch (type) {
                case "hanning" -> 0.5 - 0.5 * Math.cos(a * i);
                case "hamming" -> 0.54 - 0.46 * Math.cos(a * i);
                case "povey" -> Math.pow(0.5 - 0.5 * Math.cos(a * i), 0.85);
                case "rectangular" -> 1.0;
                case "blackman" -> 0.42 - 0.5 * Math.cos(a * i) + 0.08 * Math.cos(2 * a * i);
                default -> throw new InvalidInputException("unknown fbank window type '" + type
                        + "'; known: hanning, hamming, povey, rectangular, blackman");
            };
        }
        return w;
    }

    /** Number of frames for {@code n} samples (snip_edges). */
    public int numFrames(int n) {
        return n < windowSize ? 0 : 1 + (n - windowSize) / windowShift;
    }

    public int numMelBins() {
        return o.numMelBins();
    }

    /** Features {@code [frames][numMelBins]} of {@code x[from, to)}. */
    public float[][] compute(float[] x, int from, int to) {
        int n = to - from;
        int frames = numFrames(n);
        float[][] out = new float[frames][o.numMelBins()];
        double[] re = new double[paddedSize];
        double[] im = new double[paddedSize];
        double[] power = new double[paddedSize / 2];
        double[] frame = new double[windowSize];
        for (int f = 0; f < frames; f++) {
            int s = from + f * windowShift;
            double mean = 0;
            for (int i = 0; i < windowSize; i++) {
                frame[i] = x[s + i];
                mean += frame[i];
            }
            mean /= windowSize;
            if (o.removeDcOffset()) {
                for (int i = 0; i < windowSize; i++) {
                    frame[i] -= mean;
                }
            }
            java.util.Arrays.fill(re, 0);
            java.util.Arrays.fill(im, 0);
            double k = o.preemphasis();
            for (int i = windowSize - 1; i >= 0; i--) {
                double prev = i == 0 ? frame[0] : frame[i - 1];
                re[i] = (frame[i] - k * prev) * window[i];
            }
            fft.transform(re, im);
            for (int b = 0; b < power.length; b++) {
                double p = re[b] * re[b] + im[b] * im[b];
                power[b] = o.usePower() ? p : Math.sqrt(p);
            }
            for (int m = 0; m < o.numMelBins(); m++) {
                double e = 0;
                double[] bank = melBanks[m];
                for (int b = melFirst[m]; b <= melLast[m]; b++) {
                    e += power[b] * bank[b];
                }
                out[f][m] = (float) Math.log(Math.max(e, FLOAT_EPS));
            }
        }
        return out;
    }

    /** In-place iterative radix-2 complex FFT of a fixed power-of-two size. */
    static final class Fft {
        private final int n;
        private final double[] cos;
        private final double[] sin;
        private final int[] rev;

        Fft(int n) {
            this.n = n;
            cos = new double[n / 2];
            sin = new double[n / 2];
            for (int i = 0; i < n / 2; i++) {
                cos[i] = Math.cos(-2 * Math.PI * i / n);
                sin[i] = Math.sin(-2 * Math.PI * i / n);
            }
            rev = new int[n];
            int bits = Integer.numberOfTrailingZeros(n);
            for (int i = 0; i < n; i++) {
                rev[i] = Integer.reverse(i) >>> (32 - bits);
            }
            if (n == 1) {
                rev[0] = 0;
            }
        }

        void transform(double[] re, double[] im) {
            for (int i = 0; i < n; i++) {
                int j = rev[i];
                if (j > i) {
                    double t = re[i];
                    re[i] = re[j];
                    re[j] = t;
                    t = im[i];
                    im[i] = im[j];
                    im[j] = t;
                }
            }
            for (int size = 2; size <= n; size <<= 1) {
                int half = size / 2;
                int step = n / size;
                for (int start = 0; start < n; start += size) {
                    for (int k = 0; k < half; k++) {
                        double wr = cos[k * step];
                        double wi = sin[k * step];
                        int a = start + k;
                        int b = a + half;
                        double tr = re[b] * wr - im[b] * wi;
                        double ti = re[b] * wi + im[b] * wr;
                        re[b] = re[a] - tr;
                        im[b] = im[a] - ti;
                        re[a] += tr;
                        im[a] += ti;
                    }
                }
            }
        }
    }
}
