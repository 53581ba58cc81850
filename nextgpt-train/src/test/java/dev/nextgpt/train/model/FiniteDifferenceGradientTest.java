package dev.nextgpt.train.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.nextgpt.train.data.LegacyBatchBuilder.Modality;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Autograd gradients of every trainable part (LoRA A/B, embed_tokens through both lookups, lm_head, llama_proj,
 * every projector tensor) against central finite differences of the total loss, in float64 on a tiny random
 * system with GQA, LoRA on attention and MLP, media input and image signal tokens.
 */
class FiniteDifferenceGradientTest {

    @Test
    void everyTrainableTensorMatchesFiniteDifferences() {
        try (NDManager m = NDManager.newBaseManager()) {
            ParameterStore store = TinyLegacySystem.randomWeights(m, DataType.FLOAT64, 7);
            LegacyTrainingModel model = TinyLegacySystem.model(store, 3);
            List<String> trainable = model.setTrainable(LegacyTrainingModel.originalTrainableParts(3));
            LegacyTrainingModel.Example ex = TinyLegacySystem.example(11, true, Modality.IMAGE);
            LegacyTrainingModel.Result r = model.lossAndGradients(ex, m, false);
            assertEquals(trainable.size(), r.receivedGradient().size(), "every trainable tensor is used");
            Random rnd = new Random(3);
            double h = 1e-5;
            double worst = 0;
            String worstAt = "";
            int checks = 0;
            for (String name : trainable) {
                double[] g = r.gradients().get(name).toDoubleArray();
                int argmax = 0;
                for (int i = 1; i < g.length; i++) {
                    if (Math.abs(g[i]) > Math.abs(g[argmax])) {
                        argmax = i;
                    }
                }
                // the largest entry of every tensor, plus a random entry of every third tensor
                int[] entries = checks % 3 == 0 ? new int[] {argmax, rnd.nextInt(g.length)} : new int[] {argmax};
                for (int idx : entries) {
                    double fd = (lossWith(model, ex, name, idx, h) - lossWith(model, ex, name, idx, -h)) / (2 * h);
                    double err = Math.abs(fd - g[idx]) / (1e-6 + 1e-5 * Math.abs(g[idx]));
                    if (err > worst) {
                        worst = err;
                        worstAt = name + "[" + idx + "] autograd " + g[idx] + " fd " + fd;
                    }
                    checks++;
                }
            }
            System.out.printf("finite differences: %d entries of %d tensors, worst err/tol %.2e at %s%n", checks,
                    trainable.size(), worst, worstAt);
            assertTrue(worst <= 1, "gradient differs from finite differences at " + worstAt);
            // the embedding gets gradient from both lookups: a signal-token row is only looked up as a signal input
            double[] ge = r.gradients().get(model.llm().embedName()).toDoubleArray();
            assertTrue(Math.abs(ge[(int) TinyLegacySystem.SIGNAL[0] * TinyLegacySystem.HIDDEN]) > 0);
        }
    }

    private static double lossWith(LegacyTrainingModel model, LegacyTrainingModel.Example ex, String name, int idx,
                                   double delta) {
        ParameterStore s = model.parameters();
        NDArray p = s.peek(name);
        double[] v = p.toDoubleArray();
        double old = v[idx];
        v[idx] = old + delta;
        NDManager m = s.manager();
        s.put(name, m.create(v, p.getShape()));
        double loss = model.evaluate(ex)[0];
        v[idx] = old;
        s.put(name, m.create(v, s.peek(name).getShape()));
        return loss;
    }

    @Test
    void frozenPartsGetNoGradientAndStagesDifferInTrainableSets() {
        try (NDManager m = NDManager.newBaseManager()) {
            ParameterStore store = TinyLegacySystem.randomWeights(m, DataType.FLOAT32, 7);
            LegacyTrainingModel model = TinyLegacySystem.model(store, 3);
            List<String> names = model.setTrainable(java.util.EnumSet.of(LegacyTrainingModel.Part.LORA));
            assertTrue(names.stream().allMatch(n -> n.contains(".lora_")));
            LegacyTrainingModel.Result r = model.lossAndGradients(
                    TinyLegacySystem.example(1, true, Modality.IMAGE), m, true);
            assertEquals(Map.copyOf(r.gradients()).keySet(), java.util.Set.copyOf(names));
            for (String n : store.names()) {
                if (!store.isTrainable(n)) {
                    assertTrue(!store.peek(n).hasGradient(), n);
                }
            }
        }
    }
}
