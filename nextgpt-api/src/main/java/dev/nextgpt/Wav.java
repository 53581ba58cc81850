package dev.nextgpt;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * A small RIFF/WAVE reader and writer. Reads integer PCM (8-bit unsigned, 16/24/32-bit signed) and IEEE float
 * (32/64-bit), plain or {@code WAVE_FORMAT_EXTENSIBLE}, any channel count and sample rate; writes 16-bit PCM or
 * 32-bit float.
 */
final class Wav {
    private static final int FORMAT_PCM = 1;
    private static final int FORMAT_FLOAT = 3;
    private static final int FORMAT_EXTENSIBLE = 0xFFFE;

    private Wav() {
    }

    /** Decoded audio: per-channel samples in [-1, 1] and the sample rate. */
    record Decoded(float[][] channels, int sampleRate) {
    }

    static Decoded decode(byte[] b, String what) {
        ByteBuffer buf = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        if (b.length < 12 || !tag(b, 0).equals("RIFF") || !tag(b, 8).equals("WAVE")) {
            String head = b.length >= 4 ? tag(b, 0) : "";
            throw new InvalidInputException("not a RIFF/WAVE file" + (head.equals("RIFX") || head.equals("RF64")
                    ? " we can read (" + head + " is not supported)" : "") + ": " + what);
        }
        int format = -1;
        int channels = 0;
        int sampleRate = 0;
        int blockAlign = 0;
        int bits = 0;
        int dataOffset = -1;
        int dataLength = 0;
        int pos = 12;
        while (pos + 8 <= b.length) {
            String id = tag(b, pos);
            long size = Integer.toUnsignedLong(buf.getInt(pos + 4));
            int body = pos + 8;
            long available = b.length - body;
            if (id.equals("fmt ")) {
                if (size < 16 || size > available) {
                    throw new InvalidInputException("WAV 'fmt ' chunk is truncated (" + size + " bytes): " + what);
                }
                format = buf.getShort(body) & 0xFFFF;
                channels = buf.getShort(body + 2) & 0xFFFF;
                sampleRate = buf.getInt(body + 4);
                blockAlign = buf.getShort(body + 12) & 0xFFFF;
                bits = buf.getShort(body + 14) & 0xFFFF;
                if (format == FORMAT_EXTENSIBLE) {
                    if (size < 40) {
                        throw new InvalidInputException("WAV extensible 'fmt ' chunk is truncated (" + size
                                + " bytes): " + what);
                    }
                    format = buf.getShort(body + 24) & 0xFFFF; // first two bytes of the sub-format GUID
                }
            } else if (id.equals("data")) {
                dataOffset = body;
                // streaming writers leave the size 0 or 0xFFFFFFFF; a truncated file keeps what is there
                dataLength = (int) Math.min(size == 0 ? available : size, available);
                break;
            }
            pos = (int) Math.min((long) body + size + (size & 1), Integer.MAX_VALUE);
        }
        if (format < 0) {
            throw new InvalidInputException("WAV has no 'fmt ' chunk: " + what);
        }
        if (dataOffset < 0) {
            throw new InvalidInputException("WAV has no 'data' chunk: " + what);
        }
        if (channels < 1) {
            throw new InvalidInputException("WAV channel count must be >= 1, got " + channels + ": " + what);
        }
        if (sampleRate <= 0) {
            throw new InvalidInputException("WAV sample rate must be > 0, got "
                    + Integer.toUnsignedLong(sampleRate) + ": " + what);
        }
        boolean pcmOk = format == FORMAT_PCM && (bits == 8 || bits == 16 || bits == 24 || bits == 32);
        boolean floatOk = format == FORMAT_FLOAT && (bits == 32 || bits == 64);
        if (!pcmOk && !floatOk) {
            throw new InvalidInputException("unsupported WAV encoding: format tag " + format + " with " + bits
                    + " bits per sample (supported: PCM 8/16/24/32-bit, IEEE float 32/64-bit): " + what);
        }
        int bytesPerSample = bits / 8;
        int frameBytes = blockAlign >= bytesPerSample * channels ? blockAlign : bytesPerSample * channels;
        int frames = dataLength / frameBytes;
        float[][] out = new float[channels][frames];
        for (int f = 0; f < frames; f++) {
            int base = dataOffset + f * frameBytes;
            for (int c = 0; c < channels; c++) {
                int p = base + c * bytesPerSample;
                out[c][f] = sample(buf, b, p, format, bits);
            }
        }
        return new Decoded(out, sampleRate);
    }

    private static float sample(ByteBuffer buf, byte[] b, int p, int format, int bits) {
        if (format == FORMAT_FLOAT) {
            return bits == 32 ? buf.getFloat(p) : (float) buf.getDouble(p);
        }
        switch (bits) {
            case 8:
                return ((b[p] & 0xFF) - 128) / 128f;
            case 16:
                return buf.getShort(p) / 32768f;
            case 24:
                int v = (b[p] & 0xFF) | (b[p + 1] & 0xFF) << 8 | b[p + 2] << 16;
                return v / 8388608f;
            default:
                return (float) (buf.getInt(p) / 2147483648.0);
        }
    }

    /** Encodes interleaved output: 16-bit PCM (clipped to [-1, 1], rounded) or 32-bit float. */
    static byte[] encode(float[][] channels, int sampleRate, boolean float32) {
        int nc = channels.length;
        int frames = channels[0].length;
        int bytesPerSample = float32 ? 4 : 2;
        long dataBytes = (long) frames * nc * bytesPerSample;
        if (dataBytes > Integer.MAX_VALUE - 44) {
            throw new InvalidInputException("audio too long for one WAV file: " + frames + " frames x " + nc
                    + " channels");
        }
        ByteBuffer buf = ByteBuffer.allocate(44 + (int) dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        buf.put("RIFF".getBytes(StandardCharsets.US_ASCII)).putInt(36 + (int) dataBytes)
                .put("WAVE".getBytes(StandardCharsets.US_ASCII));
        buf.put("fmt ".getBytes(StandardCharsets.US_ASCII)).putInt(16)
                .putShort((short) (float32 ? FORMAT_FLOAT : FORMAT_PCM)).putShort((short) nc).putInt(sampleRate)
                .putInt(sampleRate * nc * bytesPerSample).putShort((short) (nc * bytesPerSample))
                .putShort((short) (bytesPerSample * 8));
        buf.put("data".getBytes(StandardCharsets.US_ASCII)).putInt((int) dataBytes);
        for (int f = 0; f < frames; f++) {
            for (float[] ch : channels) {
                float s = ch[f];
                if (float32) {
                    buf.putFloat(s);
                } else {
                    float c = Math.max(-1f, Math.min(1f, s));
                    buf.putShort((short) Math.max(-32768, Math.min(32767, Math.round(c * 32768f))));
                }
            }
        }
        return buf.array();
    }

    private static String tag(byte[] b, int pos) {
        return new String(b, pos, Math.min(4, b.length - pos), StandardCharsets.ISO_8859_1);
    }
}
