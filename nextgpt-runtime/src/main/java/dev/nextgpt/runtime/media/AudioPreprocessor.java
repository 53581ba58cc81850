package dev.nextgpt.runtime.media;

import dev.nextgpt.InvalidInputException;

import java.nio.file.Path;
import java.util.List;

/**
 * ImageBind's {@code load_and_transform_audio_data} (and NExT-GPT's {@code AudioProcessor}) for one waveform:
 * resample to {@code sampleRate} ({@link SincResampler}), cut {@code clipsPerVideo} clips of {@code clipDuration}
 * seconds ({@link ClipSampler}), per clip subtract the clip mean over all channels <b>in place on the shared
 * buffer</b> (so later overlapping clips see the shifted samples, as the original does through a tensor view),
 * Kaldi fbank of channel 0 ({@link KaldiFbank}), transpose to {@code [mel, frames]}, zero-pad or cut to
 * {@code targetLength} frames, then {@code (x − mean)/std}. Output {@code [clips, 1, numMelBins, targetLength]}.
 */
public final class AudioPreprocessor {

    /** The arguments of {@code load_and_transform_audio_data}. */
    public record Options(int numMelBins, int targetLength, int sampleRate, double clipDuration, int clipsPerVideo,
                          float mean, float std) {
        public static Options defaults() {
            return new Options(128, 204, 16000, 2, 3, -4.268f, 9.138f);
        }
    }

    /** The output tensor and the intermediates the fixtures check. */
    public record Result(float[] values, long[] shape, float[][] resampled, int[][] clipSampleRanges) {
    }

    private final Options options;
    private final KaldiFbank fbank;

    public AudioPreprocessor() {
        this(Options.defaults());
    }

    public AudioPreprocessor(Options options) {
        this.options = options;
        this.fbank = new KaldiFbank(KaldiFbank.Options.imageBind(options.numMelBins()));
    }

    public Options options() {
        return options;
    }

    /** Reads a WAV file and preprocesses it. */
    public Result process(Path wavFile) {
        WavReader.Audio a = WavReader.read(wavFile);
        return process(a.samples(), a.sampleRate(), wavFile);
    }

    /**
     * Preprocesses {@code channels[c][t]} (float in [-1,1]) at {@code rate} Hz; {@code source} names the input in
     * errors (may be null). The input arrays are not modified.
     */
    public Result process(float[][] channels, int rate, Path source) {
        if (channels == null || channels.length == 0 || channels[0].length == 0) {
            throw new MediaDecodeException(source, "audio holds no samples (zero-length waveform)");
        }
        if (rate <= 0) {
            throw new InvalidInputException("sample rate must be positive, got " + rate + (source == null ? "" : " for " + source));
        }
        int len = channels[0].length;
        for (float[] c : channels) {
            if (c.length != len) {
                throw new InvalidInputException("audio channels have different lengths: " + len + " vs " + c.length);
            }
        }
        int sr = options.sampleRate();
        float[][] wave = new float[channels.length][];
        if (rate != sr) {
            SincResampler rs = new SincResampler(rate, sr);
            for (int c = 0; c < channels.length; c++) {
                wave[c] = rs.resample(channels[c]);
            }
        } else {
            for (int c = 0; c < channels.length; c++) {
                wave[c] = channels[c].clone();
            }
        }
        float[][] resampled = new float[wave.length][];
        for (int c = 0; c < wave.length; c++) {
            resampled[c] = wave[c].clone();
        }
        int n = wave[0].length;
        List<ClipSampler.Clip> clips = ClipSampler.clips((double) n / sr, options.clipDuration(), options.clipsPerVideo());
        int mel = options.numMelBins();
        int target = options.targetLength();
        int per = mel * target;
        float[] out = new float[clips.size() * per];
        int[][] ranges = new int[clips.size()][2];
        float padValue = (0f - options.mean()) / options.std();
        for (int ci = 0; ci < clips.size(); ci++) {
            int from = Math.min(clips.get(ci).startIndex(sr), n);
            int to = Math.min(Math.max(clips.get(ci).endIndex(sr), from), n);
            ranges[ci][0] = clips.get(ci).startIndex(sr);
            ranges[ci][1] = clips.get(ci).endIndex(sr);
            if (to > from) {
                double sum = 0;
                for (float[] w : wave) {
                    for (int t = from; t < to; t++) {
                        sum += w[t];
                    }
                }
                float mean = (float) (sum / ((double) wave.length * (to - from)));
                for (float[] w : wave) {
                    for (int t = from; t < to; t++) {
                        w[t] -= mean;
                    }
                }
            }
            float[][] feats = fbank.compute(wave[0], from, to);
            int base = ci * per;
            for (int m = 0; m < mel; m++) {
                for (int f = 0; f < target; f++) {
                    out[base + m * target + f] = f < feats.length
                            ? (feats[f][m] - options.mean()) / options.std() : padValue;
                }
            }
        }
        return new Result(out, new long[] {clips.size(), 1, mel, target}, resampled, ranges);
    }
}
