package dev.nextgpt.train.check;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.nextgpt.runtime.io.SafetensorsWriter;
import dev.nextgpt.train.data.LegacyBatchBuilder;
import dev.nextgpt.train.model.LegacyTrainingModel;
import dev.nextgpt.train.optim.AdamW;
import dev.nextgpt.train.optim.GradientClipping;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Runs one case of the legacy training fixture from its raw inputs and writes what the original computed: the
 * batch ids, the losses, the projector output, the dense gradient of every trainable tensor and, for cases with an
 * optimiser file, the weights after two AdamW steps (clipping at the case's global norm, constant lr, step 2's
 * gradient recomputed at the step-1 weights).
 */
public final class TrainCheck {

    /** What one run produced (also written to the output file). */
    public record Summary(String caseName, int stage, double total, double ce, double l2, int trainable,
                          int withGradient, List<Double> gradNormsBeforeClip) {
    }

    private TrainCheck() {
    }

    /** Runs {@code fixtureCase} and writes {@code output} (safetensors). */
    public static Summary run(LegacyFixtureCase fixtureCase, Path output) {
        SafetensorsWriter w = new SafetensorsWriter();
        try (NDManager manager = NDManager.newBaseManager();
             LegacyTrainingModel model = fixtureCase.buildModel(manager, DataType.FLOAT32)) {
            LegacyTrainingModel.Example ex = fixtureCase.example();
            LegacyBatchBuilder.Batch b = ex.batch();
            addLongs(w, "batch.input_ids", b.inputIds());
            addLongs(w, "batch.target_ids", b.targetIds());
            addLongs(w, "batch.attention_mask", b.attentionMask());
            addLongs(w, "wrapped.targets", b.wrappedTargets());
            addLongs(w, "wrapped.attention_mask", b.wrappedAttentionMask());
            LegacyTrainingModel.Result r = model.lossAndGradients(ex, manager, true);
            w.addFloats("loss.total", new long[0], new float[] {(float) r.total()});
            w.addFloats("loss.ce", new long[0], new float[] {(float) r.ce()});
            if (!Double.isNaN(r.l2())) {
                w.addFloats("loss.l2", new long[0], new float[] {(float) r.l2()});
            }
            if (r.projectorOutput() != null) {
                w.add("out.projector_output", r.projectorOutput());
                w.add("out.signal_hidden", r.signalHidden());
            }
            for (Map.Entry<String, NDArray> g : r.gradients().entrySet()) {
                NDArray copy = g.getValue().duplicate(); // the optimiser clips the gradients in place
                copy.attach(manager);
                w.add("grad." + g.getKey(), copy);
            }
            List<Double> norms = new ArrayList<>();
            if (fixtureCase.hasOptimizerSteps()) {
                Map<String, NDArray> params = model.parameters().trainableTensors();
                try (AdamW opt = new AdamW(fixtureCase.adamHyper(), manager)) {
                    Map<String, NDArray> grads = r.gradients();
                    for (int step = 1; step <= 2; step++) {
                        if (step == 2) {
                            grads = model.lossAndGradients(ex, manager, true).gradients();
                        }
                        norms.add(GradientClipping.clipGlobalNorm(grads.values(), fixtureCase.clipNorm()));
                        opt.step(params, grads, fixtureCase.learningRate());
                        for (Map.Entry<String, NDArray> p : params.entrySet()) {
                            NDArray copy = p.getValue().duplicate();
                            copy.attach(manager);
                            w.add("step" + step + "." + p.getKey(), copy);
                        }
                    }
                }
            }
            w.metadata("case", fixtureCase.name());
            w.write(output);
            return new Summary(fixtureCase.name(), fixtureCase.stage(), r.total(), r.ce(), r.l2(),
                    r.gradients().size(), r.receivedGradient().size(), norms);
        }
    }

    private static void addLongs(SafetensorsWriter w, String name, long[][] rows) {
        long[] flat = new long[rows.length * rows[0].length];
        for (int i = 0; i < rows.length; i++) {
            System.arraycopy(rows[i], 0, flat, i * rows[0].length, rows[i].length);
        }
        w.addLongs(name, new long[] {rows.length, rows[0].length}, flat);
    }
}
