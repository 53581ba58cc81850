package dev.nextgpt.runtime.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.runtime.io.SafetensorsFile;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** Case 2 of the stable-diffusion fixture (SD-2 style) and of its v15/ variant (SD-1.5 style). */
class UNet2DConditionTest {

    @Test
    void sd2StyleUnet() {
        check("", new String[] {"a", "b", "c", "d"}, 4);
    }

    @Test
    void sd15StyleUnet() {
        check("v15/", new String[] {"a", "b", "c"}, 2);
    }

    private void check(String dir, String[] tags, int blocks) {
        try (NDManager m = SdGolden.manager();
             UNet2DCondition unet = UNet2DCondition.load(SdGolden.root().resolve(dir + "unet"));
             SafetensorsFile f = SdGolden.open(dir + "cases/case2_unet.safetensors")) {
            NDArray sample = f.load(m, "input.sample");
            NDArray ehs = f.load(m, "input.encoder_hidden_states");
            for (String tag : tags) {
                Map<String, NDArray> trace = tag.equals("a") ? new HashMap<>() : null;
                NDArray out = unet.forward(sample, f.load(m, "input.timestep_" + tag), ehs, null, trace);
                if (trace != null) {
                    for (String k : new String[] {"time_proj", "time_embedding", "conv_in", "mid_block",
                            "conv_norm_out"}) {
                        SdGolden.assertClose(dir + "debug_a." + k, trace.get(k), f.load(m, "debug_a." + k), 1e-5,
                                5e-6);
                    }
                    for (int i = 0; i < blocks; i++) {
                        for (String k : new String[] {"down_block_" + i, "up_block_" + i}) {
                            SdGolden.assertClose(dir + "debug_a." + k, trace.get(k), f.load(m, "debug_a." + k),
                                    1e-5, 5e-6);
                        }
                    }
                }
                SdGolden.assertClose(dir + "unet out_" + tag, out, f.load(m, "expected.out_" + tag), 1e-5, 5e-6);
            }
            NDArray bad = m.zeros(new ai.djl.ndarray.types.Shape(2, 3, 16, 16));
            assertThrows(InvalidInputException.class, () -> unet.forward(bad, f.load(m, "input.timestep_a"), ehs,
                    null));
            assertThrows(InvalidInputException.class, () -> unet.forward(sample, m.create(new long[] {1, 2, 3}),
                    ehs, null));
        }
    }
}
