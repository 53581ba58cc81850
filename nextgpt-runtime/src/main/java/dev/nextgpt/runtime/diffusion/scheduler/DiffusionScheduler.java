package dev.nextgpt.runtime.diffusion.scheduler;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.UnsupportedConfigurationException;

import java.util.Arrays;
import java.util.Random;

/**
 * Common part of the diffusers-style noise schedulers: the training noise schedule (betas, alphas_cumprod computed
 * in float32 as diffusers does), the inference timesteps, {@code add_noise} / {@code get_velocity}, and the state
 * arrays kept between steps.
 *
 * <p>Usage mirrors diffusers: {@link #setTimesteps(int)}, multiply the initial noise by {@link #initNoiseSigma()},
 * then per timestep {@link #scaleModelInput} → model → {@link #step}. Arrays returned by {@code step} belong to
 * the manager of the {@code sample} argument; arrays the scheduler must remember (multistep histories) are moved
 * to its own manager and closed when no longer needed or in {@link #close()}.
 *
 * <p>Randomness: ancestral schedulers accept the noise of each step as an argument (to reproduce a trace recorded
 * from PyTorch). Without it they draw N(0,1) from a {@link java.util.Random} seeded by {@link #setSeed(long)}; that
 * stream is deterministic but can NOT reproduce torch's generator.
 */
public abstract class DiffusionScheduler implements AutoCloseable {
    protected final SchedulerConfig config;
    protected final float[] betas;
    protected final float[] alphasCumprod;
    protected final float finalAlphaCumprod;
    /** Inference timesteps (integer-valued for DDIM/PNDM/DPM, possibly fractional for Euler). */
    protected double[] timesteps = new double[0];
    protected int numInferenceSteps;
    private NDManager stateManager;
    private Random random = new Random(0);

    protected DiffusionScheduler(SchedulerConfig config) {
        this.config = config;
        this.betas = makeBetas(config);
        this.alphasCumprod = new float[betas.length];
        float acc = 1f;
        for (int i = 0; i < betas.length; i++) {
            acc *= (1f - betas[i]);
            alphasCumprod[i] = acc;
        }
        this.finalAlphaCumprod = config.setAlphaToOne() ? 1f : alphasCumprod[0];
        String p = config.predictionType();
        if (!p.equals("epsilon") && !p.equals("v_prediction") && !p.equals("sample")) {
            throw new UnsupportedConfigurationException("scheduler prediction_type '" + p
                    + "' is not supported (epsilon, v_prediction, sample)");
        }
    }

    /** The betas of the training schedule, float32 as diffusers computes them. */
    public float[] betas() {
        return betas.clone();
    }

    /** The cumulative products of {@code 1 - beta}, float32. */
    public float[] alphasCumprod() {
        return alphasCumprod.clone();
    }

    public SchedulerConfig config() {
        return config;
    }

    /** Computes the inference timesteps for {@code numInferenceSteps} steps and resets the step state. */
    public abstract void setTimesteps(int numInferenceSteps);

    /** The timesteps the model is evaluated at, in order (copy). */
    public double[] timesteps() {
        return timesteps.clone();
    }

    /** Whether the timesteps are integers (int64 in diffusers) rather than float32. */
    public boolean integerTimesteps() {
        return true;
    }

