package dev.nextgpt.runtime.zeroscope;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.runtime.component.ComponentRegistry;
import dev.nextgpt.runtime.component.ComponentRequest;
import dev.nextgpt.runtime.io.SafetensorsFile;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** The {@code unet3d} and {@code video-pipeline} component runners on the Zeroscope fixture (README tolerances). */
class ZeroscopeRunnersTest {

    @Test
    void unet3dRunnerOnCase1b() {
        try (NDManager m = NDManager.newBaseManager();
             SafetensorsFile f = ZeroscopeGolden.openCase("case1b_unet3d_forward_odd_size")) {
            Map<String, NDArray> in = new HashMap<>();
            for (String n : new String[] {"sample", "timestep", "encoder_hidden_states"}) {
                in.put(n, f.load(m, n));
            }
            Map<String, NDArray> out = ComponentRegistry.get("unet3d").run(
                    new ComponentRequest(ZeroscopeGolden.root(), in, Map.of(), Map.of()), m);
            ZeroscopeGolden.assertClose("runner unet3d sample", out.get("sample"), f, "noise_pred", 1e-4, true, 1e-5);
        }
    }

    @Test
    void videoPipelineRunnerOnCase5ComputesTheNegative() {
        try (NDManager m = NDManager.newBaseManager();
             SafetensorsFile f = ZeroscopeGolden.openCase("case5_e2e_nextgpt_style")) {
            Map<String, NDArray> in = new HashMap<>();
            in.put("prompt_embeds", f.load(m, "prompt_embeds"));
            in.put("latents", f.load(m, "initial_latents"));
            Map<String, NDArray> out = ComponentRegistry.get("video-pipeline").run(new ComponentRequest(
                    ZeroscopeGolden.root(), in, Map.of("steps", "3", "guidance", "9.0", "height", "48", "width", "80",
                    "num_frames", "2"), Map.of()), m);
            assertEquals(java.util.List.of("latents", "video", "frames_uint8"), java.util.List.copyOf(out.keySet()));
            ZeroscopeGolden.assertClose("runner video-pipeline latents", out.get("latents"), f, "final_latents", 1e-3,
                    true, 1e-4);
            ZeroscopeGolden.assertClose("runner video-pipeline video", out.get("video"), f, "video", 5e-4, true, 0);
            ZeroscopeGolden.assertFramesUint8("runner video-pipeline frames_uint8", out.get("frames_uint8"), f,
                    "frames_uint8");
        }
    }
}
