package dev.nextgpt.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.ImagePart;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.RuntimeFailureException;
import dev.nextgpt.VideoPart;
import dev.nextgpt.runtime.media.Mp4VideoWriter;
import dev.nextgpt.runtime.nextgpt.VideoDiffusionDecoder;
import dev.nextgpt.runtime.zeroscope.TextToVideoPipeline;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code nextgpt video --decoder DIR --prompt TEXT}: Zeroscope text-to-video from a plain text prompt. */
@Command(name = "video", description = "Generate a video with a Zeroscope (TextToVideoSD) pipeline folder from a text "
        + "prompt; writes an animated GIF or an MP4 (by the --out extension).")
final class VideoCommand implements Callable<Integer> {

    @Option(names = "--decoder", required = true, description = "diffusers text-to-video pipeline folder")
    Path decoder;

    @Option(names = "--prompt", required = true)
    String prompt;

    @Option(names = "--negative-prompt", defaultValue = "")
    String negativePrompt;

    @Option(names = "--frames", defaultValue = "16")
    int frames;

    @Option(names = "--steps", defaultValue = "50")
    int steps;

    @Option(names = "--guidance", defaultValue = "9.0")
    double guidance;

    @Option(names = "--height", description = "multiple of 8 (default: the UNet's sample size x 8)")
    Integer height;

    @Option(names = "--width", description = "multiple of 8 (default: the UNet's sample size x 8)")
    Integer width;

    @Option(names = "--fps", defaultValue = "8")
    double fps;

    @Option(names = "--seed", defaultValue = "0")
    long seed;

    @Option(names = "--out", defaultValue = "video.gif", description = "output file, .gif or .mp4")
    Path out;

    @Override
    public Integer call() {
        String name = out.getFileName().toString().toLowerCase(Locale.ROOT);
        if (!name.endsWith(".gif") && !name.endsWith(".mp4")) {
            throw new InvalidInputException("--out must end with .gif or .mp4, got " + out);
        }
        VideoPart video;
        try (VideoDiffusionDecoder d = VideoDiffusionDecoder.load(decoder);
             NDManager manager = NDManager.newBaseManager();
             ProgressBar bar = new ProgressBar("denoise", steps)) {
            TextToVideoPipeline pipe = d.pipeline();
            int tokens = VideoDiffusionDecoder.TOKENS;
            NDArray cond = pipe.encodePrompt(manager, prompt, tokens);
            NDArray negative = guidance > 1.0 ? pipe.encodePrompt(manager, negativePrompt, tokens) : null;
            TextToVideoPipeline.Options o = TextToVideoPipeline.Options.defaults().withSteps(steps)
                    .withGuidance(guidance).withSeed(seed).withNumFrames(frames).withSize(height, width);
            TextToVideoPipeline.Result r = pipe.generate(manager, cond, negative, null, o,
                    s -> bar.step(1, "t=" + s.timestep()), null);
            Shape fs = r.framesUint8().getShape(); // (F, H, W, 3)
            int f = (int) fs.get(0);
            int h = (int) fs.get(1);
            int w = (int) fs.get(2);
            byte[] all = r.framesUint8().toByteArray();
            List<ImagePart> images = new ArrayList<>();
            for (int i = 0; i < f; i++) {
                images.add(ImagePart.ofRgbBytes(w, h, Arrays.copyOfRange(all, i * h * w * 3, (i + 1) * h * w * 3)));
            }
            video = VideoPart.ofFrames(images, fps);
        }
        try {
            if (out.toAbsolutePath().getParent() != null) {
                Files.createDirectories(out.toAbsolutePath().getParent());
            }
            if (name.endsWith(".gif")) {
                Files.write(out, video.toGifBytes());
            } else {
                Mp4VideoWriter.write(video, out);
            }
        } catch (IOException e) {
            throw new RuntimeFailureException("cannot write " + out + ": " + e.getMessage(), e);
        }
        System.out.println("wrote " + out.toAbsolutePath() + " (" + video.frames().size() + " frames "
                + video.frames().get(0).width() + "x" + video.frames().get(0).height() + " at " + fps + " fps)");
        return 0;
    }
}
