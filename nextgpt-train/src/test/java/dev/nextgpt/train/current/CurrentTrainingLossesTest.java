package dev.nextgpt.train.current;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.runtime.diffusion.AutoencoderKL;
import dev.nextgpt.runtime.diffusion.UNet2DCondition;
import dev.nextgpt.runtime.diffusion.scheduler.Schedulers;
import dev.nextgpt.train.current.CurrentTrainingLosses.GenReduction;
import dev.nextgpt.train.current.CurrentTrainingLosses.LatentDenoising;
import dev.nextgpt.train.current.CurrentTrainingLosses.ModalityLoss;
import dev.nextgpt.train.current.CurrentTrainingLosses.SignalSpan;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Current-version training losses on hand-computed values and the tiny golden SD pipeline. */
class CurrentTrainingLossesTest {
    static final Path SD = Path.of("../nextgpt-runtime/src/test/resources/golden/stable-diffusion");
    static final long SEP = 5;
    static final long[] IMG = {10, 11};
    static final long[] AUD = {20, 21, 22};

    /** A mixed batch: row 0 generates an image (2 signals → 3 positions), row 1 audio (3 signals → 5 positions). */
    static long[][] mixedLabels() {
        return new long[][] {
                {-100, -100, 7, 10, SEP, 11, 2, -100},
                {-100, 8, 20, SEP, 21, SEP, 22, 2}};
    }

    @Test
    void signalSpansFollowTheTwoNMinusOneLayout() {
        assertEquals(List.of(new SignalSpan(0, 3, 3)), CurrentTrainingLosses.signalSpans(mixedLabels(), IMG));
        assertEquals(List.of(new SignalSpan(1, 2, 5)), CurrentTrainingLosses.signalSpans(mixedLabels(), AUD));
        assertEquals(List.of(), CurrentTrainingLosses.signalSpans(mixedLabels(), new long[] {30, 31}));
        InvalidInputException e = assertThrows(InvalidInputException.class, () ->
                CurrentTrainingLosses.signalSpans(new long[][] {{-100, 10, 11, 2}}, IMG));
        assertTrue(e.getMessage().contains("expected one row and 3 positions"), e.getMessage());
        assertThrows(InvalidInputException.class, () ->
                CurrentTrainingLosses.signalSpans(new long[][] {{10, SEP, 2}}, IMG));
    }

