package dev.nextgpt.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.AudioPart;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.runtime.audioldm.AudioLdmPipeline;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code nextgpt audio --decoder DIR --prompt TEXT}: AudioLDM text-to-audio from a plain text prompt. */
@Command(name = "audio", description = "Generate audio with an AudioLDM pipeline folder from a text prompt (RoBERTa "
        + "BPE tokenizer + CLAP text encoder); writes a 16-bit WAV at the vocoder's sampling rate.")
final class AudioCommand implements Callable<Integer> {

    @Option(names = "--decoder", required = true, description = "diffusers AudioLDM pipeline folder")
    Path decoder;

    @Option(names = "--prompt", required = true)
    String prompt;

    @Option(names = "--negative-prompt", defaultValue = "")
    String negativePrompt;

    @Option(names = "--seconds", description = "audio length (default: the pipeline's, UNet sample size based)")
    Double seconds;

    @Option(names = "--steps", defaultValue = "10")
    int steps;

    @Option(names = "--guidance", defaultValue = "2.5")
    double guidance;

    @Option(names = "--seed", defaultValue = "0")
    long seed;

    @Option(names = "--out", defaultValue = "audio.wav", description = "output WAV file")
    Path out;

    @Override
    public Integer call() throws Exception {
        if (!out.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".wav")) {
            throw new InvalidInputException("--out must end with .wav, got " + out);
        }
        AudioPart audio;
        try (AudioLdmPipeline pipe = AudioLdmPipeline.load(decoder);
             NDManager manager = NDManager.newBaseManager();
             ProgressBar bar = new ProgressBar("denoise", steps)) {
            NDArray cond = pipe.encodePrompts(manager, List.of(prompt));
            NDArray negative = guidance > 1.0 ? pipe.encodePrompts(manager, List.of(negativePrompt)) : null;
            AudioLdmPipeline.Options o = AudioLdmPipeline.Options.defaults().withSteps(steps).withGuidance(guidance)
                    .withSeed(seed).withAudioLengthInS(seconds);
            AudioLdmPipeline.Result r = pipe.generate(manager, cond, negative, null, o,
                    s -> bar.step(1, "t=" + s.timestep()), null);
            audio = AudioPart.ofMono(r.audio().get(0).toFloatArray(), pipe.samplingRate());
        }
        if (out.toAbsolutePath().getParent() != null) {
            Files.createDirectories(out.toAbsolutePath().getParent());
        }
        audio.writeWav(out);
        System.out.printf("wrote %s (%.3f s at %d Hz)%n", out.toAbsolutePath(), audio.durationSeconds(),
                audio.sampleRate());
        return 0;
    }
}
