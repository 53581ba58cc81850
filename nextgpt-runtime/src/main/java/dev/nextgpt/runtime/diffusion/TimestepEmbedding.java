package dev.nextgpt.runtime.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.runtime.diffusion.Layers.Linear;

/**
 * The sinusoidal timestep projection ({@code Timesteps} / {@code get_timestep_embedding}) and the MLP
 * {@code TimestepEmbedding} ({@code linear_1 → act → linear_2 [→ post_act]}).
 */
public final class TimestepEmbedding {
    private final Linear linear1;
    private final Linear linear2;
    private final String act;
    private final String postAct;

    public TimestepEmbedding(Weights w, String act, String postAct) {
        this.linear1 = Linear.load(w, "linear_1");
        this.linear2 = Linear.load(w, "linear_2");
        this.act = act;
        this.postAct = postAct;
    }

    public NDArray forward(NDArray x) {
        NDArray h = linear2.forward(Layers.activation(act, linear1.forward(x)));
        return postAct == null ? h : Layers.activation(postAct, h);
    }

    public long inFeatures() {
        return linear1.inFeatures();
    }

    public long outFeatures() {
        return linear2.outFeatures();
    }

    /**
     * Sinusoidal embedding of timesteps (float32 as diffusers forms it): {@code freqs = exp(-ln(10000)·i /
     * (half - shift))}, {@code arg = t·freqs}, {@code [sin, cos]} (or {@code [cos, sin]} when
     * {@code flipSinToCos}), zero-padded for an odd {@code dim}.
     *
     * @param timesteps [B] any numeric type
     */
    public static NDArray sinusoidal(NDArray timesteps, int dim, boolean flipSinToCos, double freqShift) {
        int half = dim / 2;
        float[] freqs = new float[half];
        float logMax = (float) -Math.log(10000.0);
        for (int i = 0; i < half; i++) {
            float e = logMax * (float) i;
            e = e / (float) (half - freqShift);
            freqs[i] = (float) Math.exp(e);
        }
        NDManager m = timesteps.getManager();
        NDArray t = timesteps.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).reshape(-1, 1);
        NDArray arg = t.mul(m.create(freqs).reshape(1, half));
        NDArray sin = arg.sin();
        NDArray cos = arg.cos();
        NDArray emb = flipSinToCos ? cos.concat(sin, 1) : sin.concat(cos, 1);
        if (dim % 2 == 1) {
            emb = emb.concat(m.zeros(new ai.djl.ndarray.types.Shape(emb.getShape().get(0), 1)), 1);
        }
        return emb;
    }
}
