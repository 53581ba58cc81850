package dev.nextgpt.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.ImagePart;
import dev.nextgpt.runtime.diffusion.StableDiffusionPipeline;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code nextgpt image --decoder DIR --prompt TEXT}: Stable Diffusion from a plain text prompt. */
@Command(name = "image", description = "Generate an image with a Stable Diffusion pipeline folder from a text prompt.")
final class ImageCommand implements Callable<Integer> {

    @Option(names = "--decoder", required = true, description = "diffusers Stable Diffusion pipeline folder")
    Path decoder;

    @Option(names = "--prompt", required = true)
    String prompt;

    @Option(names = "--negative-prompt", defaultValue = "")
    String negativePrompt;

    @Option(names = "--steps", defaultValue = "50")
    int steps;

    @Option(names = "--guidance", defaultValue = "7.5")
    double guidance;

    @Option(names = "--height", description = "multiple of 8 (default: the UNet's sample size x 8)")
    Integer height;

    @Option(names = "--width", description = "multiple of 8 (default: the UNet's sample size x 8)")
    Integer width;

    @Option(names = "--seed", defaultValue = "0")
    long seed;

    @Option(names = "--scheduler", description = "ddim|pndm|dpm|euler|euler-ancestral (default: the folder's)")
    String scheduler;

    @Option(names = "--out", defaultValue = "image.png", description = "output PNG file")
    Path out;

    @Override
    public Integer call() {
        try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(decoder);
             NDManager manager = NDManager.newBaseManager();
             ProgressBar bar = new ProgressBar("denoise", steps)) {
            NDArray cond = pipe.encodePrompt(prompt, manager);
            StableDiffusionPipeline.Options o = new StableDiffusionPipeline.Options().steps(steps)
                    .guidanceScale(guidance).seed(seed)
                    .negativePromptEmbeds(pipe.encodePrompt(negativePrompt, manager))
                    .listener((i, total, t) -> bar.step(1, "t=" + (long) t));
            if (height != null) {
                o.height(height);
            }
            if (width != null) {
                o.width(width);
            }
            if (scheduler != null) {
                o.scheduler(scheduler);
            }
            StableDiffusionPipeline.Result r = pipe.generate(cond, o, manager);
            long[] shape = r.imageUint8().getShape().getShape();
            int h = (int) shape[shape.length - 3];
            int w = (int) shape[shape.length - 2];
            byte[] rgb = r.imageUint8().toByteArray();
            byte[] first = java.util.Arrays.copyOf(rgb, h * w * 3);
            ImagePart.ofRgbBytes(w, h, first).writePng(out);
        }
        System.out.println("wrote " + out.toAbsolutePath());
        return 0;
    }
}
