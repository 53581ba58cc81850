package dev.nextgpt.runtime.audioldm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.runtime.component.ComponentPaths;
import dev.nextgpt.runtime.diffusion.UNet2DCondition;
import dev.nextgpt.runtime.diffusion.UNet2DConditionConfig;

import java.nio.file.Path;

/**
 * Milliseconds per AudioLDM UNet call (one denoising step with classifier-free guidance: batch 2, class labels,
 * no text context) on random inputs. {@code main(unetOrPipelineFolder [latentT latentF [iters]])} prints it.
 */
public final class AudioLdmUnetBenchmark {
    private AudioLdmUnetBenchmark() {
    }

    /** Mean ms per call after {@code warmup} untimed calls; latent (batch, in_channels, latentT, latentF). */
    public static double msPerStep(UNet2DCondition unet, int batch, int latentT, int latentF, int warmup,
                                   int iters) {
        UNet2DConditionConfig c = unet.config();
        int classDim = c.projectionClassEmbeddingsInputDim() != null ? c.projectionClassEmbeddingsInputDim() : 512;
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray sample = m.randomNormal(new Shape(batch, c.inChannels(), latentT, latentF));
            NDArray labels = m.randomNormal(new Shape(batch, classDim));
            NDArray t = m.create(new long[] {500});
            long start = 0;
            for (int i = 0; i < warmup + iters; i++) {
                if (i == warmup) {
                    start = System.nanoTime();
                }
                try (NDManager step = m.newSubManager()) {
                    sample.tempAttach(step);
                    unet.forward(sample, t, null, labels).toFloatArray();
                }
            }
            return (System.nanoTime() - start) / 1e6 / iters;
        }
    }

    public static void main(String[] args) {
        if (args.length < 1) {
            System.err.println("usage: AudioLdmUnetBenchmark UNET_OR_PIPELINE_DIR [latentT latentF [iters]]");
            System.exit(2);
        }
        Path p = Path.of(args[0]);
        Path folder = ComponentPaths.subfolderOrSelf(p, "unet");
        int lt = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        int lf = args.length > 2 ? Integer.parseInt(args[2]) : 4;
        int iters = args.length > 3 ? Integer.parseInt(args[3]) : 10;
        try (UNet2DCondition unet = UNet2DCondition.load(folder)) {
            double ms = msPerStep(unet, 2, lt, lf, 2, iters);
            System.out.printf("AudioLDM UNet %s, batch 2 (CFG), latent %dx%d: %.1f ms per step%n", args[0], lt, lf, ms);
        }
    }
}
