package dev.nextgpt.runtime.audioldm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.component.ComponentRegistry;
import dev.nextgpt.runtime.component.ComponentRequest;
import dev.nextgpt.runtime.io.SafetensorsFile;
import dev.nextgpt.runtime.io.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** SpeechT5 HiFi-GAN against case4 (1e-4·s and rel-L2 1e-5) and the e2e cases' vocoder stage (audio 2e-4). */
class HifiGanVocoderTest {

    @Test
    void case4WaveformMatches() {
        try (NDManager m = NDManager.newBaseManager();
             SafetensorsFile f = AudioLdmGolden.openCase("case4_vocoder");
             HifiGanVocoder voc = HifiGanVocoder.load(AudioLdmGolden.root().resolve("vocoder"), m)) {
            assertEquals(202, voc.config().outputLength(20));
            NDArray wave = voc.forward(f.load(m, "mel"));
            AudioLdmGolden.assertClose("case4 waveform", wave, f, "waveform", 1e-4, true, 1e-5);
            // Unbatched input gives the same samples.
            NDArray single = voc.forward(f.load(m, "mel").get(1));
            assertEquals(new Shape(202), single.getShape());
            assertEquals(0.0, single.sub(wave.get(1)).abs().max().getFloat(), 1e-6);
        }
    }

    @Test
    void e2eVocoderStageAndCropMatch() {
        try (NDManager m = NDManager.newBaseManager();
             SafetensorsFile c5 = AudioLdmGolden.openCase("case5_e2e_prompt_embeds");
             SafetensorsFile c6 = AudioLdmGolden.openCase("case6_e2e_text");
             HifiGanVocoder voc = HifiGanVocoder.load(AudioLdmGolden.root(), m)) {
            AudioLdmLengths lengths = AudioLdmLengths.fromPipeline(AudioLdmGolden.root());
            NDArray full = voc.forward(AudioLdmLengths.melFromVaeOutput(c5.load(m, "mel_spectrogram")));
            AudioLdmGolden.assertClose("case5 waveform_full", full, c5, "waveform_full", 2e-4, false, 0);
            NDArray audio = AudioLdmLengths.cropWaveform(full, lengths.originalWaveformLength(0.0117));
            AudioLdmGolden.assertClose("case5 audio", audio, c5, "audio", 2e-4, false, 0);

            AudioLdmLengths.Plan plan = lengths.plan(null, 1);
            NDArray wave6 = voc.forward(AudioLdmLengths.melFromVaeOutput(c6.load(m, "mel_spectrogram")));
            assertEquals(322, wave6.getShape().get(1));
            AudioLdmGolden.assertClose("case6 audio", AudioLdmLengths.cropWaveform(wave6,
                    plan.originalWaveformLength()), c6, "audio", 2e-4, false, 0);
        }
    }

    /** A checkpoint stored with weight_g/weight_v (per-output-channel rescaled v) must give the same waveform. */
    @Test
    void weightNormCheckpointIsFolded(@TempDir Path dir) throws Exception {
        Path src = AudioLdmGolden.root().resolve("vocoder");
        Random rnd = new Random(7);
        try (NDManager m = NDManager.newBaseManager();
             SafetensorsFile store = SafetensorsFile.open(src.resolve("model.safetensors"));
             SafetensorsFile f = AudioLdmGolden.openCase("case4_vocoder")) {
            SafetensorsWriter w = new SafetensorsWriter();
            int folded = 0;
            for (String name : store.names()) {
                NDArray a = store.load(m, name);
                boolean conv = name.endsWith(".weight") && a.getShape().dimension() == 3;
                if (!conv) {
                    w.add(name, a);
                    continue;
                }
                String base = name.substring(0, name.length() - ".weight".length());
                long out = a.getShape().get(0);
                float[] c = new float[(int) out];
                for (int i = 0; i < c.length; i++) {
                    c[i] = 0.5f + 2 * rnd.nextFloat();
                }
                NDArray v = a.mul(m.create(c).reshape(out, 1, 1));
                NDArray g = a.square().sum(new int[] {1, 2}, true).sqrt();
                // Half in the old weight_g/v naming, half in torch's parametrizations naming.
                if (folded++ % 2 == 0) {
                    w.add(base + ".weight_g", g);
                    w.add(base + ".weight_v", v);
                } else {
                    w.add(base + ".parametrizations.weight.original0", g);
                    w.add(base + ".parametrizations.weight.original1", v);
                }
            }
            assertTrue(folded > 10);
            Files.copy(src.resolve("config.json"), dir.resolve("config.json"));
            w.write(dir.resolve("model.safetensors"));
            try (HifiGanVocoder voc = HifiGanVocoder.load(dir, m)) {
                AudioLdmGolden.assertClose("weight-norm folded waveform", voc.forward(f.load(m, "mel")), f,
                        "waveform", 1e-4, true, 1e-5);
            }
        }
    }

