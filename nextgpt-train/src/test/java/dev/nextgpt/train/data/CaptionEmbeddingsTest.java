package dev.nextgpt.train.data;

import ai.djl.ndarray.NDManager;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.runtime.audioldm.ClapTextModel;
import dev.nextgpt.runtime.cliptext.ClipTextModel;
import dev.nextgpt.runtime.io.SafetensorsFile;
import dev.nextgpt.runtime.io.TensorConversions;
import dev.nextgpt.train.data.CaptionEmbeddings.Kind;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Caption embeddings on the golden SD / Zeroscope / AudioLDM fixture pipelines. */
class CaptionEmbeddingsTest {
    static final Path GOLDEN = Path.of("../nextgpt-runtime/src/test/resources/golden");
    static final Path SD = GOLDEN.resolve("stable-diffusion");
    static final Path ZEROSCOPE = GOLDEN.resolve("zeroscope");
    static final Path AUDIOLDM = GOLDEN.resolve("audioldm");

    /** 100 one-letter words cycling b..k: each is one BPE symbol "x</w>", id 256 + (x - '!'), i.e. b = 321. */
    static String longCaption() {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 100; i++) {
            sb.append((char) ('b' + i % 10)).append(' ');
        }
        return sb.toString().strip();
    }

    static float fp16(float v) {
        return TensorConversions.halfToFloat(TensorConversions.floatToHalf(v));
    }

    @Test
    void sdLeftTruncationKeepsTheTokensBeforeEos() {
        try (CaptionEmbeddings sd = CaptionEmbeddings.load(SD, Kind.SD);
             CaptionEmbeddings zs = CaptionEmbeddings.load(SD, Kind.ZEROSCOPE)) {
            long[] left = sd.clipTokenIds(longCaption());
            long[] right = zs.clipTokenIds(longCaption());
            assertEquals(77, left.length);
            // full = [SOT] + w0..w99 + [EOT] (102 ids); the 77 ids before EOT are w23..w99, re-tokenised and cut to
            // 75: w23..w97.
            assertEquals(574, left[0]);
            assertEquals(321 + 3, left[1]);        // w23 = 'e'
            assertEquals(321 + 7, left[75]);       // w97 = 'i'
            assertEquals(575, left[76]);
            for (int i = 1; i <= 75; i++) {
                assertEquals(321 + (22 + i) % 10, left[i], "position " + i);
            }
            // right truncation keeps w0..w74
            assertEquals(574, right[0]);
            assertEquals(321, right[1]);
            assertEquals(321 + 4, right[75]);      // w74 = 'f'
            assertEquals(575, right[76]);
            // a short caption is the ordinary tokenisation (golden case 1, row 0)
            long[] golden = goldenIds(SD.resolve("cases/case1_text_encoder.safetensors"), "input.input_ids", 0, 77);
            assertArrayEquals(golden, sd.clipTokenIds("a photograph of an astronaut riding a horse"));
        }
    }

    @Test
    void sdWritesFp16OfTheTextEncoderOutput(@TempDir Path tmp) throws Exception {
        Path data = tmp.resolve("cc3m.json");
        String caption0 = "A  Red cube on top of a BLUE sphere, 4k!";
        Files.writeString(data, "[{\"caption\": \"" + caption0 + "\", \"image_name\": \"001.jpg\"},"
                + " {\"caption\": \"" + longCaption() + "\", \"image_name\": \"sub/002.jpg\"},"
                + " {\"caption\": \"a photograph of an astronaut riding a horse\", \"image_name\": \"003.jpg\"}]");
        Path out = tmp.resolve("embed");
        try (CaptionEmbeddings sd = CaptionEmbeddings.load(SD, Kind.SD)) {
            CaptionEmbeddings.Summary s = sd.precompute(data, null, "caption", out, 2);
            assertEquals(3, s.written());
            assertArrayEquals(new long[] {77, 48}, s.shape());
            try (NDManager m = NDManager.newBaseManager();
                 ClipTextModel clip = ClipTextModel.load(SD.resolve("text_encoder"), m.newSubManager())) {
                String[] names = {"001.jpg", "002.jpg", "003.jpg"};
                String[] caps = {caption0, longCaption(), "a photograph of an astronaut riding a horse"};
                for (int i = 0; i < 3; i++) {
                    NpyArray got = NpyArray.read(out.resolve(names[i] + ".npy"));
                    assertArrayEquals(new long[] {77, 48}, got.shape());
                    float[] direct = clip.forward(m.create(new long[][] {sd.clipTokenIds(caps[i])}))
                            .lastHiddenState().toFloatArray();
                    for (int j = 0; j < direct.length; j++) {
                        assertEquals(fp16(direct[j]), got.data()[j], 0f, names[i] + " element " + j);
                    }
                }
                // and the short prompts agree with the Python reference (fp16 rounding + 1e-4)
                float[] expected = readRow(SD.resolve("cases/case1_text_encoder.safetensors"),
                        "expected.last_hidden_state", 1, 77 * 48);
                float[] got = NpyArray.read(out.resolve("001.jpg.npy")).data();
                double maxErr = 0;
                for (int j = 0; j < expected.length; j++) {
                    maxErr = Math.max(maxErr, Math.abs(expected[j] - got[j]));
                }
                assertTrue(maxErr < 5e-3, "max abs error vs reference " + maxErr);
            }
        }
    }

    @Test
    void zeroscopeUsesRightTruncationAndMatchesTheReference(@TempDir Path tmp) throws Exception {
        Path data = tmp.resolve("webvid.json");
        Files.writeString(data, "[{\"caption\": \"a dog running on the beach\", \"video_name\": \"00169473.mp4\"}]");
        try (CaptionEmbeddings zs = CaptionEmbeddings.load(ZEROSCOPE, Kind.ZEROSCOPE)) {
            assertArrayEquals(goldenIds(ZEROSCOPE.resolve("cases/case2_clip_text.safetensors"), "input_ids", 1, 77),
                    zs.clipTokenIds("a dog running on the beach"));
            zs.precompute(data, null, "caption", tmp.resolve("out"), 128);
            NpyArray got = NpyArray.read(tmp.resolve("out/00169473.mp4.npy"));
            assertArrayEquals(new long[] {77, 32}, got.shape());
            float[] expected = readRow(ZEROSCOPE.resolve("cases/case2_clip_text.safetensors"), "last_hidden_state", 1,
                    77 * 32);
            for (int j = 0; j < expected.length; j++) {
                assertEquals(expected[j], got.data()[j], 2e-3 + Math.abs(expected[j]) * 1e-3, "element " + j);
            }
        }
    }

    @Test
    void audioLdmWritesNormalisedClapEmbeds(@TempDir Path tmp) throws Exception {
        Path data = tmp.resolve("audiocap.json");
        Files.writeString(data, "[{\"audio_id\": 1, \"audio_name\": \"106158.wav\", \"caption\": \"A dog barking in the rain\"},"
                + " {\"audio_id\": 2, \"audio_name\": \"2.wav\", \"caption\": \"Techno music with a strong beat\"}]");
        try (CaptionEmbeddings al = CaptionEmbeddings.load(AUDIOLDM, Kind.AUDIOLDM)) {
            al.precompute(data, "audio_name", "caption", tmp, 1);
            try (NDManager m = NDManager.newBaseManager()) {
                ClapTextModel clap = ClapTextModel.load(AUDIOLDM, m);
                String[] names = {"106158.wav", "2.wav"};
                for (int i = 0; i < 2; i++) {
                    NpyArray got = NpyArray.read(tmp.resolve(names[i] + ".npy"));
                    assertArrayEquals(new long[] {512}, got.shape());
                    var enc = dev.nextgpt.runtime.audioldm.RobertaBpeTokenizer.fromFolder(AUDIOLDM.resolve("tokenizer"))
                            .encodeBatch(List.of(i == 0 ? "A dog barking in the rain" : "Techno music with a strong beat"));
                    float[] direct = ClapTextModel.l2Normalize(clap.forward(m.create(enc.inputIds()),
                            m.create(enc.attentionMask())).textEmbeds()).toFloatArray();
                    double norm = 0;
                    for (int j = 0; j < 512; j++) {
                        assertEquals(fp16(direct[j]), got.data()[j], 0f, names[i] + " element " + j);
                        norm += got.data()[j] * got.data()[j];
                    }
                    assertEquals(1.0, Math.sqrt(norm), 1e-3);
                    float[] expected = readRow(AUDIOLDM.resolve("cases/case1_clap_text.safetensors"), "prompt_embeds",
                            i, 512);
                    for (int j = 0; j < 512; j++) {
                        assertEquals(expected[j], got.data()[j], 1e-4 + Math.abs(expected[j]) * 1e-3);
                    }
                }
                clap.close();
            }
        }
    }

    @Test
    void badInputsNameWhatIsWrong(@TempDir Path tmp) throws Exception {
        Path data = tmp.resolve("d.json");
        Files.writeString(data, "[{\"caption\": \"x\", \"video_name\": \"a.mp4\"}]");
        try (CaptionEmbeddings sd = CaptionEmbeddings.load(SD, Kind.SD)) {
            InvalidInputException e = assertThrows(InvalidInputException.class,
                    () -> sd.precompute(data, null, "caption", tmp, 4));
            assertTrue(e.getMessage().contains("'image_name'"), e.getMessage());
        }
        assertThrows(InvalidInputException.class, () -> Kind.parse("dalle"));
        assertThrows(InvalidInputException.class, () -> CaptionEmbeddings.load(tmp, Kind.SD));
    }

    static long[] goldenIds(Path file, String name, int row, int len) {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            long[] all = f.readLongs(name);
            return Arrays.copyOfRange(all, row * len, (row + 1) * len);
        }
    }

    static float[] readRow(Path file, String name, int row, int len) {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            float[] all = f.readFloats(name);
            return Arrays.copyOfRange(all, row * len, (row + 1) * len);
        }
    }
}
