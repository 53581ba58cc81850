package dev.nextgpt.runtime.audioldm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.runtime.diffusion.UNet2DCondition;
import dev.nextgpt.runtime.io.SafetensorsFile;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The AudioLDM UNet (simple_projection class embedding, concatenated to the time embedding, no text context) run
 * through the SD helper's {@link UNet2DCondition}: case2, max abs ≤ 1e-4·s and rel-L2 ≤ 1e-5.
 */
class AudioLdmUnetTest {

    @Test
    void case2ForwardWithClassLabelsAndNoContext() {
        try (UNet2DCondition unet = UNet2DCondition.load(AudioLdmGolden.root().resolve("unet"));
             NDManager m = NDManager.newBaseManager();
             SafetensorsFile f = AudioLdmGolden.openCase("case2_unet_forward")) {
            assertTrue(unet.needsClassLabels());
            NDArray out = unet.forward(f.load(m, "sample"), f.load(m, "timestep"), null, f.load(m, "class_labels"));
            AudioLdmGolden.assertClose("case2 noise_pred", out, f, "noise_pred", 1e-4, true, 1e-5);
        }
    }
}
