package dev.nextgpt.runtime.nextgpt;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.AudioPart;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.VideoPart;
import dev.nextgpt.runtime.io.SafetensorsFile;
import org.junit.jupiter.api.Test;

import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The video and audio {@link ModalityDecoder}s against the golden Zeroscope / AudioLDM "as NExT-GPT calls it" cases
 * (only {@code prompt_embeds} given, the negative computed by the pipeline from {@code ""}), and the width check
 * of the legacy loader before any weight is read.
 */
class MediaDecodersTest {

    static Path golden(String name) {
        try {
            return Path.of(MediaDecodersTest.class.getClassLoader().getResource("golden/" + name + "/model_index.json")
                    .toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static double maxAbs(float[] a, float[] b) {
        assertEquals(b.length, a.length, "length");
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }

    @Test
    void videoDecoderMatchesZeroscopeNextGptCase() {
        Path dir = golden("zeroscope");
        assertArrayEquals(new long[] {1, 77, 32}, VideoDiffusionDecoder.conditioningShapeOf(dir));
        try (VideoDiffusionDecoder d = VideoDiffusionDecoder.load(dir); NDManager m = NDManager.newBaseManager();
             SafetensorsFile f = SafetensorsFile.open(dir.resolve("cases/case5_e2e_nextgpt_style.safetensors"))) {
            assertEquals(Modality.VIDEO, d.modality());
            assertArrayEquals(new long[] {1, 77, 32}, d.conditioningShape());
            List<int[]> progress = new ArrayList<>();
            ModalityDecoder.Options o = ModalityDecoder.Options.defaults().withSteps(3).withGuidanceScale(9.0)
                    .withSize(48, 80).withFrames(2).withFps(4.0).withInitialLatents(f.load(m, "initial_latents"));
            ModalityDecoder.Output out = d.decode(f.load(m, "prompt_embeds"), o,
                    (s, t) -> progress.add(new int[] {s, t}), () -> false);
            assertEquals(3, progress.size());
            assertArrayEquals(new int[] {3, 3}, progress.get(2));
            double lat = maxAbs(out.tensors().get("video.final_latents").toFloatArray(), f.readFloats("final_latents"));
            System.out.printf("video decoder final_latents max abs %.2e (tol 1e-3)%n", lat);
            assertTrue(lat <= 1e-3);
            VideoPart v = (VideoPart) out.part();
            assertEquals(2, v.frames().size());
            assertEquals(80, v.frames().get(0).width());
            assertEquals(48, v.frames().get(0).height());
            assertEquals(4.0, v.fps());
            // frame pixels are the pipeline's tensor2vid uint8 frames (at most one level off the reference)
            ByteBuffer ref = f.rawBytes("frames_uint8");
            byte[] got = v.frames().get(1).toRgbBytes();
            int off = 48 * 80 * 3;
            int max = 0;
            for (int i = 0; i < got.length; i++) {
                max = Math.max(max, Math.abs((got[i] & 0xff) - (ref.get(ref.position() + off + i) & 0xff)));
            }
            assertTrue(max <= 1, "frame 1 max level difference " + max);

            // cancellation before the first step
            assertThrows(CancellationException.class, () -> d.decode(f.load(m, "prompt_embeds"),
                    ModalityDecoder.Options.defaults().withSteps(2).withSize(16, 16).withFrames(1), null, () -> true));
        }
    }

    @Test
    void audioDecoderMatchesAudioLdmNextGptCase() {
        Path dir = golden("audioldm");
        assertArrayEquals(new long[] {1, 512}, AudioDiffusionDecoder.conditioningShapeOf(dir));
        try (AudioDiffusionDecoder d = AudioDiffusionDecoder.load(dir); NDManager m = NDManager.newBaseManager();
             SafetensorsFile f = SafetensorsFile.open(dir.resolve("cases/case5_e2e_prompt_embeds.safetensors"))) {
            List<Integer> steps = new ArrayList<>();
            // NExT-GPT hands the audio conditioning as [1, 1, D]; the decoder views it as [1, D]
            NDArray cond = f.load(m, "prompt_embeds").reshape(1, 1, 512);
            ModalityDecoder.Output out = d.decode(cond, ModalityDecoder.Options.defaults().withSteps(3)
                    .withGuidanceScale(2.5).withSeconds(0.0117).withInitialLatents(f.load(m, "initial_latents")),
                    (s, t) -> steps.add(s), () -> false);
            assertEquals(List.of(1, 2, 3), steps);
            AudioPart a = (AudioPart) out.part();
            assertEquals(16000, a.sampleRate());
            float[] got = a.toMono();
            double err = maxAbs(got, f.readFloats("audio"));
            System.out.printf("audio decoder waveform (%d samples) max abs %.2e (tol 2e-4)%n", got.length, err);
            assertTrue(err <= 2e-4);
            assertThrows(dev.nextgpt.InvalidInputException.class, () -> d.decode(m.zeros(new ai.djl.ndarray.types
                    .Shape(1, 16)), null, null, null));
        }
    }

    @Test
    void mismatchedDecoderFailsBeforeLoadingNamingBothSides() {
        // the e2e fixture's video TextFcLayer gives 24 wide conditioning; the zeroscope fixture's UNet wants 32
        LegacyNextGpt.Components parts = LegacyNextGpt.Components.of(LegacySystemLayout.inspect(
                LegacyNextGptE2eTest.system())).withVideoDecoder(golden("zeroscope"))
                .withAudioDecoder(golden("audioldm"));
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> LegacyNextGpt.load(parts,
                LegacyNextGpt.LoadOptions.defaults().withImageDecoder(false)));
        assertTrue(e.getMessage().contains("VIDEO TextFcLayer output width") && e.getMessage().contains("24")
                && e.getMessage().contains("32"), e.getMessage());
        assertTrue(e.getMessage().contains("AUDIO decoder conditioning width") && e.getMessage().contains("512"),
                e.getMessage());
    }
}
