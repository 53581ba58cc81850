package dev.nextgpt;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AudioPartTest {
    @TempDir
    Path dir;

    /** Builds a WAV file by hand, independently of the production writer. */
    static byte[] wav(int formatTag, int channels, int rate, int bits, byte[] data, boolean extensible,
            byte[] chunkBeforeData) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int fmtSize = extensible ? 40 : 16;
        ByteBuffer fmt = ByteBuffer.allocate(fmtSize).order(ByteOrder.LITTLE_ENDIAN);
        fmt.putShort((short) (extensible ? 0xFFFE : formatTag)).putShort((short) channels).putInt(rate)
                .putInt(rate * channels * bits / 8).putShort((short) (channels * bits / 8)).putShort((short) bits);
        if (extensible) {
            fmt.putShort((short) 22).putShort((short) bits).putInt(0).putShort((short) formatTag)
                    .put(new byte[] {0, 0, 0, 0, 0x10, 0, (byte) 0x80, 0, 0, (byte) 0xAA, 0, 0x38, (byte) 0x9B, 0x71});
        }
        out.writeBytes(ascii("RIFF"));
        out.writeBytes(le32(0)); // size left 0 on purpose: readers must not depend on it
        out.writeBytes(ascii("WAVE"));
        out.writeBytes(ascii("fmt "));
        out.writeBytes(le32(fmtSize));
        out.writeBytes(fmt.array());
        if (chunkBeforeData != null) {
            out.writeBytes(ascii("LIST"));
            out.writeBytes(le32(chunkBeforeData.length));
            out.writeBytes(chunkBeforeData);
            if (chunkBeforeData.length % 2 == 1) {
                out.write(0); // RIFF pad byte
            }
        }
        out.writeBytes(ascii("data"));
        out.writeBytes(le32(data.length));
        out.writeBytes(data);
        return out.toByteArray();
    }

    static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    static byte[] le32(int v) {
        return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array();
    }

    static byte[] le24(int... values) {
        byte[] b = new byte[values.length * 3];
        for (int i = 0; i < values.length; i++) {
            b[3 * i] = (byte) values[i];
            b[3 * i + 1] = (byte) (values[i] >> 8);
            b[3 * i + 2] = (byte) (values[i] >> 16);
        }
        return b;
    }

    @Test
    void pcm16RoundTripWithinOneLsb() {
        Random r = new Random(5);
        float[][] ch = new float[2][1000];
        for (float[] c : ch) {
            for (int i = 0; i < c.length; i++) {
                c[i] = r.nextFloat() * 2 - 1;
            }
        }
        ch[0][0] = 1f;
        ch[1][0] = -1f;
        AudioPart a = AudioPart.ofChannels(ch, 44100);
        AudioPart back = AudioPart.fromWavBytes(a.toWavBytes());
        assertEquals(44100, back.sampleRate());
        assertEquals(2, back.channelCount());
        assertEquals(1000, back.frameCount());
        float maxErr = 0;
        for (int c = 0; c < 2; c++) {
            for (int i = 0; i < 1000; i++) {
                maxErr = Math.max(maxErr, Math.abs(ch[c][i] - back.channel(c)[i]));
            }
        }
        assertTrue(maxErr <= 1f / 32768, "max error " + maxErr);
        assertEquals(-1f, back.channel(1)[0]);
    }

    @Test
    void pcm16Clips() {
        AudioPart a = AudioPart.ofMono(new float[] {1.5f, -2f, 0.25f}, 8000);
        float[] back = AudioPart.fromWavBytes(a.toWavBytes()).channel(0);
        assertEquals(32767f / 32768f, back[0]);
        assertEquals(-1f, back[1]);
        assertEquals(0.25f, back[2]);
    }

    @Test
    void float32RoundTripIsExactAndUnclipped() {
        float[] s = {1.5f, -0.123456f, 0f, 3e-7f};
        AudioPart back = AudioPart.fromWavBytes(
                AudioPart.ofMono(s, 16000).toWavBytes(AudioPart.WavEncoding.FLOAT_32));
        assertArrayEquals(s, back.channel(0));
    }

    @Test
    void reads8BitUnsigned() {
        byte[] data = {0, (byte) 128, (byte) 255, 64};
        AudioPart a = AudioPart.fromWavBytes(wav(1, 1, 11025, 8, data, false, null));
        assertArrayEquals(new float[] {-1f, 0f, 127f / 128f, -0.5f}, a.channel(0));
        assertEquals(11025, a.sampleRate());
    }

    @Test
    void reads24BitStereoWithOddPaddedChunk() {
        byte[] data = le24(-8388608, 8388607, 0, 0x123456, -1, 4194304);
        AudioPart a = AudioPart.fromWavBytes(wav(1, 2, 48000, 24, data, false, new byte[] {1, 2, 3}));
        assertEquals(2, a.channelCount());
        assertArrayEquals(new float[] {-1f, 0f, -1f / 8388608f}, a.channel(0));
        assertArrayEquals(new float[] {8388607f / 8388608f, 0x123456 / 8388608f, 0.5f}, a.channel(1));
    }

    @Test
    void reads32BitPcm() {
        ByteBuffer b = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(Integer.MIN_VALUE).putInt(1 << 30).putInt(-(1 << 29));
        AudioPart a = AudioPart.fromWavBytes(wav(1, 1, 96000, 32, b.array(), false, null));
        assertArrayEquals(new float[] {-1f, 0.5f, -0.25f}, a.channel(0));
    }

    @Test
    void readsFloat32AndFloat64IncludingExtensible() {
        ByteBuffer f = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        f.putFloat(0.1f).putFloat(-0.2f).putFloat(0.3f).putFloat(-0.4f);
        AudioPart a = AudioPart.fromWavBytes(wav(3, 2, 16000, 32, f.array(), true, null));
        assertArrayEquals(new float[] {0.1f, 0.3f}, a.channel(0));
        assertArrayEquals(new float[] {-0.2f, -0.4f}, a.channel(1));

        ByteBuffer d = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
        d.putDouble(0.75).putDouble(-1.0).putDouble(1e-3);
        AudioPart b = AudioPart.fromWavBytes(wav(3, 3, 22050, 64, d.array(), false, null));
        assertEquals(3, b.channelCount());
        assertEquals(1, b.frameCount());
        assertArrayEquals(new float[] {0.75f, -1f, 1e-3f}, b.interleaved());
    }

    @Test
    void reads16BitPcmExtensibleFromFileAndKeepsSource() throws Exception {
        ByteBuffer s = ByteBuffer.allocate(6).order(ByteOrder.LITTLE_ENDIAN);
        s.putShort((short) 16384).putShort((short) -32768).putShort((short) 1);
        byte[] bytes = wav(1, 1, 8000, 16, s.array(), true, null);
        Path f = dir.resolve("x.wav");
        Files.write(f, bytes);
        AudioPart a = AudioPart.fromFile(f);
        assertArrayEquals(new float[] {0.5f, -1f, 1f / 32768f}, a.channel(0));
        assertEquals(f, a.source().path());
        assertArrayEquals(bytes, a.source().bytes());
        assertEquals(3.0 / 8000, a.durationSeconds(), 1e-12);
    }

    @Test
    void unsupportedOrBrokenWavNamesTheProblem() {
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> AudioPart.fromWavBytes(wav(6, 1, 8000, 8, new byte[4], false, null)));
        assertTrue(e.getMessage().contains("format tag 6"), e.getMessage());
        e = assertThrows(InvalidInputException.class,
                () -> AudioPart.fromWavBytes(wav(1, 1, 8000, 12, new byte[4], false, null)));
        assertTrue(e.getMessage().contains("12 bits"), e.getMessage());
        e = assertThrows(InvalidInputException.class, () -> AudioPart.fromWavBytes(ascii("not a wav file")));
        assertTrue(e.getMessage().contains("RIFF/WAVE"), e.getMessage());
        byte[] noData = java.util.Arrays.copyOf(wav(1, 1, 8000, 16, new byte[0], false, null), 36);
        e = assertThrows(InvalidInputException.class, () -> AudioPart.fromWavBytes(noData));
        assertTrue(e.getMessage().contains("'data'"), e.getMessage());
        Path missing = dir.resolve("missing.wav");
        e = assertThrows(InvalidInputException.class, () -> AudioPart.fromFile(missing));
        assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
    }

    @Test
    void factoriesValidateAndConvert() {
        AudioPart a = AudioPart.ofInterleaved(new float[] {1, 2, 3, 4, 5, 6}, 2, 100);
        assertArrayEquals(new float[] {1, 3, 5}, a.channel(0));
        assertArrayEquals(new float[] {2, 4, 6}, a.channel(1));
        assertArrayEquals(new float[] {1.5f, 3.5f, 5.5f}, a.toMono());
        assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, a.interleaved());
        assertThrows(InvalidInputException.class, () -> AudioPart.ofInterleaved(new float[5], 2, 100));
        assertThrows(InvalidInputException.class, () -> AudioPart.ofMono(new float[3], 0));
        assertThrows(InvalidInputException.class, () -> AudioPart.ofChannels(new float[][] {{1}, {1, 2}}, 8));
        assertThrows(InvalidInputException.class, () -> AudioPart.ofMono(new float[] {Float.NaN}, 8));
        float[][] ch = {{0.1f}};
        AudioPart m = AudioPart.ofChannels(ch, 8);
        ch[0][0] = 9;
        m.channels()[0][0] = 9;
        assertEquals(0.1f, m.channel(0)[0]);
    }

    @Test
    void writeWavCreatesAReadableFile() {
        AudioPart a = AudioPart.ofMono(new float[] {0.5f, -0.5f}, 16000);
        Path out = dir.resolve("o/out.wav");
        a.writeWav(out);
        assertArrayEquals(new float[] {0.5f, -0.5f}, AudioPart.fromFile(out).channel(0));
    }
}
