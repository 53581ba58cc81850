package dev.nextgpt.runtime.diffusion.scheduler;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.runtime.diffusion.SdGolden;
import dev.nextgpt.runtime.io.SafetensorsFile;
import org.junit.jupiter.api.Test;

import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.*;

/** Case 4 of the stable-diffusion fixture: every scheduler trace for epsilon and v_prediction. */
class SchedulerGoldenTest {
    private static final double TOL = 1e-5;

    private static SchedulerConfig base() {
        return SchedulerConfig.read(SdGolden.root().resolve("scheduler"));
    }

    @Test
    void trainingScheduleAndDdpmHelpers() {
        try (NDManager m = SdGolden.manager(); SafetensorsFile in = SdGolden.open("cases/case4_scheduler_inputs.safetensors")) {
            DiffusionScheduler s = new DdimScheduler(base());
            SdGolden.assertClose("betas", m.create(s.betas()), in.load(m, "expected.betas"), 1e-6, 0);
            SdGolden.assertClose("alphas_cumprod", m.create(s.alphasCumprod()), in.load(m, "expected.alphas_cumprod"),
                    1e-6, 0);
            double[] ts = toDoubles(in.load(m, "input.add_noise_timesteps"));
            NDArray x0 = in.load(m, "input.add_noise_original");
            NDArray noise = in.load(m, "input.add_noise_noise");
            SdGolden.assertClose("ddpm add_noise", s.addNoise(x0, noise, ts), in.load(m, "expected.ddpm_add_noise"),
                    TOL, 0);
            SdGolden.assertClose("ddpm get_velocity", s.getVelocity(x0, noise, ts),
                    in.load(m, "expected.ddpm_get_velocity"), TOL, 0);
        }
    }

    @Test
    void ddim() {
        run("ddim", DdimScheduler::new, false);
    }

    @Test
    void pndm() {
        run("pndm", PndmScheduler::new, false);
    }

    @Test
    void dpmSolverMultistep() {
        run("dpmsolver_multistep", DpmSolverMultistepScheduler::new, false);
    }

    @Test
    void euler() {
        run("euler", EulerDiscreteScheduler::new, false);
    }

    @Test
    void eulerAncestral() {
        run("euler_ancestral", EulerAncestralScheduler::new, true);
    }

    @Test
    void dpmSolverLegacyDiffusers017() {
        try (NDManager m = SdGolden.manager();
             SafetensorsFile in = SdGolden.open("cases/case4_scheduler_inputs.safetensors");
             SafetensorsFile ex = SdGolden.open("cases/legacy_diffusers0.17_dpmsolver_multistep.safetensors")) {
            for (String p : new String[] {"epsilon", "v_prediction"}) {
                try (DiffusionScheduler s = new DpmSolverMultistepScheduler(base().withPredictionType(p), true)) {
                    s.setTimesteps(10);
                    assertArrayEquals(ex.readLongs("case4." + p + ".timesteps"), toLongs(s.timesteps()));
                    NDArray sample = in.load(m, "input.initial_noise").mul(s.initNoiseSigma());
                    NDArray outs = in.load(m, "input.model_outputs");
                    NDArray prev = ex.load(m, "case4." + p + ".prev_samples");
                    double[] ts = s.timesteps();
                    double worst = 0;
                    for (int i = 0; i < ts.length; i++) {
                        sample = s.step(outs.get(i), ts[i], sample).prevSample();
                        worst = Math.max(worst, SdGolden.eMax(sample, prev.get(i)));
                    }
                    System.out.printf("legacy dpm %s worst step e_max %.3e%n", p, worst);
                    assertTrue(worst <= TOL, "legacy DPM " + p + " e_max " + worst);
                }
            }
        }
    }

    @Test
    void schedulerInputValidation() {
        DiffusionScheduler s = new DdimScheduler(base());
        assertThrows(InvalidInputException.class, () -> s.setTimesteps(0));
        assertThrows(InvalidInputException.class, () -> s.setTimesteps(1001));
        assertThrows(InvalidInputException.class, () -> Schedulers.byName("nope", base()));
        assertTrue(Schedulers.fromConfig(base()) instanceof DdimScheduler);
    }