    @Test
    void crossEntropyCountsSignalsAndSeparatorsAsTargets() {
        long[][] labels = mixedLabels();
        int v = 24;
        Random rnd = new Random(1);
        float[] logits = new float[2 * 8 * v];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) rnd.nextGaussian();
        }
        // hand computation: position t predicts labels[t+1]; every label ≠ −100 counts, separators included
        double sum = 0;
        int count = 0;
        for (int r = 0; r < 2; r++) {
            for (int t = 0; t < 7; t++) {
                long y = labels[r][t + 1];
                if (y == -100) {
                    continue;
                }
                int off = (r * 8 + t) * v;
                double max = Double.NEGATIVE_INFINITY;
                for (int k = 0; k < v; k++) {
                    max = Math.max(max, logits[off + k]);
                }
                double z = 0;
                for (int k = 0; k < v; k++) {
                    z += Math.exp(logits[off + k] - max);
                }
                sum += -(logits[off + (int) y] - max - Math.log(z));
                count++;
            }
        }
        assertEquals(5 + 7, count); // row 0: 7, 10, ▁, 11, 2; row 1: 8, 20, ▁, 21, ▁, 22, 2
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray l = m.create(logits, new Shape(2, 8, v));
            assertEquals(sum / count, CurrentTrainingLosses.causalLmLoss(l, labels).getFloat(), 1e-5);
            // dropping the separators from the targets changes the loss: they are ordinary targets
            long[][] noSep = mixedLabels();
            for (long[] row : noSep) {
                for (int i = 0; i < row.length; i++) {
                    if (row[i] == SEP) {
                        row[i] = -100;
                    }
                }
            }
            assertTrue(Math.abs(CurrentTrainingLosses.causalLmLoss(l, noSep).getFloat() - sum / count) > 1e-4);
        }
    }

    @Test
    void captionLossAndTotalOnHandValues() {
        try (NDManager m = NDManager.newBaseManager()) {
            // image: ‖(3,4)‖ = 5 and ‖(0,0)‖ = 0 → 2.5; audio [B, D] viewed as [B, 1, D]: ‖(1,2,2)‖ = 3
            NDArray imgP = m.create(new float[] {3, 4, 1, 1}, new Shape(1, 2, 2));
            NDArray imgC = m.create(new float[] {0, 0, 1, 1}, new Shape(1, 2, 2));
            NDArray audP = m.create(new float[] {1, 2, 2}, new Shape(1, 1, 3));
            NDArray audC = m.create(new float[] {0, 0, 0}, new Shape(1, 3));
            NDArray capImg = CurrentTrainingLosses.captionLoss(imgP, imgC);
            NDArray capAud = CurrentTrainingLosses.captionLoss(audP, audC);
            assertEquals(2.5f, capImg.getFloat(), 1e-6);
            assertEquals(3f, capAud.getFloat(), 1e-6);
            NDArray total = CurrentTrainingLosses.total(m.create(1.25f), List.of(
                    new ModalityLoss("image", capImg, m.create(0.5f)), new ModalityLoss("audio", capAud, null)));
            assertEquals(1.25f + 2.5f + 0.5f + 3f, total.getFloat(), 1e-6);
            assertThrows(InvalidInputException.class, () -> CurrentTrainingLosses.captionLoss(imgP, audC));
        }
    }

    @Test
    void latentDenoisingMatchesADirectComputation() {
        long[] t = {10, 700};
        try (LatentDenoising gen = LatentDenoising.load(SD);
             NDManager m = NDManager.newBaseManager();
             AutoencoderKL vae = AutoencoderKL.load(SD.resolve("vae"), m.newSubManager());
             UNet2DCondition unet = UNet2DCondition.load(SD.resolve("unet"), m.newSubManager())) {
            Random rnd = new Random(7);
            NDArray image = m.create(gaussian(rnd, 2 * 3 * 32 * 32, 0.5), new Shape(2, 3, 32, 32));
            NDArray vaeNoise = m.create(gaussian(rnd, 2 * 4 * 16 * 16, 1), new Shape(2, 4, 16, 16));
            NDArray eps = m.create(gaussian(rnd, 2 * 4 * 16 * 16, 1), new Shape(2, 4, 16, 16));
            NDArray cond = m.create(gaussian(rnd, 2 * 77 * 48, 1), new Shape(2, 77, 48));

            // direct: z = (mean + std·n)·0.18215; z_t = sqrt(acp)·z + sqrt(1-acp)·ε by hand; ε̂ = UNet(z_t, t, cond)
            AutoencoderKL.LatentDist d = vae.encode(image);
            float[] z = d.mean().add(d.std().mul(vaeNoise)).mul(0.18215f).toFloatArray();
            float[] e = eps.toFloatArray();
            float[] acp = Schedulers.fromPretrained(SD.resolve("scheduler")).alphasCumprod();
            float[] zt = new float[z.length];
            int per = z.length / 2;
            for (int i = 0; i < z.length; i++) {
                float a = acp[(int) t[i / per]];
                zt[i] = (float) (Math.sqrt(a) * z[i] + Math.sqrt(1 - a) * e[i]);
            }
            float[] pred = unet.forward(m.create(zt, new Shape(2, 4, 16, 16)), m.create(t), cond, null).toFloatArray();
            double[] msePer = new double[2];
            for (int i = 0; i < pred.length; i++) {
                double diff = pred[i] - e[i];
                msePer[i / per] += diff * diff / per;
            }
            double mse = (msePer[0] + msePer[1]) / 2;
            double[] w = new double[2];
            for (int b = 0; b < 2; b++) {
                double snr = acp[(int) t[b]] / (1 - acp[(int) t[b]]);
                w[b] = Math.min(snr, 5) / snr;
            }
            assertTrue(w[0] < 1 && w[1] == 1, "t=10 has snr > 5, t=700 below: " + w[0] + ", " + w[1]);

            double got = gen.loss(image, vaeNoise, eps, t, cond, GenReduction.MEAN).getFloat();
            assertEquals(mse, got, 1e-4 * mse);
            double quirk = gen.loss(image, vaeNoise, eps, t, cond, GenReduction.MIN_SNR5_AS_ORIGINAL).getFloat();
            assertEquals(mse * (w[0] + w[1]) / 2, quirk, 1e-4 * mse);
            double intended = gen.loss(image, vaeNoise, eps, t, cond, GenReduction.MIN_SNR5).getFloat();
            assertEquals((msePer[0] * w[0] + msePer[1] * w[1]) / 2, intended, 1e-4 * mse);

            assertThrows(InvalidInputException.class, () -> gen.loss(image, vaeNoise, eps, new long[] {1, 1000}, cond,
                    GenReduction.MEAN));
        }
    }

    @Test
    void audioConditionsThroughClassLabels() {
        Path audioldm = SD.resolveSibling("audioldm");
        long[] t = {500};
        try (LatentDenoising gen = LatentDenoising.load(audioldm);
             NDManager m = NDManager.newBaseManager();
             AutoencoderKL vae = AutoencoderKL.load(audioldm.resolve("vae"), m.newSubManager());
             UNet2DCondition unet = UNet2DCondition.load(audioldm.resolve("unet"), m.newSubManager())) {
            Random rnd = new Random(11);
            NDArray mel = m.create(gaussian(rnd, 32 * 32, 1), new Shape(1, 1, 32, 32));
            NDArray eps = m.create(gaussian(rnd, 8 * 8 * 8, 1), new Shape(1, 8, 8, 8));
            NDArray projected = m.create(gaussian(rnd, 512, 0.05), new Shape(1, 1, 512));
            float[] acp = Schedulers.fromPretrained(audioldm.resolve("scheduler")).alphasCumprod();
            float[] z = vae.encode(mel).mean().mul(vae.scalingFactor()).toFloatArray();
            float[] e = eps.toFloatArray();
            float[] zt = new float[z.length];
            for (int i = 0; i < z.length; i++) {
                zt[i] = (float) (Math.sqrt(acp[500]) * z[i] + Math.sqrt(1 - acp[500]) * e[i]);
            }
            float[] pred = unet.forward(m.create(zt, new Shape(1, 8, 8, 8)), m.create(t), null,
                    projected.reshape(1, 512)).toFloatArray();
            double mse = 0;
            for (int i = 0; i < pred.length; i++) {
                mse += (pred[i] - e[i]) * (double) (pred[i] - e[i]) / pred.length;
            }
            assertEquals(mse, gen.loss(mel, null, eps, t, projected, GenReduction.MEAN).getFloat(), 1e-4 * mse);
        }
    }

    @Test
    void latentDenoisingGradientReachesTheConditioning() {
        long[] t = {300};
        try (LatentDenoising gen = LatentDenoising.load(SD); NDManager m = NDManager.newBaseManager()) {
            Random rnd = new Random(3);
            NDArray image = m.create(gaussian(rnd, 3 * 32 * 32, 0.5), new Shape(1, 3, 32, 32));
            NDArray eps = m.create(gaussian(rnd, 4 * 16 * 16, 1), new Shape(1, 4, 16, 16));
            float[] c = gaussian(rnd, 77 * 48, 1);
            NDArray cond = m.create(c, new Shape(1, 77, 48));
            cond.setRequiresGradient(true);
            float[] grad;
            try (ai.djl.training.GradientCollector gc = ai.djl.engine.Engine.getInstance().newGradientCollector()) {
                NDArray loss = gen.loss(image, null, eps, t, cond, GenReduction.MEAN);
                gc.backward(loss);
                grad = cond.getGradient().toFloatArray();
            }
            int k = 0;
            for (int i = 1; i < grad.length; i++) {
                if (Math.abs(grad[i]) > Math.abs(grad[k])) {
                    k = i;
                }
            }
            assertTrue(Math.abs(grad[k]) > 0 && Float.isFinite(grad[k]), "gradient " + grad[k]);
            // central difference on the largest entry
            double h = 1e-2;
            float[] plus = c.clone();
            float[] minus = c.clone();
            plus[k] += (float) h;
            minus[k] -= (float) h;
            double lp = gen.loss(image, null, eps, t, m.create(plus, new Shape(1, 77, 48)), GenReduction.MEAN).getFloat();
            double lm = gen.loss(image, null, eps, t, m.create(minus, new Shape(1, 77, 48)), GenReduction.MEAN).getFloat();
            double fd = (lp - lm) / (2 * h);
            assertEquals(fd, grad[k], 0.05 * Math.abs(grad[k]) + 1e-6, "analytic " + grad[k] + " vs finite difference " + fd);
        }
    }

    static float[] gaussian(Random rnd, int n, double std) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (std * rnd.nextGaussian());
        }
        return v;
    }
}