    /** The timesteps as a 1-D array: INT64 or FLOAT32 as diffusers holds them. */
    public NDArray timestepsArray(NDManager manager) {
        if (integerTimesteps()) {
            return manager.create(Arrays.stream(timesteps).mapToLong(d -> (long) d).toArray());
        }
        float[] f = new float[timesteps.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) timesteps[i];
        }
        return manager.create(f);
    }

    /** The factor the initial N(0,1) noise is multiplied by. */
    public float initNoiseSigma() {
        return 1f;
    }

    /** Scales the denoising model input for timestep {@code t} (identity except for the sigma-based schedulers). */
    public NDArray scaleModelInput(NDArray sample, double t) {
        return sample;
    }

    /**
     * One reverse-diffusion step from {@code sample} at timestep {@code t} given the model output.
     *
     * @param noise the random N(0,1) tensor an ancestral scheduler adds (shape of {@code sample}); null to draw it
     *              from the seeded Java generator. Ignored by deterministic schedulers.
     */
    public abstract StepResult step(NDArray modelOutput, double t, NDArray sample, NDArray noise);

    /** {@link #step(NDArray, double, NDArray, NDArray)} without given noise. */
    public StepResult step(NDArray modelOutput, double t, NDArray sample) {
        return step(modelOutput, t, sample, null);
    }

    /** Seeds the Java generator used for ancestral noise when none is given. */
    public void setSeed(long seed) {
        random = new Random(seed);
    }

    /** N(0,1) noise with the shape of {@code like} from the seeded Java generator (not torch's stream). */
    protected NDArray drawNoise(NDArray like) {
        float[] v = new float[Math.toIntExact(like.size())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) random.nextGaussian();
        }
        return like.getManager().create(v, like.getShape());
    }

    /**
     * Forward diffusion {@code sqrt(acp[t])·x0 + sqrt(1-acp[t])·noise}, one integer timestep per batch element
     * (DDPM/DDIM/PNDM/DPM; Euler schedulers override it with the sigma form).
     */
    public NDArray addNoise(NDArray original, NDArray noise, double[] perSampleTimesteps) {
        float[][] ab = trainAlphaSigma(perSampleTimesteps);
        NDArray ca = perSample(original, ab[0]);
        NDArray cb = perSample(original, ab[1]);
        return original.mul(ca).add(noise.mul(cb));
    }

    /** The v-prediction training target {@code sqrt(acp[t])·noise - sqrt(1-acp[t])·x0}. */
    public NDArray getVelocity(NDArray original, NDArray noise, double[] perSampleTimesteps) {
        float[][] ab = trainAlphaSigma(perSampleTimesteps);
        return noise.mul(perSample(original, ab[0])).sub(original.mul(perSample(original, ab[1])));
    }

    /** {@code {sqrt(acp[t]), sqrt(1-acp[t])}} per integer training timestep, float32. */
    private float[][] trainAlphaSigma(double[] perSampleTimesteps) {
        float[] a = new float[perSampleTimesteps.length];
        float[] b = new float[perSampleTimesteps.length];
        for (int i = 0; i < a.length; i++) {
            int t = trainIndex(perSampleTimesteps[i]);
            a[i] = (float) Math.sqrt(alphasCumprod[t]);
            b[i] = (float) Math.sqrt(1.0 - alphasCumprod[t]);
        }
        return new float[][] {a, b};
    }

    /**
     * The x0 (data) prediction from the model output for the noise level {@code x_t = alpha·x0 + sigma·eps}:
     * epsilon {@code (x_t - sigma·out) / alpha}, v_prediction {@code alpha·x_t - sigma·out}, sample {@code out}.
     */
    protected NDArray predictOriginal(NDArray modelOutput, NDArray sample, double alpha, double sigma) {
        switch (config.predictionType()) {
            case "epsilon":
                return sample.sub(modelOutput.mul((float) sigma)).div((float) alpha);
            case "v_prediction":
                return sample.mul((float) alpha).sub(modelOutput.mul((float) sigma));
            default: // sample
                return modelOutput;
        }
    }

    /** A [B,1,...,1] coefficient array broadcasting over {@code like}'s non-batch axes. */
    protected static NDArray perSample(NDArray like, float[] values) {
        Shape s = like.getShape();
        if (s.get(0) != values.length) {
            throw new InvalidInputException("expected " + s.get(0) + " timesteps (one per batch element of "
                    + s + ") but got " + values.length);
        }
        long[] dims = new long[s.dimension()];
        Arrays.fill(dims, 1);
        dims[0] = values.length;
        return like.getManager().create(values, new Shape(dims));
    }

    /** Validates an integer training timestep and returns it as an index. */
    protected int trainIndex(double t) {
        int i = (int) Math.round(t);
        if (i != t || i < 0 || i >= alphasCumprod.length) {
            throw new InvalidInputException("timestep " + t + " is not an integer in [0, " + alphasCumprod.length
                    + ")");
        }
        return i;
    }

    /** Index of {@code t} in the inference timesteps (diffusers' rule: the 2nd match if it occurs twice). */
    protected int indexForTimestep(double t) {
        int first = -1;
        int count = 0;
        int second = -1;
        for (int i = 0; i < timesteps.length; i++) {
            if (timesteps[i] == t) {
                count++;
                if (first < 0) {
                    first = i;
                } else if (second < 0) {
                    second = i;
                }
            }
        }
        if (count == 0) {
            throw new InvalidInputException("timestep " + t + " is not one of the scheduler's timesteps "
                    + Arrays.toString(timesteps));
        }
        return count > 1 ? second : first;
    }

    protected void requireTimesteps() {
        if (timesteps.length == 0) {
            throw new IllegalStateException("setTimesteps must be called before step");
        }
    }

    protected static void requirePositiveSteps(int n) {
        if (n < 1) {
            throw new InvalidInputException("number of inference steps must be >= 1 but is " + n);
        }
    }

    /** {@link #requirePositiveSteps} and at most {@code num_train_timesteps} steps. */
    protected void requireStepsWithinTraining(int n) {
        requirePositiveSteps(n);
        int train = config.numTrainTimesteps();
        if (n > train) {
            throw new InvalidInputException("num_inference_steps " + n + " exceeds num_train_timesteps " + train);
        }
    }

    /**
     * The step position to use for timestep {@code t}: {@code stepIndex} if already set, else the index of
     * {@code t} in the schedule; fails when the schedule is exhausted.
     */
    protected int resolveStepIndex(int stepIndex, double t) {
        int i = stepIndex < 0 ? indexForTimestep(t) : stepIndex;
        if (i >= timesteps.length) {
            throw new IllegalStateException("step called more often than there are timesteps ("
                    + timesteps.length + ")");
        }
        return i;
    }

    /** Moves {@code a} to the scheduler's own manager so it survives the caller's per-step manager. */
    protected NDArray keep(NDArray a) {
        if (stateManager == null) {
            stateManager = NDManager.newBaseManager(a.getDevice());
        }
        NDArray copy = a.duplicate();
        copy.attach(stateManager);
        return copy;
    }

    /** A copy of a kept array in {@code like}'s manager, so that arithmetic on it lands in the caller's scope. */
    protected static NDArray local(NDArray kept, NDArray like) {
        NDArray d = kept.duplicate();
        d.attach(like.getManager());
        return d;
    }

    /** Closes a kept array that is no longer needed (null tolerated). */
    protected static void drop(NDArray kept) {
        if (kept != null) {
            kept.close();
        }
    }

    /** Closes kept arrays (all of them): called when the schedule is reset. */
    protected void resetState() {
        if (stateManager != null) {
            stateManager.close();
            stateManager = null;
        }
    }

    @Override
    public void close() {
        resetState();
    }

    // ----- timestep spacing helpers (NumPy semantics) -----

    /** {@code np.linspace(start, stop, n)} in float64. */
    protected static double[] linspace(double start, double stop, int n) {
        double[] out = new double[n];
        if (n == 1) {
            out[0] = start;
            return out;
        }
        double step = (stop - start) / (n - 1);
        for (int i = 0; i < n; i++) {
            out[i] = start + i * step;
        }
        out[n - 1] = stop;
        return out;
    }

    /** NumPy rounding: half to even. */
    protected static double roundHalfEven(double x) {
        return Math.rint(x);
    }

    protected static double[] reversed(double[] a) {
        double[] r = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            r[i] = a[a.length - 1 - i];
        }
        return r;
    }

    /** {@code np.interp(x, arange(len(table)), table)}. */
    protected static double interp(double x, float[] table) {
        if (x <= 0) {
            return table[0];
        }
        if (x >= table.length - 1) {
            return table[table.length - 1];
        }
        int lo = (int) Math.floor(x);
        double frac = x - lo;
        if (frac == 0) {
            return table[lo];
        }
        return table[lo] + ((double) table[lo + 1] - table[lo]) * frac;
    }

    /** Leading / trailing / linspace integer timesteps (DDIM and DDPM rules), descending. */
    protected static double[] spacedIntegerTimesteps(SchedulerConfig config, int n, String classDefault) {
        int train = config.numTrainTimesteps();
        String spacing = config.spacing(classDefault);
        double[] t = new double[n];
        switch (spacing) {
            case "linspace": {
                double[] l = linspace(0, train - 1, n);
                for (int i = 0; i < n; i++) {
                    t[i] = roundHalfEven(l[n - 1 - i]);
                }
                return t;
            }
            case "leading": {
                int ratio = train / n;
                for (int i = 0; i < n; i++) {
                    t[i] = (double) (n - 1 - i) * ratio + config.stepsOffset();
                }
                return t;
            }
            case "trailing": {
                double ratio = (double) train / n;
                java.util.List<Double> v = new java.util.ArrayList<>();
                for (double x = train; x > 0; x -= ratio) {
                    v.add(roundHalfEven(x) - 1);
                }
                return v.stream().mapToDouble(Double::doubleValue).toArray();
            }
            default:
                throw unsupportedSpacing(spacing);
        }
    }

    protected static UnsupportedConfigurationException unsupportedSpacing(String spacing) {
        return new UnsupportedConfigurationException("timestep_spacing '" + spacing
                + "' is not supported (leading, trailing, linspace)");
    }

    /**
     * Sigmas interpolated from the training sigmas at the (possibly fractional) timesteps {@code t}, float32, plus
     * {@code finalSigma} at the end.
     */
    protected float[] interpolatedSigmas(double[] t, float finalSigma) {
        float[] table = trainSigmas();
        float[] s = new float[t.length + 1];
        for (int i = 0; i < t.length; i++) {
            s[i] = (float) interp(t[i], table);
        }
        s[t.length] = finalSigma;
        return s;
    }

    /** Sigmas of the training schedule, {@code sqrt((1-acp)/acp)} in float32. */
    protected float[] trainSigmas() {
        float[] s = new float[alphasCumprod.length];
        for (int i = 0; i < s.length; i++) {
            float a = alphasCumprod[i];
            s[i] = (float) Math.sqrt((1f - a) / a);
        }
        return s;
    }

    /** Applies the clip_sample clamp if configured. */
    protected NDArray maybeClip(NDArray x0) {
        if (config.clipSample()) {
            float r = (float) config.clipSampleRange();
            return x0.clip(-r, r);
        }
        return x0;
    }

    static float[] makeBetas(SchedulerConfig c) {
        int n = c.numTrainTimesteps();
        if (n < 1) {
            throw new UnsupportedConfigurationException("num_train_timesteps must be >= 1 but is " + n);
        }
        if (c.trainedBetas() != null) {
            float[] b = new float[c.trainedBetas().length];
            for (int i = 0; i < b.length; i++) {
                b[i] = (float) c.trainedBetas()[i];
            }
            return b;
        }
        switch (c.betaSchedule()) {
            case "linear":
                return torchLinspaceF32((float) c.betaStart(), (float) c.betaEnd(), n);
            case "scaled_linear": {
                float[] b = torchLinspaceF32((float) Math.sqrt(c.betaStart()), (float) Math.sqrt(c.betaEnd()), n);
                for (int i = 0; i < n; i++) {
                    b[i] = b[i] * b[i];
                }
                return b;
            }
            case "squaredcos_cap_v2": {
                float[] b = new float[n];
                for (int i = 0; i < n; i++) {
                    double t1 = (double) i / n;
                    double t2 = (double) (i + 1) / n;
                    b[i] = (float) Math.min(1 - alphaBar(t2) / alphaBar(t1), 0.999);
                }
                return b;
            }
            default:
                throw new UnsupportedConfigurationException("beta_schedule '" + c.betaSchedule()
                        + "' is not supported (linear, scaled_linear, squaredcos_cap_v2)");
        }
    }

    private static double alphaBar(double t) {
        double c = Math.cos((t + 0.008) / 1.008 * Math.PI / 2);
        return c * c;
    }

    /** {@code torch.linspace(start, end, n, dtype=float32)} as the CPU kernel computes it (symmetric halves). */
    static float[] torchLinspaceF32(float start, float end, int n) {
        float[] out = new float[n];
        if (n == 1) {
            out[0] = start;
            return out;
        }
        float step = (end - start) / (float) (n - 1);
        int half = n / 2;
        for (int i = 0; i < n; i++) {
            out[i] = i < half ? start + step * i : end - step * (n - i - 1);
        }
        return out;
    }

    /** The result of one step. */
    public record StepResult(NDArray prevSample, NDArray predOriginalSample) {
    }

    static DataType f32() {
        return DataType.FLOAT32;
    }
}