    /** normalize_before=true: (mel - mean) / scale first. The fixture's buffers are 0/1, so random ones are written. */
    @Test
    void normalizeBeforeUsesMeanAndScale(@TempDir Path dir) throws Exception {
        Path src = AudioLdmGolden.root().resolve("vocoder");
        Files.writeString(dir.resolve("config.json"), Files.readString(src.resolve("config.json"))
                .replace("\"normalize_before\": false", "\"normalize_before\": true"));
        Random rnd = new Random(3);
        float[] mean = new float[16];
        float[] scale = new float[16];
        for (int i = 0; i < 16; i++) {
            mean[i] = (float) rnd.nextGaussian();
            scale[i] = 0.5f + rnd.nextFloat();
        }
        try (NDManager m = NDManager.newBaseManager();
             SafetensorsFile store = SafetensorsFile.open(src.resolve("model.safetensors"));
             SafetensorsFile f = AudioLdmGolden.openCase("case4_vocoder")) {
            SafetensorsWriter w = new SafetensorsWriter();
            for (String name : store.names()) {
                if (!name.equals("mean") && !name.equals("scale")) {
                    w.add(name, store.load(m, name));
                }
            }
            w.addFloats("mean", new long[] {16}, mean).addFloats("scale", new long[] {16}, scale);
            w.write(dir.resolve("model.safetensors"));
            try (HifiGanVocoder plain = HifiGanVocoder.load(src, m);
                 HifiGanVocoder normed = HifiGanVocoder.load(dir, m)) {
                assertTrue(normed.config().normalizeBefore());
                NDArray mel = f.load(m, "mel");
                NDArray manual = plain.forward(mel.sub(m.create(mean)).div(m.create(scale)));
                assertEquals(0.0, normed.forward(mel).sub(manual).abs().max().getFloat(), 1e-6);
                assertTrue(plain.forward(mel).sub(manual).abs().max().getFloat() > 1e-3);
            }
        }
    }

    @Test
    void runnerAndErrors() {
        try (NDManager m = NDManager.newBaseManager();
             SafetensorsFile f = AudioLdmGolden.openCase("case4_vocoder")) {
            Map<String, NDArray> out = ComponentRegistry.get("hifigan").run(new ComponentRequest(
                    AudioLdmGolden.root(), Map.of("mel", f.load(m, "mel")), Map.of("crop", "200"), Map.of()), m);
            float[] ref = f.readFloats("waveform");
            float[] cropped = new float[400];
            System.arraycopy(ref, 0, cropped, 0, 200);
            System.arraycopy(ref, 202, cropped, 200, 200);
            AudioLdmGolden.assertClose("runner waveform", out.get("waveform"), cropped, new long[] {2, 200}, 1e-4,
                    true, 1e-5);
            try (HifiGanVocoder voc = HifiGanVocoder.load(AudioLdmGolden.root(), m)) {
                assertThrows(InvalidInputException.class, () -> voc.forward(m.zeros(new Shape(1, 20, 15))));
            }
            assertThrows(ModelFormatException.class,
                    () -> HifiGanVocoder.load(AudioLdmGolden.root().resolve("tokenizer"), m));
        }
    }

    /** The zero-insertion transposed convolution against the textbook scatter definition, several stride/padding. */
    @Test
    void convTranspose1dMatchesDefinition() {
        Random rnd = new Random(11);
        int[][] settings = {{5, 16, 5}, {2, 4, 1}, {1, 3, 1}, {3, 3, 0}, {2, 3, 3}, {4, 7, 2}};
        try (NDManager m = NDManager.newBaseManager()) {
            for (int[] st : settings) {
                int stride = st[0];
                int k = st[1];
                int pad = st[2];
                int b = 2;
                int cin = 3;
                int cout = 2;
                int len = 6;
                float[] x = new float[b * cin * len];
                float[] w = new float[cin * cout * k];
                float[] bias = new float[cout];
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) rnd.nextGaussian();
                }
                for (int i = 0; i < w.length; i++) {
                    w[i] = (float) rnd.nextGaussian();
                }
                for (int i = 0; i < cout; i++) {
                    bias[i] = (float) rnd.nextGaussian();
                }
                int full = (len - 1) * stride + k;
                int outLen = full - 2 * pad;
                float[] ref = new float[b * cout * outLen];
                for (int n = 0; n < b; n++) {
                    for (int o = 0; o < cout; o++) {
                        double[] acc = new double[full];
                        for (int c = 0; c < cin; c++) {
                            for (int t = 0; t < len; t++) {
                                for (int j = 0; j < k; j++) {
                                    acc[t * stride + j] += (double) x[(n * cin + c) * len + t] * w[(c * cout + o) * k + j];
                                }
                            }
                        }
                        for (int t = 0; t < outLen; t++) {
                            ref[(n * cout + o) * outLen + t] = (float) (acc[t + pad] + bias[o]);
                        }
                    }
                }
                NDArray got = HifiGanVocoder.convTranspose1d(m.create(x).reshape(b, cin, len),
                        m.create(w).reshape(cin, cout, k), m.create(bias), stride, pad);
                AudioLdmGolden.assertClose("conv_transpose1d s" + stride + " k" + k + " p" + pad, got, ref,
                        new long[] {b, cout, outLen}, 1e-5, true, 0);
            }
        }
    }
}
