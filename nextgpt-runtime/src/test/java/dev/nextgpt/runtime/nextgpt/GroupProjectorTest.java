package dev.nextgpt.runtime.nextgpt;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.runtime.io.TensorStore;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GroupProjectorTest {
    private static final String CASE = "current_inproj_group";
    private static final String PREFIX = "model.mm_input_projector.";

    @Test
    void configInferredFromWeights() {
        try (TensorStore weights = ProjectorGolden.open(CASE, "weights");
             NDManager m = NDManager.newBaseManager();
             GroupProjector p = GroupProjector.load(weights, PREFIX, GroupProjector.DEFAULT_HEADS, m)) {
            GroupProjector.Config c = p.config();
            assertEquals(32, c.inDim());
            assertEquals(32, c.width());
            assertEquals(64, c.outDim());
            assertEquals(List.of(6, 3, 3), c.stages().stream().map(GroupProjector.StageConfig::depth).toList());
            assertEquals(List.of(64, 8, 0), c.stages().stream().map(GroupProjector.StageConfig::groupTokens).toList());
            assertEquals(List.of(64, 8, 0), c.stages().stream().map(GroupProjector.StageConfig::outputGroups).toList());
            assertEquals(List.of(false, true, false),
                    c.stages().stream().map(GroupProjector.StageConfig::groupProjector).toList());
            assertEquals("group", InputProjectors.detectType(weights, PREFIX));
        }
    }

    @Test
    void matchesGoldenIncludingExactAssignments() {
        try (TensorStore weights = ProjectorGolden.open(CASE, "weights");
             TensorStore inputs = ProjectorGolden.open(CASE, "inputs");
             TensorStore expected = ProjectorGolden.open(CASE, "expected");
             NDManager m = NDManager.newBaseManager();
             GroupProjector p = GroupProjector.load(weights, PREFIX, GroupProjector.DEFAULT_HEADS, m)) {
            GroupProjector.Result r = p.forwardDetailed(inputs.load(m, "x"));
            ProjectorGolden.assertClose(CASE, expected, "after_in_fc", r.afterInFc());
            assertEquals(2, r.assignments().size());
            for (int i = 0; i < 2; i++) {
                ProjectorGolden.assertSameLongs(CASE, expected, "layer" + i + "_assign_group_index",
                        r.assignments().get(i).groupIndex());
                float margin = expected.readFloats("layer" + i + "_assign_min_margin")[0];
                float ours = r.assignments().get(i).minMargin();
                System.out.printf("%s layer%d min margin: expected %.6f, ours %.6f%n", CASE, i, margin, ours);
                assertEquals(margin, ours, 1e-4 + 1e-2 * margin);
            }
            for (int i = 0; i < 3; i++) {
                ProjectorGolden.assertClose(CASE, expected, "after_layer" + i, r.afterLayer().get(i));
            }
            ProjectorGolden.assertClose(CASE, expected, "output", r.output());

            NDArray viaInterface = p.forward(inputs.load(m, "x"));
            assertTrue(viaInterface.sub(r.output()).abs().max().getFloat() == 0f);
        }
    }
}
