package dev.nextgpt.runtime.imagebind;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Locale;

/**
 * Throughput of the ImageBind network (no media decoding): images/s, audio clips/s and video clips/s through the
 * vision and audio branches NExT-GPT uses, on random inputs of the real sizes.
 */
public final class EncodeBenchmark {
    private EncodeBenchmark() {
    }

    /**
     * Measured throughput.
     *
     * @param model               what was measured (folder or "random huge")
     * @param device              DJL device
     * @param batch               images / audio clips per forward
     * @param clipsPerVideo       clips per video (NExT-GPT: 15 = 5 temporal x 3 spatial)
     * @param imagesPerSecond     vision branch, {@code (batch,3,224,224)}
     * @param audioClipsPerSecond audio branch, {@code (batch,1,128,204)} single clips
     * @param videoClipsPerSecond vision branch, one {@code (1,clipsPerVideo,3,2,224,224)} video per forward
     */
    public record Result(String model, String device, int batch, int clipsPerVideo, double imagesPerSecond,
                         double audioClipsPerSecond, double videoClipsPerSecond) {
        @Override
        public String toString() {
            return String.format(Locale.ROOT, "ImageBind encode [%s on %s, batch %d]: %.2f images/s, %.2f audio "
                            + "clips/s, %.2f video clips/s (%d clips per video)", model, device, batch,
                    imagesPerSecond, audioClipsPerSecond, videoClipsPerSecond, clipsPerVideo);
        }
    }

    /**
     * {@code EncodeBenchmark MODEL_DIR|--random-huge [batch=1] [warmup=1] [iterations=3] [cpu|gpu]}: prints one
     * {@link Result} line.
     */
    public static void main(String[] args) {
        if (args.length < 1) {
            System.err.println("usage: EncodeBenchmark MODEL_DIR|--random-huge [batch] [warmup] [iterations] "
                    + "[cpu|gpu]");
            System.exit(2);
        }
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 1;
        int warmup = args.length > 2 ? Integer.parseInt(args[2]) : 1;
        int iterations = args.length > 3 ? Integer.parseInt(args[3]) : 3;
        Device device = args.length > 4 && args[4].startsWith("gpu") ? Device.gpu() : Device.cpu();
        Result r = "--random-huge".equals(args[0]) ? measureRandomHuge(device, batch, warmup, iterations)
                : measure(Path.of(args[0]), device, batch, warmup, iterations);
        System.out.println(r);
    }

    /** Measures the checkpoint in {@code modelDir} (vision and audio weights only are loaded). */
    public static Result measure(Path modelDir, Device device, int batch, int warmup, int iterations) {
        try (NDManager manager = NDManager.newBaseManager(device);
             ImageBindModel model = ImageBindModel.load(modelDir, ImageBindConfig.forModel(modelDir), manager,
                     EnumSet.of(Modality.VISION, Modality.AUDIO))) {
            return measure(model, modelDir.toString(), batch, 15, warmup, iterations);
        }
    }

    /** Measures a randomly initialised {@link ImageBindConfig#huge()} model built in memory (no files). */
    public static Result measureRandomHuge(Device device, int batch, int warmup, int iterations) {
        try (NDManager manager = NDManager.newBaseManager(device);
             ImageBindModel model = ImageBindModel.random(ImageBindConfig.huge(), manager,
                     EnumSet.of(Modality.VISION, Modality.AUDIO), 42)) {
            return measure(model, "random imagebind_huge", batch, 15, warmup, iterations);
        }
    }

    /** Measures an already loaded model (needs its vision and audio branches). */
    public static Result measure(ImageBindModel model, String label, int batch, int clipsPerVideo, int warmup,
                                 int iterations) {
        if (batch < 1 || clipsPerVideo < 1 || warmup < 0 || iterations < 1) {
            throw new dev.nextgpt.InvalidInputException("benchmark needs batch >= 1, clips >= 1, warmup >= 0, "
                    + "iterations >= 1; got " + batch + ", " + clipsPerVideo + ", " + warmup + ", " + iterations);
        }
        ImageBindConfig c = model.config();
        int size = c.imageSize();
        double images = rate(model, Modality.VISION, new Shape(batch, 3, size, size), batch, warmup, iterations);
        double audio = rate(model, Modality.AUDIO, new Shape(batch, 1, c.audioMelBins(), c.audioTargetLen()), batch,
                warmup, iterations);
        double video = rate(model, Modality.VISION, new Shape(1, clipsPerVideo, 3, ImageBindModel.PAD_FRAMES, size,
                size), clipsPerVideo, warmup, iterations);
        return new Result(label, model.device().toString(), batch, clipsPerVideo, images, audio, video);
    }

    private static double rate(ImageBindModel model, Modality m, Shape shape, int itemsPerForward, int warmup,
                               int iterations) {
        try (NDManager scope = NDManager.newBaseManager(model.device())) {
            NDArray x = scope.randomNormal(0f, 1f, shape, DataType.FLOAT32);
            for (int i = 0; i < warmup; i++) {
                forward(model, m, x);
            }
            long t0 = System.nanoTime();
            for (int i = 0; i < iterations; i++) {
                forward(model, m, x);
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            return itemsPerForward * (double) iterations / seconds;
        }
    }

    private static void forward(ImageBindModel model, Modality m, NDArray x) {
        try (NDManager step = x.getManager().newSubManager()) {
            NDArray in = x.duplicate();
            in.attach(step);
            ImageBindModel.Encoding e = model.encode(m, in);
            e.nextgpt().toFloatArray(); // forces completion (device sync)
        }
    }
}
