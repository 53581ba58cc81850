package dev.nextgpt.train.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.InvalidInputException;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * AdamW with decoupled weight decay (torch.optim.AdamW / DeepSpeed CPU Adam in adamw mode), with parameter groups
 * that carry their own learning-rate multiplier and weight decay. For step k:
 * <pre>
 *   p = p·(1 − lr·wd);  m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²
 *   p = p − lr/(1−β1^k) · m / (√v / √(1−β2^k) + eps)
 * </pre>
 * State (m, v, step) lives in the optimiser's own {@link NDManager} and can be exported for checkpoints.
 */
public final class AdamW implements AutoCloseable {

    /** Hyper-parameters. */
    public record Hyper(double beta1, double beta2, double eps, double weightDecay) {
        public Hyper {
            if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
                throw new InvalidInputException("AdamW betas must be in [0, 1): " + beta1 + ", " + beta2);
            }
            if (!(eps > 0) || weightDecay < 0) {
                throw new InvalidInputException("AdamW eps must be > 0 and weight decay >= 0: " + eps + ", " + weightDecay);
            }
        }

        /** The legacy NExT-GPT DeepSpeed values: betas (0.9, 0.95), eps 1e-8, weight decay 0.001. */
        public static Hyper legacyNextGpt() {
            return new Hyper(0.9, 0.95, 1e-8, 0.001);
        }
    }

    /** Per-parameter settings: learning-rate multiplier and weight decay (e.g. 0 for norms and biases). */
    public record Group(double lrScale, double weightDecay) {
    }

    private final Hyper hyper;
    private final NDManager manager;
    private final Map<String, NDArray> exp = new LinkedHashMap<>();
    private final Map<String, NDArray> expSq = new LinkedHashMap<>();
    private final Map<String, Group> groups = new LinkedHashMap<>();
    private long step;

    public AdamW(Hyper hyper, NDManager parent) {
        this.hyper = hyper;
        this.manager = parent.newSubManager();
    }

    /** Assigns a parameter to a group (default: lr scale 1, the hyper-parameters' weight decay). */
    public void setGroup(String param, Group group) {
        groups.put(param, group);
    }

    public long stepCount() {
        return step;
    }

    /**
     * One update of every parameter in {@code params} (in place). A parameter without an entry in {@code grads}
     * gets a zero gradient (it is still decayed, as a ZeRO flat partition is).
     */
    public void step(Map<String, NDArray> params, Map<String, NDArray> grads, double lr) {
        step++;
        double bc1 = 1 - Math.pow(hyper.beta1, step);
        double bc2 = Math.sqrt(1 - Math.pow(hyper.beta2, step));
        for (Map.Entry<String, NDArray> e : params.entrySet()) {
            String name = e.getKey();
            NDArray p = e.getValue();
            Group g = groups.getOrDefault(name, new Group(1.0, hyper.weightDecay));
            double plr = lr * g.lrScale();
            NDArray m = exp.computeIfAbsent(name, k -> manager.zeros(p.getShape(), p.getDataType()));
            NDArray v = expSq.computeIfAbsent(name, k -> manager.zeros(p.getShape(), p.getDataType()));
            try (NDManager scope = manager.newSubManager()) {
                // temporaries of this update (results land in the left operand's manager) belong to the scope;
                // the state and the caller's gradient return to their own managers when it closes
                m.tempAttach(scope);
                v.tempAttach(scope);
                NDArray grad = grads.get(name);
                if (grad != null) {
                    NDArray gl = grad.toDevice(p.getDevice(), false);
                    if (gl == grad) {
                        gl.tempAttach(scope);
                    } else {
                        gl.attach(scope);
                    }
                    m.muli(hyper.beta1).addi(gl.mul(1 - hyper.beta1));
                    v.muli(hyper.beta2).addi(gl.square().muli(1 - hyper.beta2));
                } else {
                    m.muli(hyper.beta1);
                    v.muli(hyper.beta2);
                }
                if (g.weightDecay() != 0) {
                    p.muli(1 - plr * g.weightDecay());
                }
                NDArray denom = v.sqrt().divi(bc2).addi(hyper.eps);
                NDArray update = m.div(denom).muli(plr / bc1);
                p.subi(update);
            }
        }
    }

    /** The optimiser state as named arrays ({@code exp_avg.<p>}, {@code exp_avg_sq.<p>}) for checkpoints. */
    public Map<String, NDArray> state() {
        Map<String, NDArray> out = new LinkedHashMap<>();
        exp.forEach((k, v) -> out.put("exp_avg." + k, v));
        expSq.forEach((k, v) -> out.put("exp_avg_sq." + k, v));
        return out;
    }

    /** Restores a state saved with {@link #state()} and the step count. */
    public void loadState(Map<String, NDArray> state, long stepCount) {
        state.forEach((k, v) -> {
            NDArray copy = v.duplicate();
            copy.attach(manager);
            if (k.startsWith("exp_avg_sq.")) {
                expSq.put(k.substring("exp_avg_sq.".length()), copy);
            } else if (k.startsWith("exp_avg.")) {
                exp.put(k.substring("exp_avg.".length()), copy);
            }
        });
        this.step = stepCount;
    }

    @Override
    public void close() {
        manager.close();
    }
}
