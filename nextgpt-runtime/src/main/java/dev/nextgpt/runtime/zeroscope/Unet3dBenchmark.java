package dev.nextgpt.runtime.zeroscope;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import java.nio.file.Path;

/**
 * Milliseconds per {@link UNet3DConditionModel} call (one denoising step with classifier-free guidance: batch 2)
 * on random inputs. {@code main(unetOrPipelineFolder [frames height width [iters]])} prints the figure; sizes are
 * latent sizes (pixels / 8).
 */
public final class Unet3dBenchmark {
    private Unet3dBenchmark() {
    }

    /**
     * @param batch  UNet batch (2 = one prompt with CFG)
     * @param frames, latentHeight, latentWidth latent geometry
     * @return mean ms per call after {@code warmup} untimed calls
     */
    public static double msPerStep(UNet3DConditionModel unet, int batch, int frames, int latentHeight,
                                   int latentWidth, int warmup, int iters) {
        try (NDManager m = NDManager.newBaseManager()) {
            UNet3DConditionModel.Config c = unet.config();
            NDArray sample = m.randomNormal(new Shape(batch, c.inChannels(), frames, latentHeight, latentWidth));
            NDArray ehs = m.randomNormal(new Shape(batch, 77, c.crossAttentionDim()));
            NDArray t = m.create(new long[] {500});
            for (int i = 0; i < warmup; i++) {
                try (NDManager step = m.newSubManager()) {
                    sample.tempAttach(step);
                    unet.forward(sample, t, ehs).toFloatArray();
                }
            }
            long start = System.nanoTime();
            for (int i = 0; i < iters; i++) {
                try (NDManager step = m.newSubManager()) {
                    sample.tempAttach(step);
                    unet.forward(sample, t, ehs).toFloatArray(); // forces completion on asynchronous devices
                }
            }
            return (System.nanoTime() - start) / 1e6 / iters;
        }
    }

    public static void main(String[] args) {
        if (args.length < 1) {
            System.err.println("usage: Unet3dBenchmark UNET_OR_PIPELINE_DIR [frames latentH latentW [iters]]");
            System.exit(2);
        }
        int frames = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        int h = args.length > 2 ? Integer.parseInt(args[2]) : 8;
        int w = args.length > 3 ? Integer.parseInt(args[3]) : 8;
        int iters = args.length > 4 ? Integer.parseInt(args[4]) : 10;
        try (UNet3DConditionModel unet = UNet3DConditionModel.load(Unet3dRunner.unetFolder(Path.of(args[0])))) {
            double ms = msPerStep(unet, 2, frames, h, w, 2, iters);
            System.out.printf("UNet3D %s, batch 2 (CFG), %d frames, latent %dx%d: %.1f ms per step%n", args[0], frames,
                    h, w, ms);
        }
    }
}
