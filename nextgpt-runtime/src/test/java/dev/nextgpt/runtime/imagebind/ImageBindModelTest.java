package dev.nextgpt.runtime.imagebind;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.UnsupportedConfigurationException;
import dev.nextgpt.runtime.io.TensorStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

import static dev.nextgpt.runtime.imagebind.ImageBindFixtures.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** All model cases of the ImageBind golden fixture at the README tolerances. */
class ImageBindModelTest {
    private static final double UNIT_ATOL = 1e-4;
    private static final double RTOL = 1e-4;
    private static final double TRUNK_ATOL = 3e-4;

    private static NDManager manager;
    private static ImageBindModel model;

    @BeforeAll
    static void load() {
        manager = NDManager.newBaseManager();
        model = ImageBindModel.load(ImageBindFixtures.modelDir(), manager);
    }

    @AfterAll
    static void close() {
        model.close();
        manager.close();
    }

    @Test
    void loadsAllModalitiesWithTheFixtureConfig() {
        assertEquals(Set.of(Modality.values()), model.modalities());
        assertEquals(248_629L, model.parameterCount());
    }

    @Test
    void visionImage() {
        runCase("vision_image", Modality.VISION, 1.0, 17);
    }

    @Test
    void visionVideo() {
        runCase("vision_video", Modality.VISION, 1.0, 17);
    }

    @Test
    void audio() {
        runCase("audio", Modality.AUDIO, Math.exp(Math.log(20) + 0.1), 17);
    }

    @Test
    void text() {
        runCase("text", Modality.TEXT, Math.exp(2.909260036932778), 77);
    }

    @Test
    void depth() {
        runCase("depth", Modality.DEPTH, Math.exp(Math.log(5) + 0.1), 8);
    }

    @Test
    void thermal() {
        runCase("thermal", Modality.THERMAL, Math.exp(Math.log(10) + 0.1), 8);
    }

    @Test
    void imu() {
        runCase("imu", Modality.IMU, Math.exp(Math.log(5) + 0.1), 8);
    }

