package dev.nextgpt.runtime.nextgpt;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.runtime.component.ComponentRegistry;
import dev.nextgpt.runtime.component.ComponentRequest;
import dev.nextgpt.runtime.component.ComponentRunner;
import dev.nextgpt.runtime.io.TensorStore;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

class ProjectorRunnerTest {

    @ParameterizedTest
    @CsvSource({
            "legacy_textfc_audio, gen_text_hidden_fcs_audio.0., legacy-textfc",
            "current_outproj_image, model.mm_output_img_projector., transformer",
            "current_inproj_group, model.mm_input_projector., group",
            "current_inproj_mlp, model.mm_input_projector., mlp",
            "legacy_inproj_linear, llama_proj., linear",
            "current_outproj_audio, model.mm_output_aud_projector., ''"})
    void runsEveryExpectedTensor(String caseName, String prefix, String type) {
        ComponentRunner runner = ComponentRegistry.get("projector");
        try (TensorStore inputs = ProjectorGolden.open(caseName, "inputs");
             TensorStore expected = ProjectorGolden.open(caseName, "expected");
             NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> in = new HashMap<>();
            for (String n : inputs.names()) {
                in.put(n, inputs.load(m, n));
            }
            Map<String, String> options = new HashMap<>();
            options.put("prefix", prefix);
            if (!type.isEmpty()) {
                options.put("type", type);
            }
            Map<String, NDArray> out = runner.run(new ComponentRequest(
                    ProjectorGolden.caseDir(caseName).resolve("weights.safetensors"), in, options, Map.of()), m);
            for (String n : expected.names()) {
                NDArray a = out.get(n);
                if (n.endsWith("_assign_group_index")) {
                    ProjectorGolden.assertSameLongs("runner " + caseName, expected, n, a);
                } else if (n.endsWith("_min_margin")) {
                    assertEquals(expected.readFloats(n)[0], a.getFloat(0), 1e-4);
                } else {
                    ProjectorGolden.assertClose("runner " + caseName, expected, n, a);
                }
            }
        }
    }
}
