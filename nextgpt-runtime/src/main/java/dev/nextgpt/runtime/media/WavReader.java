package dev.nextgpt.runtime.media;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A RIFF/WAVE reader giving float samples like {@code torchaudio.load} (normalize=True): 8-bit unsigned PCM as
 * {@code (x-128)/128}, 16/24/32-bit signed PCM divided by 2^(bits-1), 32/64-bit IEEE float as stored (64-bit is
 * narrowed to float). Handles {@code WAVE_FORMAT_EXTENSIBLE} (the sub-format GUID's code is used), odd-sized chunk
 * padding, unknown chunks, and streaming headers whose data size overruns the file (clamped).
 */
public final class WavReader {
    /** WAVE format codes. */
    public static final int FORMAT_PCM = 1;
    public static final int FORMAT_IEEE_FLOAT = 3;
    public static final int FORMAT_EXTENSIBLE = 0xFFFE;

    private WavReader() {
    }

    /** Decoded audio: {@code samples[channel][frame]} in [-1, 1) and the sample rate in Hz. */
    public record Audio(float[][] samples, int sampleRate) {
        public int channels() {
            return samples.length;
        }

        public int frames() {
            return samples.length == 0 ? 0 : samples[0].length;
        }
    }

    public static Audio read(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new MediaDecodeException(file, "cannot read audio file: " + e.getMessage(), e);
        }
        return parse(bytes, file);
    }

    /** Parses WAV bytes; {@code file} only names the source in errors (may be null). */
    public static Audio parse(byte[] bytes, Path file) {
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (bytes.length < 12 || !tag(bytes, 0, "RIFF") || !tag(bytes, 8, "WAVE")) {
            throw new MediaDecodeException(file, "not a RIFF/WAVE file (missing RIFF....WAVE header); only WAV audio"
                    + " is supported");
        }
        int pos = 12;
        int format = -1;
        int channels = 0;
        int rate = 0;
        int blockAlign = 0;
        int bits = 0;
        int dataOffset = -1;
        long dataSize = 0;
        while (pos + 8 <= bytes.length) {
            String id = new String(bytes, pos, 4, java.nio.charset.StandardCharsets.ISO_8859_1);
            long size = Integer.toUnsignedLong(b.getInt(pos + 4));
            int body = pos + 8;
            if (id.equals("fmt ")) {
                if (size < 16 || body + 16 > bytes.length) {
                    throw new MediaDecodeException(file, "WAV 'fmt ' chunk is truncated (" + size + " bytes)");
                }
                format = Short.toUnsignedInt(b.getShort(body));
                channels = Short.toUnsignedInt(b.getShort(body + 2));
                rate = b.getInt(body + 4);
                blockAlign = Short.toUnsignedInt(b.getShort(body + 12));
                bits = Short.toUnsignedInt(b.getShort(body + 14));
                if (format == FORMAT_EXTENSIBLE) {
                    if (size < 40 || body + 40 > bytes.length) {
                        throw new MediaDecodeException(file, "WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk is truncated ("
                                + size + " bytes, need 40)");
                    }
                    format = Short.toUnsignedInt(b.getShort(body + 24));
                }
            } else if (id.equals("data")) {
                dataOffset = body;
                dataSize = Math.min(size, bytes.length - (long) body);
                if (format >= 0) {
                    break;
                }
            }
            long next = body + size + (size & 1);
            if (next > Integer.MAX_VALUE) {
                break;
            }
            pos = (int) next;
        }
        if (format < 0) {
            throw new MediaDecodeException(file, "WAV file has no 'fmt ' chunk");
        }
        if (dataOffset < 0) {
            throw new MediaDecodeException(file, "WAV file has no 'data' chunk");
        }
        boolean pcm = format == FORMAT_PCM && (bits == 8 || bits == 16 || bits == 24 || bits == 32);
        boolean flt = format == FORMAT_IEEE_FLOAT && (bits == 32 || bits == 64);
        if (!pcm && !flt) {
            throw new MediaDecodeException(file, String.format("unsupported WAV codec: format code 0x%04X (%d), %d bits"
                    + " per sample; supported: PCM (1) 8/16/24/32-bit and IEEE float (3) 32/64-bit", format, format, bits));
        }
        if (channels <= 0 || rate <= 0) {
            throw new MediaDecodeException(file, "WAV header has " + channels + " channels at " + rate + " Hz");
        }
        int bytesPerSample = bits / 8;
        int frameBytes = Math.max(blockAlign, bytesPerSample * channels);
        long frames = dataSize / frameBytes;
        if (frames == 0) {
            throw new MediaDecodeException(file, "WAV file holds no audio samples (zero-length data chunk)");
        }
        if (frames > Integer.MAX_VALUE) {
            throw new MediaDecodeException(file, "WAV file too long: " + frames + " frames");
        }
        float[][] out = new float[channels][(int) frames];
        for (int f = 0; f < frames; f++) {
            int base = dataOffset + f * frameBytes;
            for (int c = 0; c < channels; c++) {
                int p = base + c * bytesPerSample;
                float v;
                if (flt) {
                    v = bits == 32 ? b.getFloat(p) : (float) b.getDouble(p);
                } else {
                    switch (bits) {
                        case 8 -> v = ((bytes[p] & 0xFF) - 128) / 128f;
                        case 16 -> v = b.getShort(p) / 32768f;
                        case 24 -> {
                            int x = (bytes[p] & 0xFF) | ((bytes[p + 1] & 0xFF) << 8) | (bytes[p + 2] << 16);
                            v = x / 8388608f;
                        }
                        default -> v = (float) (b.getInt(p) / 2147483648.0);
                    }
                }
                out[c][f] = v;
            }
        }
        return new Audio(out, rate);
    }

    private static boolean tag(byte[] bytes, int at, String t) {
        for (int i = 0; i < 4; i++) {
            if (bytes[at + i] != t.charAt(i)) {
                return false;
            }
        }
        return true;
    }
}
