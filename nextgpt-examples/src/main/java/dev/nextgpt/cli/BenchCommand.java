package dev.nextgpt.cli;

import ai.djl.Device;
import dev.nextgpt.runtime.diffusion.UnetBenchmark;
import dev.nextgpt.runtime.imagebind.EncodeBenchmark;
import dev.nextgpt.runtime.llm.LlmBenchmark;
import dev.nextgpt.runtime.media.PreprocessBenchmark;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code nextgpt bench llm|encode|unet}: speed figures (benchmarks, not tests). */
@Command(name = "bench", description = "Benchmarks: llm (prefill/decode), encode (ImageBind), unet (diffusion step), train.",
        subcommands = {BenchCommand.Llm.class, BenchCommand.Encode.class, BenchCommand.Unet.class,
                BenchCommand.Train.class})
final class BenchCommand implements Runnable {

    @Override
    public void run() {
        new picocli.CommandLine(this).usage(System.out);
    }

    @Command(name = "llm", description = "LLaMA prefill ms, decode tokens/s and peak RSS; prints one JSON line last.")
    static final class Llm implements Callable<Integer> {
        @Option(names = "--model", required = true, description = "HF LLaMA folder")
        Path model;

        @Option(names = "--prompt-len", defaultValue = "128")
        int promptLen;

        @Option(names = "--new", defaultValue = "64")
        int newTokens;

        @Override
        public Integer call() {
            System.out.println(LlmBenchmark.run(model, promptLen, newTokens).json());
            return 0;
        }
    }

    @Command(name = "encode", description = "ImageBind images/s, audio clips/s, video clips/s (network time) and "
            + "preprocessing ms per file (decode + resize / fbank / clip sampling), reported separately.")
    static final class Encode implements Callable<Integer> {
        @Option(names = "--model", description = "ImageBind folder (config.json + weights); omit with --random-huge")
        Path model;

        @Option(names = "--random-huge", description = "also measure a random model of the huge configuration")
        boolean randomHuge;

        @Option(names = "--batch", defaultValue = "1")
        int batch;

        @Option(names = "--iterations", defaultValue = "3")
        int iterations;

        @Option(names = "--image", description = "image file for the preprocessing timing")
        Path image;

        @Option(names = "--audio", description = "WAV file for the preprocessing timing")
        Path audio;

        @Option(names = "--video", description = "MP4 file for the preprocessing timing")
        Path video;

        @Override
        public Integer call() {
            if (image != null || audio != null || video != null) {
                var ms = PreprocessBenchmark.run(image, audio, video, null, null, iterations);
                ms.forEach((k, v) -> System.out.printf(java.util.Locale.ROOT,
                        "preprocessing %s: %.1f ms/item (median)%n", k, v));
            }
            if (model != null) {
                System.out.println(EncodeBenchmark.measure(model, Device.cpu(), batch, 1, iterations));
            }
            if (randomHuge) {
                System.out.println(EncodeBenchmark.measureRandomHuge(Device.cpu(), batch, 1, iterations));
            }
            return 0;
        }
    }

    @Command(name = "unet", description = "ms per UNet step (batch 2, guidance) and VAE decode ms.")
    static final class Unet implements Callable<Integer> {
        @Option(names = "--decoder", description = "diffusers pipeline folder (unet/, vae/)")
        Path decoder;

        @Option(names = "--latent", defaultValue = "0", description = "latent size (0: the UNet's sample_size)")
        int latent;

        @Option(names = "--random-sd2", description = "also measure a random SD-2-sized UNet built in memory")
        boolean randomSd2;

        @Option(names = "--width-divisor", defaultValue = "1", description = "shrink the random SD-2 widths")
        int widthDivisor;

        @Option(names = "--iterations", defaultValue = "3")
        int iterations;

        @Override
        public Integer call() {
            if (decoder != null) {
                System.out.println(UnetBenchmark.benchmarkFolder(decoder, latent, 1, iterations));
            }
            if (randomSd2) {
                System.out.println(UnetBenchmark.benchmarkRandomSd2(latent > 0 ? latent : 96, widthDivisor, 1,
                        iterations));
            }
            return 0;
        }
    }

    @Command(name = "train", description = "Legacy training step throughput (samples/s) and memory (peak RSS; parameter, "
            + "gradient and optimiser-state bytes, frozen vs trainable) on a random model; prints one JSON line.")
    static final class Train implements Callable<Integer> {
        @Option(names = "--stage", required = true, description = "1, 2 or 3")
        int stage;

        @Option(names = "--model", defaultValue = "demo", description = "demo or mid (default: ${DEFAULT-VALUE})")
        String model;

        @Option(names = "--steps", defaultValue = "5", description = "measured steps (default: ${DEFAULT-VALUE})")
        int steps;

        @Option(names = "--warmup", defaultValue = "2", description = "unmeasured first steps (default: ${DEFAULT-VALUE})")
        int warmup;

        @Override
        public Integer call() {
            System.out.println(dev.nextgpt.train.trainer.BenchTrain.run(
                    dev.nextgpt.train.trainer.BenchTrain.Size.parse(model), stage, warmup, steps, 1).json());
            return 0;
        }
    }
}
