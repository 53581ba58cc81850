package dev.nextgpt.runtime.imagebind;

import ai.djl.ndarray.NDManager;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.config.JsonConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ImageBindConfigTest {

    @Test
    void hugeMatchesTheUpstreamParameterCount() {
        // state-dict elements counted by instantiating imagebind_huge() (reference §7.3), buffers included
        assertEquals(1_200_786_990L, ImageBindConfig.huge().stateDictElementCount());
        ImageBindConfig h = ImageBindConfig.huge();
        assertEquals(1280, h.trunk(Modality.VISION).embedDim());
        assertEquals(32, h.trunk(Modality.VISION).numBlocks());
        assertEquals(256, h.numPatches(Modality.VISION));
        assertEquals(228, h.numPatches(Modality.AUDIO));
        assertEquals(250, h.numPatches(Modality.IMU));
    }

    @Test
    void parsesTheFixtureConstructorKwargs() {
        ImageBindConfig c = ImageBindConfig.forModel(ImageBindFixtures.modelDir());
        assertEquals(16, c.outEmbedDim());
        assertEquals(new ImageBindConfig.Trunk(16, 2, 4, false, true, 0.1), c.trunk(Modality.AUDIO));
        assertEquals(new ImageBindConfig.Trunk(16, 2, 2, true, false, 0.0), c.trunk(Modality.VISION));
        assertEquals(4, c.trunk(Modality.TEXT).embedDim());
        // unspecified kwargs take ImageBindModel's defaults, which agree with the listed defaults here
        assertEquals(248_629L, c.parameterCount());
        try (var store = dev.nextgpt.runtime.io.Checkpoints.open(ImageBindFixtures.modelDir())) {
            assertEquals(store.parameterCount(), c.stateDictElementCount());
        }
    }

    @Test
    void flatKeysDefaultToHuge(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("config.json");
        Files.writeString(f, "{\"audio_embed_dim\": 32, \"audio_num_heads\": 4, \"kernel_size\": [1, 16, 16]}");
        ImageBindConfig c = ImageBindConfig.fromJson(JsonConfig.read(f));
        assertEquals(32, c.trunk(Modality.AUDIO).embedDim());
        assertEquals(12, c.trunk(Modality.AUDIO).numBlocks());
        assertEquals(1280, c.trunk(Modality.VISION).embedDim());
        assertEquals(2 * 14 * 14, c.numPatches(Modality.VISION));
    }

    @Test
    void noConfigMeansHuge(@TempDir Path dir) {
        assertEquals(ImageBindConfig.huge().parameterCount(), ImageBindConfig.forModel(dir).parameterCount());
    }

    @Test
    void badHeadsAreRejected(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("config.json");
        Files.writeString(f, "{\"vision_embed_dim\": 30, \"vision_num_heads\": 4}");
        ModelFormatException e = assertThrows(ModelFormatException.class,
                () -> ImageBindConfig.fromJson(JsonConfig.read(f)));
        assertTrue(e.getMessage().contains("embed_dim=30"), e.getMessage());
    }

    @Test
    void checkpointShapeMismatchNamesTheTensor(@TempDir Path dir) throws IOException {
        Files.copy(ImageBindFixtures.modelDir().resolve("model.safetensors"), dir.resolve("model.safetensors"));
        // the fixture's real vision width is 16; claim 32
        Files.writeString(dir.resolve("config.json"), "{\"constructor_kwargs\": {\"out_embed_dim\": 16, "
                + "\"vision_embed_dim\": 32, \"vision_num_blocks\": 2, \"vision_num_heads\": 2}}");
        try (NDManager m = NDManager.newBaseManager()) {
            ModelFormatException e = assertThrows(ModelFormatException.class,
                    () -> ImageBindModel.load(dir, ImageBindConfig.forModel(dir), m, Set.of(Modality.VISION)));
            assertTrue(e.getMessage().contains("modality_preprocessors.vision.rgbt_stem.proj.1.weight"),
                    e.getMessage());
        }
    }
}