    private void run(String name, Function<SchedulerConfig, DiffusionScheduler> make, boolean ancestral) {
        try (NDManager m = SdGolden.manager();
             SafetensorsFile in = SdGolden.open("cases/case4_scheduler_inputs.safetensors");
             SafetensorsFile ex = SdGolden.open("cases/case4_scheduler_" + name + ".safetensors")) {
            NDArray outs = in.load(m, "input.model_outputs");
            for (String p : new String[] {"epsilon", "v_prediction"}) {
                try (DiffusionScheduler s = make.apply(base().withPredictionType(p))) {
                    s.setTimesteps(10);
                    String k = p + ".";
                    if (s.integerTimesteps()) {
                        assertArrayEquals(ex.readLongs(k + "timesteps"), toLongs(s.timesteps()), name + " timesteps");
                    } else {
                        float[] exp = ex.readFloats(k + "timesteps");
                        double[] got = s.timesteps();
                        assertEquals(exp.length, got.length);
                        for (int i = 0; i < exp.length; i++) {
                            assertEquals(exp[i], (float) got[i], 0f, name + " timestep " + i);
                        }
                    }
                    if (ex.contains(k + "sigmas")) {
                        float[] sig = s instanceof EulerDiscreteScheduler e ? e.sigmas()
                                : ((DpmSolverMultistepScheduler) s).sigmas();
                        SdGolden.assertClose(name + " " + p + " sigmas", m.create(sig), ex.load(m, k + "sigmas"),
                                1e-6, 0);
                    }
                    float sigma0 = ex.readFloats(k + "init_noise_sigma")[0];
                    assertEquals(sigma0, s.initNoiseSigma(), TOL * sigma0, name + " init_noise_sigma");
                    NDArray sample = in.load(m, "input.initial_noise").mul(s.initNoiseSigma());
                    SdGolden.assertClose(name + " " + p + " sample_0", sample, ex.load(m, k + "sample_0"), TOL, 0);
                    NDArray prevs = ex.load(m, k + "prev_samples");
                    NDArray x0s = ex.contains(k + "pred_original_samples") ? ex.load(m, k + "pred_original_samples")
                            : null;
                    NDArray scaled = ex.contains(k + "scaled_model_input") ? ex.load(m, k + "scaled_model_input")
                            : null;
                    NDArray noise = ancestral ? ex.load(m, k + "step_noise") : null;
                    double[] ts = s.timesteps();
                    double worst = 0;
                    for (int i = 0; i < ts.length; i++) {
                        NDArray xin = s.scaleModelInput(sample, ts[i]);
                        if (scaled != null) {
                            worst = Math.max(worst, SdGolden.eMax(xin, scaled.get(i)));
                        } else {
                            assertSame(sample, xin, "scale_model_input is the identity");
                        }
                        DiffusionScheduler.StepResult r = s.step(outs.get(i), ts[i], sample,
                                noise == null ? null : noise.get(i));
                        if (x0s != null) {
                            worst = Math.max(worst, SdGolden.eMax(r.predOriginalSample(), x0s.get(i)));
                        }
                        sample = r.prevSample();
                        worst = Math.max(worst, SdGolden.eMax(sample, prevs.get(i)));
                    }
                    System.out.printf("%-20s %-13s worst per-step e_max %.3e%n", name, p, worst);
                    assertTrue(worst <= TOL, name + " " + p + " e_max " + worst);
                }
            }
            // add_noise of this class
            try (DiffusionScheduler s = make.apply(base())) {
                s.setTimesteps(10);
                NDArray tsArr = ex.load(m, "add_noise.timesteps");
                double[] ts = toDoubles(tsArr);
                NDArray noisy = s.addNoise(in.load(m, "input.add_noise_original"), in.load(m, "input.add_noise_noise"),
                        ts);
                SdGolden.assertClose(name + " add_noise", noisy, ex.load(m, "add_noise.noisy"), TOL, 0);
            }
        }
    }

    static double[] toDoubles(NDArray a) {
        if (a.getDataType().isInteger()) {
            long[] l = a.toLongArray();
            double[] d = new double[l.length];
            for (int i = 0; i < l.length; i++) {
                d[i] = l[i];
            }
            return d;
        }
        float[] f = a.toFloatArray();
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    static long[] toLongs(double[] d) {
        long[] l = new long[d.length];
        for (int i = 0; i < d.length; i++) {
            l[i] = (long) d[i];
        }
        return l;
    }
}
