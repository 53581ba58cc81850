package dev.nextgpt;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * An immutable waveform: one float array per channel, samples nominally in [-1, 1], plus the sample rate. Created
 * from a file or bytes it keeps the original WAV in {@link #source()}.
 *
 * <p>WAV reading uses the SDK's own RIFF parser: integer PCM 8-bit (unsigned), 16/24/32-bit (signed) and IEEE float
 * 32/64-bit, plain or {@code WAVE_FORMAT_EXTENSIBLE}, any number of channels and any sample rate. Resampling to
 * the model's rate (16 kHz for ImageBind) is the runtime's job.
 *
 * @param sampleRate samples per second per channel ({@code > 0})
 * @param channels   {@code [channel][frame]} samples, all channels the same length (copied in and out)
 * @param source     the original file/bytes, never null ({@link MediaSource#NONE} when built in memory)
 */
public record AudioPart(int sampleRate, float[][] channels, MediaSource source) implements Part {

    /** WAV sample encodings the writers produce. */
    public enum WavEncoding {
        /** 16-bit signed integer PCM; samples are clipped to [-1, 1]. The default. */
        PCM_16,
        /** 32-bit IEEE float (what the reference code's {@code scipy.io.wavfile.write} produces); not clipped. */
        FLOAT_32
    }

    /** Validates and deep-copies the samples. */
    public AudioPart {
        if (sampleRate <= 0) {
            throw new InvalidInputException("AudioPart.sampleRate must be > 0, got " + sampleRate);
        }
        Checks.notNull("AudioPart.channels", channels);
        if (channels.length == 0) {
            throw new InvalidInputException("AudioPart.channels must hold at least one channel, got 0");
        }
        float[][] copy = new float[channels.length][];
        for (int c = 0; c < channels.length; c++) {
            if (channels[c] == null) {
                throw new InvalidInputException("AudioPart.channels[" + c + "] is null");
            }
            if (channels[c].length != channels[0].length) {
                throw new InvalidInputException("AudioPart channels differ in length: channel 0 has "
                        + channels[0].length + " samples, channel " + c + " has " + channels[c].length);
            }
            copy[c] = channels[c].clone();
            for (int i = 0; i < copy[c].length; i++) {
                if (!Float.isFinite(copy[c][i])) {
                    throw new InvalidInputException("AudioPart sample [" + c + "][" + i + "] is not finite: "
                            + copy[c][i]);
                }
            }
        }
        channels = copy;
        source = source == null ? MediaSource.NONE : source;
    }

    /**
     * Reads a WAV file, keeping the path and bytes as the source.
     *
     * @throws InvalidInputException if the file is missing or not a supported WAV
     */
    public static AudioPart fromFile(Path path) {
        byte[] bytes = MediaIo.readAll(path, "audio");
        Wav.Decoded d = Wav.decode(bytes, path.toString());
        return new AudioPart(d.sampleRate(), d.channels(), MediaSource.of(path, bytes));
    }

    /** Decodes WAV bytes, keeping them as the source. */
    public static AudioPart fromWavBytes(byte[] wav) {
        Checks.notNull("WAV bytes", wav);
        Wav.Decoded d = Wav.decode(wav, "WAV bytes (" + wav.length + " bytes)");
        return new AudioPart(d.sampleRate(), d.channels(), MediaSource.of(null, wav));
    }

    /** Wraps {@code [channel][frame]} samples (copied). */
    public static AudioPart ofChannels(float[][] channels, int sampleRate) {
        return new AudioPart(sampleRate, channels, MediaSource.NONE);
    }

    /** Wraps a single channel (copied). */
    public static AudioPart ofMono(float[] samples, int sampleRate) {
        Checks.notNull("samples", samples);
        return new AudioPart(sampleRate, new float[][] {samples}, MediaSource.NONE);
    }

    /** De-interleaves {@code frame0ch0, frame0ch1, …} samples into {@code channelCount} channels. */
    public static AudioPart ofInterleaved(float[] interleaved, int channelCount, int sampleRate) {
        Checks.notNull("interleaved", interleaved);
        if (channelCount < 1) {
            throw new InvalidInputException("channelCount must be >= 1, got " + channelCount);
        }
        if (interleaved.length % channelCount != 0) {
            throw new InvalidInputException("interleaved length " + interleaved.length
                    + " is not a multiple of channelCount " + channelCount);
        }
        int frames = interleaved.length / channelCount;
        float[][] ch = new float[channelCount][frames];
        for (int f = 0; f < frames; f++) {
            for (int c = 0; c < channelCount; c++) {
                ch[c][f] = interleaved[f * channelCount + c];
            }
        }
        return new AudioPart(sampleRate, ch, MediaSource.NONE);
    }

    /** Always {@link Modality#AUDIO}. */
    @Override
    public Modality modality() {
        return Modality.AUDIO;
    }

    /** A deep copy of the samples, {@code [channel][frame]}. */
    @Override
    public float[][] channels() {
        float[][] copy = new float[channels.length][];
        for (int c = 0; c < channels.length; c++) {
            copy[c] = channels[c].clone();
        }
        return copy;
    }

    /** A copy of one channel. */
    public float[] channel(int index) {
        return channels[java.util.Objects.checkIndex(index, channels.length)].clone();
    }

    /** Number of channels. */
    public int channelCount() {
        return channels.length;
    }

    /** Samples per channel. */
    public int frameCount() {
        return channels[0].length;
    }

    /** Duration in seconds. */
    public double durationSeconds() {
        return (double) frameCount() / sampleRate;
    }

    /** Interleaved samples {@code frame0ch0, frame0ch1, …}. */
    public float[] interleaved() {
        int nc = channels.length;
        float[] out = new float[frameCount() * nc];
        for (int f = 0; f < frameCount(); f++) {
            for (int c = 0; c < nc; c++) {
                out[f * nc + c] = channels[c][f];
            }
        }
        return out;
    }

    /** The channel average (a copy of channel 0 for mono audio). */
    public float[] toMono() {
        if (channels.length == 1) {
            return channels[0].clone();
        }
        float[] out = new float[frameCount()];
        for (float[] ch : channels) {
            for (int i = 0; i < out.length; i++) {
                out[i] += ch[i];
            }
        }
        for (int i = 0; i < out.length; i++) {
            out[i] /= channels.length;
        }
        return out;
    }

    /** 16-bit PCM WAV bytes; samples outside [-1, 1] are clipped. */
    public byte[] toWavBytes() {
        return toWavBytes(WavEncoding.PCM_16);
    }

    /** WAV bytes in the given encoding. */
    public byte[] toWavBytes(WavEncoding encoding) {
        Checks.notNull("encoding", encoding);
        return Wav.encode(channels, sampleRate, encoding == WavEncoding.FLOAT_32);
    }

    /** Writes a 16-bit PCM WAV through a temporary file and an atomic move; parent folders are created. */
    public void writeWav(Path path) {
        writeWav(path, WavEncoding.PCM_16);
    }

    /** Writes a WAV in the given encoding through a temporary file and an atomic move. */
    public void writeWav(Path path, WavEncoding encoding) {
        MediaIo.writeAtomically(path, toWavBytes(encoding));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof AudioPart a && sampleRate == a.sampleRate && Arrays.deepEquals(channels, a.channels)
                && source.equals(a.source);
    }

    @Override
    public int hashCode() {
        return (31 * sampleRate + Arrays.deepHashCode(channels)) * 31 + source.hashCode();
    }

    @Override
    public String toString() {
        return "AudioPart[" + channelCount() + " ch, " + sampleRate + " Hz, " + frameCount() + " frames, source="
                + source + "]";
    }
}