    private void runCase(String name, Modality modality, double scale, int k) {
        try (NDManager m = manager.newSubManager();
             TensorStore exp = ImageBindFixtures.open("cases/" + name + ".safetensors")) {
            NDArray input = ImageBindFixtures.caseInput(name, m, exp);
            Map<String, NDArray> dbg = new LinkedHashMap<>();
            ImageBindModel.Encoding e = model.encode(modality, input, dbg);
            String p = name + " ";
            // embeddings: unit-normalised for vision, scaled by the logit scale otherwise
            double embAtol = modality == Modality.VISION ? UNIT_ATOL : UNIT_ATOL * scale;
            assertClose(p + "imagebind.embedding", e.imagebind(), exp.load(m, "imagebind.embedding"), embAtol, RTOL);
            if (exp.contains("imagebind.embedding_per_clip")) {
                assertClose(p + "imagebind.embedding_per_clip", e.imagebindPerClip(),
                        exp.load(m, "imagebind.embedding_per_clip"), embAtol, RTOL);
            } else {
                assertNull(e.imagebindPerClip());
            }
            if (exp.contains("nextgpt.embedding")) {
                double atol = modality == Modality.TEXT ? UNIT_ATOL * scale : UNIT_ATOL;
                assertClose(p + "nextgpt.embedding", e.nextgpt(), exp.load(m, "nextgpt.embedding"), atol, RTOL);
            }
            if (exp.contains("nextgpt_legacy.embedding")) {
                assertClose(p + "nextgpt_legacy.embedding", e.nextgptLegacy(),
                        exp.load(m, "nextgpt_legacy.embedding"), UNIT_ATOL, RTOL);
            }
            assertClose(p + "head.output", e.headOutput(), exp.load(m, "head.output"), TRUNK_ATOL, RTOL);
            if (modality == Modality.TEXT) {
                assertArrayEquals(exp.readLongs("seq_len"), e.seqLen().toLongArray());
                assertClose(p + "trunk.output", e.trunkOutput(), exp.load(m, "trunk.output"), TRUNK_ATOL, RTOL);
                assertClose(p + "dbg.head_ln_output", dbg.get("head_ln_output"),
                        exp.load(m, "dbg.s0.head_ln_output"), TRUNK_ATOL, RTOL);
            } else {
                assertClose(p + "trunk.output_cls", e.trunkOutputCls(), exp.load(m, "trunk.output_cls"),
                        TRUNK_ATOL, RTOL);
                assertClose(p + "trunk.output_s0", e.trunkOutput().get(0), exp.load(m, "trunk.output_s0"),
                        TRUNK_ATOL, RTOL);
                assertClose(p + "dbg.head_ln_output", dbg.get("head_ln_output").get(":" + k),
                        exp.load(m, "dbg.s0.head_ln_output"), TRUNK_ATOL, RTOL);
            }
            assertClose(p + "dbg.stem_output", dbg.get("stem_output").get(":" + k),
                    exp.load(m, "dbg.s0.stem_output"), TRUNK_ATOL, RTOL);
            assertClose(p + "dbg.trunk_input", dbg.get("trunk_input").get(":" + k),
                    exp.load(m, "dbg.s0.trunk_input"), TRUNK_ATOL, RTOL);
            if (exp.contains("dbg.s0.pre_ln_output")) {
                assertClose(p + "dbg.pre_ln_output", dbg.get("pre_ln_output").get(":" + k),
                        exp.load(m, "dbg.s0.pre_ln_output"), TRUNK_ATOL, RTOL);
            }
            for (int i = 0; exp.contains("dbg.s0.block" + i + "_output"); i++) {
                assertClose(p + "dbg.block" + i + "_output", dbg.get("block" + i + "_output").get(":" + k),
                        exp.load(m, "dbg.s0.block" + i + "_output"), TRUNK_ATOL, RTOL);
            }
        }
    }

    @Test
    void rejectsAmbiguousFiveDimensionalVision() {
        try (NDManager m = manager.newSubManager()) {
            NDArray x = m.zeros(new ai.djl.ndarray.types.Shape(1, 3, 2, 224, 224));
            InvalidInputException ex = assertThrows(InvalidInputException.class,
                    () -> model.encode(Modality.VISION, x));
            org.junit.jupiter.api.Assertions.assertTrue(ex.getMessage().contains("(B,S,3,T,H,W)"), ex.getMessage());
        }
    }

    @Test
    void rejectsWrongSizesAndTokenIds() {
        try (NDManager m = manager.newSubManager()) {
            assertThrows(InvalidInputException.class,
                    () -> model.encode(Modality.AUDIO, m.zeros(new ai.djl.ndarray.types.Shape(1, 1, 128, 200))));
            assertThrows(InvalidInputException.class,
                    () -> model.encode(Modality.TEXT, m.create(new long[] {49408L}).reshape(1, 1).repeat(1, 77)));
            assertThrows(InvalidInputException.class,
                    () -> model.encode(Modality.IMU, m.zeros(new ai.djl.ndarray.types.Shape(1, 6, 1000))));
        }
    }

    @Test
    void partialLoadRefusesOtherModalities() {
        try (NDManager m = manager.newSubManager();
             ImageBindModel audioOnly = ImageBindModel.load(ImageBindFixtures.modelDir(),
                     ImageBindConfig.forModel(ImageBindFixtures.modelDir()), m, Set.of(Modality.AUDIO))) {
            assertEquals(Set.of(Modality.AUDIO), audioOnly.modalities());
            assertThrows(UnsupportedConfigurationException.class,
                    () -> audioOnly.encode(Modality.VISION, m.zeros(new ai.djl.ndarray.types.Shape(1, 3, 224, 224))));
        }
    }
}
