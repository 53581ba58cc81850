package dev.nextgpt.runtime.imagebind;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.runtime.config.JsonConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Other sizes than the fixture's: a random in-memory model with non-default kernels and widths. */
class ImageBindRandomModelTest {

    @Test
    void otherKernelSizesAndWidths(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("config.json");
        Files.writeString(f, "{\"out_embed_dim\": 12, \"vision_embed_dim\": 8, \"vision_num_blocks\": 1, "
                + "\"vision_num_heads\": 2, \"kernel_size\": [2, 16, 16], \"audio_embed_dim\": 8, "
                + "\"audio_num_blocks\": 1, \"audio_num_heads\": 4, \"audio_stride\": 12, "
                + "\"imu_embed_dim\": 6, \"imu_num_blocks\": 1, \"imu_num_heads\": 3, \"imu_kernel_size\": 10}");
        ImageBindConfig c = ImageBindConfig.fromJson(JsonConfig.read(f));
        try (NDManager m = NDManager.newBaseManager();
             ImageBindModel model = ImageBindModel.random(c, m,
                     EnumSet.of(Modality.VISION, Modality.AUDIO, Modality.IMU), 7)) {
            // 224/16 = 14 -> 196 patches
            ImageBindModel.Encoding v = model.encode(Modality.VISION,
                    m.randomNormal(new Shape(1, 2, 3, 2, 224, 224)));
            assertEquals(new Shape(1, 12), v.imagebind().getShape());
            assertEquals(new Shape(1, 196, 12), v.nextgpt().getShape());
            assertEquals(new Shape(2, 197, 8), v.trunkOutput().getShape());
            // audio stride 12: ((128-16)/12+1) x ((204-16)/12+1) = 10 x 16
            ImageBindModel.Encoding a = model.encode(Modality.AUDIO, m.randomNormal(new Shape(3, 1, 128, 204)));
            assertEquals(new Shape(3, 160, 12), a.nextgpt().getShape());
            assertNorms(a.nextgptLegacy(), 1f);
            // imagebind audio = unit vector x exp(log 20)
            assertNorms(a.imagebind(), 20f);
            ImageBindModel.Encoding i = model.encode(Modality.IMU, m.randomNormal(new Shape(2, 6, 2000)));
            assertEquals(new Shape(2, 200, 12), i.nextgpt().getShape());
            assertNorms(i.imagebind(), 5f);
        }
    }

    @Test
    void imageEqualsItsRepeatedTwoFrameClip() {
        ImageBindConfig tiny = ImageBindConfig.forModel(ImageBindFixtures.modelDir());
        try (NDManager m = NDManager.newBaseManager();
             ImageBindModel model = ImageBindModel.random(tiny, m, EnumSet.of(Modality.VISION), 3)) {
            NDArray img = m.randomNormal(new Shape(1, 3, 224, 224));
            NDArray clip = img.expandDims(2).repeat(2, 2).expandDims(1);  // (1,1,3,2,224,224)
            float[] a = model.encode(Modality.VISION, img).nextgpt().toFloatArray();
            float[] b = model.encode(Modality.VISION, clip).nextgpt().toFloatArray();
            assertArrayEquals(a, b, 1e-6f);
        }
    }

    private static void assertNorms(NDArray x, float expected) {
        float[] n = x.norm(new int[] {-1}).toType(DataType.FLOAT32, false).toFloatArray();
        for (float v : n) {
            assertTrue(Math.abs(v - expected) < 1e-4 * expected, "norm " + v + " expected " + expected);
        }
    }
}
