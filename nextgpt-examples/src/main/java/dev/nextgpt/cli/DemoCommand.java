package dev.nextgpt.cli;

import dev.nextgpt.AudioGenerationOptions;
import dev.nextgpt.ChatRequest;
import dev.nextgpt.ChatResponse;
import dev.nextgpt.GenerationOptions;
import dev.nextgpt.ImageGenerationOptions;
import dev.nextgpt.Modality;
import dev.nextgpt.NextGpt;
import dev.nextgpt.NextGptBuilder;
import dev.nextgpt.TextGenerationOptions;
import dev.nextgpt.VideoGenerationOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code nextgpt demo}: one chat turn with the embedded demo model (random weights). */
@Command(name = "demo", description = "Chat once with the embedded demo NExT-GPT (toy size, RANDOM weights: the text "
        + "is gibberish and media are noise). Writes the answer and every produced media file to --out.")
final class DemoCommand implements Callable<Integer> {

    @Option(names = "--prompt", required = true, description = "user text")
    String prompt;

    @Option(names = "--image", description = "input image file")
    Path image;

    @Option(names = "--audio", description = "input WAV file")
    Path audio;

    @Option(names = "--video", description = "input video file")
    Path video;

    @Option(names = "--out", defaultValue = "nextgpt-demo-out", description = "output folder (default: ${DEFAULT-VALUE})")
    Path out;

    @Option(names = "--force", description = "force signal tokens for these modalities (comma separated: "
            + "image,video,audio) so that the decoders run", defaultValue = "image,video,audio")
    String force;

    @Option(names = "--max-new-tokens", defaultValue = "32")
    int maxNewTokens;

    @Option(names = "--steps", defaultValue = "4", description = "diffusion steps")
    int steps;

    @Option(names = "--frames", defaultValue = "4", description = "video frames")
    int frames;

    @Option(names = "--seconds", defaultValue = "1.0", description = "audio length in seconds")
    double seconds;

    @Override
    public Integer call() {
        System.out.println("NOTE: the demo model has RANDOM weights; the answer is gibberish and media are noise.");
        NextGptBuilder b = NextGpt.builder().withDemoModel();
        if (!force.isBlank()) {
            b.withProperty("nextgpt.force_signals", force);
        }
        try (NextGpt model = b.build()) {
            for (Modality m : List.of(Modality.IMAGE, Modality.VIDEO, Modality.AUDIO)) {
                if (!model.info().canGenerate(m)) {
                    System.out.println("no " + m.name().toLowerCase() + " decoder in the demo model: a "
                            + m.name().toLowerCase() + " request is returned as its conditioning tensor");
                }
            }
            ChatRequest.Builder rb = ChatRequest.builder();
            if (image != null) {
                rb.image(image);
            }
            if (audio != null) {
                rb.audio(audio);
            }
            if (video != null) {
                rb.video(video);
            }
            rb.text(prompt).options(GenerationOptions.defaults()
                    .withText(TextGenerationOptions.defaults().withMaxNewTokens(maxNewTokens))
                    .withImage(ImageGenerationOptions.defaults().withSteps(steps))
                    // the demo video decoder's native size is 64x64 (UNet sample size 8 x VAE factor 8)
                    .withVideo(VideoGenerationOptions.defaults().withSteps(steps).withFrames(frames).withSize(64, 64))
                    .withAudio(AudioGenerationOptions.defaults().withSteps(steps).withSeconds(seconds)));
            ChatResponse r = model.chat(rb.build(), new ProgressListener(System.out));
            System.out.println();
            System.out.println("answer: " + r.text());
            ChatOutput.write(r, out, "", System.out);
            System.out.println("(random weights: the media above are noise)");
        }
        return 0;
    }
}
