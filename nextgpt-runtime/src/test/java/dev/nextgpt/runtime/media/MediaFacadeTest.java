package dev.nextgpt.runtime.media;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.runtime.component.ComponentRegistry;
import dev.nextgpt.runtime.component.ComponentRequest;
import dev.nextgpt.runtime.component.ComponentRunner;
import dev.nextgpt.runtime.io.SafetensorsFile;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

import static dev.nextgpt.runtime.media.MediaFixtures.maxAbs;
import static dev.nextgpt.runtime.media.MediaFixtures.resource;
import static org.junit.jupiter.api.Assertions.*;

class MediaFacadeTest {

    private static Map<String, NDArray> run(NDManager m, Path model, Map<String, String> options) {
        ComponentRunner r = ComponentRegistry.get("imagebind-preprocess");
        return r.run(new ComponentRequest(model, Map.of(), options, Map.of()), m);
    }

    @Test
    void runnerVisionAudioTextMatchFixtures() {
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> v = run(m, null, Map.of("modality", "vision",
                    "file", resource("golden/imagebind/media/bird_image.jpg").toString()));
            NDArray pv = v.get("pixel_values");
            assertArrayEquals(new long[] {1, 3, 224, 224}, pv.getShape().getShape());
            Map<String, NDArray> a = run(m, null, Map.of("modality", "audio",
                    "file", resource("golden/imagebind/media/bird_audio.wav").toString()));
            NDArray pa = a.get("pixel_values");
            assertArrayEquals(new long[] {1, 3, 1, 128, 204}, pa.getShape().getShape());
            float[] expImg;
            float[] expAud;
            try (SafetensorsFile f = SafetensorsFile.open(resource("golden/imagebind/preprocess/image_bird.safetensors"))) {
                expImg = f.readFloats("pixel_values");
            }
            try (SafetensorsFile f = SafetensorsFile.open(resource("golden/imagebind/preprocess/audio_bird.safetensors"))) {
                expAud = f.readFloats("pixel_values");
            }
            assertTrue(maxAbs(pv.toFloatArray(), expImg) <= 1e-6);
            assertTrue(maxAbs(pa.toFloatArray(), expAud) <= 0.02);

            Path bpeDir = resource("golden/imagebind/bpe/bpe_simple_vocab_16e6.txt.gz").getParent().getParent();
            NDArray ids = run(m, bpeDir, Map.of("modality", "text", "text", "A dog.")).get("input_ids");
            assertEquals(DataType.INT64, ids.getDataType());
            long[] expIds;
            try (SafetensorsFile f = SafetensorsFile.open(resource("golden/imagebind/preprocess/tokenizer.safetensors"))) {
                expIds = f.readLongs("input_ids");
            }
            assertArrayEquals(Arrays.copyOfRange(expIds, 0, 77), ids.toLongArray());
            assertThrows(InvalidInputException.class, () -> run(m, null, Map.of("modality", "smell")));
            assertThrows(InvalidInputException.class, () -> run(m, null, Map.of("modality", "vision")));
        }
    }

    @Test
    void facadeShapes() {
        ImageBindPreprocessor p = ImageBindPreprocessor.withBpe(resource("golden/imagebind/bpe/bpe_simple_vocab_16e6.txt.gz"));
        try (NDManager m = NDManager.newBaseManager()) {
            assertArrayEquals(new long[] {3, 224, 224},
                    p.vision(m, resource("golden/imagebind/media/bird_image.jpg")).getShape().getShape());
            float[] pcm = new float[8000];
            for (int i = 0; i < pcm.length; i++) {
                pcm[i] = (float) Math.sin(i * 0.1) * 0.3f;
            }
            assertArrayEquals(new long[] {3, 1, 128, 204}, p.audio(m, pcm, 8000).getShape().getShape());
            assertArrayEquals(new long[] {15, 3, 2, 224, 224},
                    p.video(m, resource("golden/imagebind/media/test.mp4")).getShape().getShape());
            assertArrayEquals(new long[] {77}, p.text(m, "a bird").getShape().getShape());
            assertThrows(MediaDecodeException.class, () -> p.audio(m, new float[0], 16000));
        }
    }

    @Test
    void benchmarkReportsEveryModality() {
        Map<String, Double> t = PreprocessBenchmark.run(resource("golden/imagebind/media/bird_image.jpg"),
                resource("golden/imagebind/media/bird_audio.wav"), null,
                resource("golden/imagebind/bpe/bpe_simple_vocab_16e6.txt.gz"), "a bird", 1);
        assertEquals(java.util.Set.of("vision", "audio", "text"), t.keySet());
        t.values().forEach(v -> assertTrue(v >= 0));
        System.out.println("preprocess timings ms " + t);
    }
}
