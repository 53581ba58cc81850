package dev.nextgpt.runtime.audioldm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.runtime.component.ComponentRegistry;
import dev.nextgpt.runtime.component.ComponentRequest;
import dev.nextgpt.runtime.io.SafetensorsFile;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The {@code audio-pipeline} component runner on AudioLDM case5 (negative computed from ""), README tolerances. */
class AudioPipelineRunnerTest {

    @Test
    void audioPipelineRunnerOnCase5() {
        try (NDManager m = NDManager.newBaseManager();
             SafetensorsFile f = AudioLdmGolden.openCase("case5_e2e_prompt_embeds")) {
            Map<String, NDArray> in = new HashMap<>();
            in.put("prompt_embeds", f.load(m, "prompt_embeds"));
            in.put("latents", f.load(m, "initial_latents"));
            Map<String, NDArray> out = ComponentRegistry.get("audio-pipeline").run(new ComponentRequest(
                    AudioLdmGolden.root(), in, Map.of("steps", "3", "guidance", "2.5", "audio_length_in_s", "0.0117"),
                    Map.of()), m);
            assertEquals(List.of("latents", "mel_spectrogram", "audio"), List.copyOf(out.keySet()));
            AudioLdmGolden.assertClose("runner audio-pipeline latents", out.get("latents"), f, "final_latents", 1e-3,
                    true, 1e-4);
            AudioLdmGolden.assertClose("runner audio-pipeline mel_spectrogram", out.get("mel_spectrogram"), f,
                    "mel_spectrogram", 1e-3, true, 0);
            AudioLdmGolden.assertClose("runner audio-pipeline audio", out.get("audio"), f, "audio", 2e-4, false, 0);
        }
    }
}
