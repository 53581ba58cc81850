package dev.nextgpt.runtime.media;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import static dev.nextgpt.runtime.media.MediaFixtures.resource;
import static org.junit.jupiter.api.Assertions.*;

class WavReaderTest {

    /** Builds a WAV file: fmt chunk (optionally extensible) + an odd-sized junk chunk + data. */
    static byte[] wav(int format, int channels, int rate, int bits, byte[] data, boolean extensible) {
        int fmtSize = extensible ? 40 : 16;
        ByteBuffer fmt = ByteBuffer.allocate(fmtSize).order(ByteOrder.LITTLE_ENDIAN);
        fmt.putShort((short) (extensible ? 0xFFFE : format)).putShort((short) channels).putInt(rate)
                .putInt(rate * channels * bits / 8).putShort((short) (channels * bits / 8)).putShort((short) bits);
        if (extensible) {
            fmt.putShort((short) 22).putShort((short) bits).putInt(0).putShort((short) format)
                    .put(new byte[] {0, 0, 0, 0, 0x10, 0, (byte) 0x80, 0, 0, (byte) 0xAA, 0, 0x38, (byte) 0x9B, 0x71});
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteBuffer hdr = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        out.writeBytes("RIFF".getBytes());
        out.writeBytes(new byte[4]);
        out.writeBytes("WAVE".getBytes());
        out.writeBytes("fmt ".getBytes());
        out.writeBytes(hdr.putInt(0, fmtSize).array().clone());
        out.writeBytes(fmt.array());
        out.writeBytes("LIST".getBytes());
        out.writeBytes(hdr.putInt(0, 3).array().clone());
        out.writeBytes(new byte[] {1, 2, 3, 0});
        out.writeBytes("data".getBytes());
        out.writeBytes(hdr.putInt(0, data.length).array().clone());
        out.writeBytes(data);
        return out.toByteArray();
    }

    @Test
    void readsAllPcmAndFloatLayouts() {
        ByteBuffer d16 = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        d16.putShort((short) -32768).putShort((short) 16384).putShort((short) 1).putShort((short) 32767);
        WavReader.Audio a = WavReader.parse(wav(1, 2, 44100, 16, d16.array(), false), null);
        assertEquals(2, a.channels());
        assertEquals(2, a.frames());
        assertEquals(44100, a.sampleRate());
        assertEquals(-1f, a.samples()[0][0]);
        assertEquals(0.5f, a.samples()[1][0]);
        assertEquals(1 / 32768f, a.samples()[0][1]);

        WavReader.Audio a8 = WavReader.parse(wav(1, 1, 8000, 8, new byte[] {0, (byte) 128, (byte) 192}, false), null);
        assertArrayEquals(new float[] {-1f, 0f, 0.5f}, a8.samples()[0]);

        byte[] d24 = {0, 0, (byte) 0x80, (byte) 0xFF, (byte) 0xFF, 0x7F, 0, 0, 0x40};
        WavReader.Audio a24 = WavReader.parse(wav(1, 1, 48000, 24, d24, true), null);
        assertArrayEquals(new float[] {-1f, 8388607f / 8388608f, 0.5f}, a24.samples()[0], 0f);

        ByteBuffer d32 = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(Integer.MIN_VALUE).putInt(1 << 30);
        assertArrayEquals(new float[] {-1f, 0.5f}, WavReader.parse(wav(1, 1, 16000, 32, d32.array(), false), null).samples()[0]);

        ByteBuffer f32 = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(0.25f).putFloat(-0.75f);
        assertArrayEquals(new float[] {0.25f, -0.75f}, WavReader.parse(wav(3, 1, 16000, 32, f32.array(), true), null).samples()[0]);
        ByteBuffer f64 = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putDouble(0.125).putDouble(-0.5);
        assertArrayEquals(new float[] {0.125f, -0.5f}, WavReader.parse(wav(3, 1, 16000, 64, f64.array(), false), null).samples()[0]);
    }

    @Test
    void realFilesHaveExpectedLayout() {
        WavReader.Audio bird = WavReader.read(resource("golden/imagebind/media/bird_audio.wav"));
        assertEquals(2, bird.channels());
        assertEquals(220500, bird.frames());
        assertEquals(44100, bird.sampleRate());
    }

    @Test
    void unsupportedCodecNamesFileAndFormatCode(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("adpcm.wav");
        Files.write(f, wav(2, 1, 8000, 4, new byte[] {1, 2, 3, 4}, false));
        MediaDecodeException e = assertThrows(MediaDecodeException.class, () -> WavReader.read(f));
        assertTrue(e.getMessage().contains(f.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("0x0002"), e.getMessage());
        assertEquals(f, e.file());
        Path mp3 = dir.resolve("ext.wav");
        Files.write(mp3, wav(0x55, 1, 8000, 16, new byte[] {1, 2}, true));
        assertTrue(assertThrows(MediaDecodeException.class, () -> WavReader.read(mp3)).getMessage().contains("0x0055"));
    }

    @Test
    void zeroLengthAndGarbageAreTypedErrors(@TempDir Path dir) throws Exception {
        Path empty = dir.resolve("empty.wav");
        Files.write(empty, wav(1, 1, 16000, 16, new byte[0], false));
        MediaDecodeException e = assertThrows(MediaDecodeException.class, () -> WavReader.read(empty));
        assertTrue(e.getMessage().contains("zero-length"), e.getMessage());
        assertThrows(MediaDecodeException.class, () -> new AudioPreprocessor().process(empty));
        Path junk = dir.resolve("junk.wav");
        Files.writeString(junk, "hello, not audio");
        assertThrows(MediaDecodeException.class, () -> WavReader.read(junk));
        assertThrows(MediaDecodeException.class, () -> WavReader.read(dir.resolve("missing.wav")));
        assertThrows(MediaDecodeException.class,
                () -> new AudioPreprocessor().process(new float[][] {new float[0]}, 16000, null));
    }
}
