package dev.nextgpt.runtime.zeroscope;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.runtime.io.SafetensorsFile;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** UNet3DConditionModel on the Zeroscope fixture: max abs ≤ 1e-4·s and rel-L2 ≤ 1e-5 (README). */
class UNet3DConditionModelTest {
    private static UNet3DConditionModel unet;

    @BeforeAll
    static void load() {
        unet = UNet3DConditionModel.load(ZeroscopeGolden.root().resolve("unet"));
    }

    @AfterAll
    static void close() {
        unet.close();
    }

    private static void check(String caseName) {
        try (NDManager m = NDManager.newBaseManager(); SafetensorsFile f = ZeroscopeGolden.openCase(caseName)) {
            NDArray out = unet.forward(f.load(m, "sample"), f.load(m, "timestep"),
                    f.load(m, "encoder_hidden_states"));
            ZeroscopeGolden.assertClose(caseName + " noise_pred", out, f, "noise_pred", 1e-4, true, 1e-5);
        }
    }

    @Test
    void case1Forward() {
        check("case1_unet3d_forward");
    }

    @Test
    void case1bOddSizeUsesExplicitUpsampleSizes() {
        check("case1b_unet3d_forward_odd_size");
    }

    @Test
    void configFollowsTheFixture() {
        UNet3DConditionModel.Config c = unet.config();
        assertEquals(4, c.normNumGroups());
        assertEquals(32, c.crossAttentionDim());
        assertEquals(4, c.transformerInHeadDim());
        assertEquals(3, c.numUpsamplers());
    }

    @Test
    void rejectsBadShapes() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray t = m.create(new long[] {10});
            assertThrows(InvalidInputException.class,
                    () -> unet.forward(m.zeros(new Shape(1, 3, 2, 8, 8)), t, m.zeros(new Shape(1, 77, 32))));
            assertThrows(InvalidInputException.class,
                    () -> unet.forward(m.zeros(new Shape(1, 4, 2, 8, 8)), t, m.zeros(new Shape(1, 77, 16))));
            assertThrows(InvalidInputException.class,
                    () -> unet.forward(m.zeros(new Shape(1, 4, 2, 8, 8)), t, null));
        }
    }
}
