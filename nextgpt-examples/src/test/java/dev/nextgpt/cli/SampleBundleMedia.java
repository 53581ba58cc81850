package dev.nextgpt.cli;

import dev.nextgpt.AudioPart;
import dev.nextgpt.ImagePart;
import dev.nextgpt.VideoPart;
import dev.nextgpt.runtime.media.Mp4VideoDecoder;
import dev.nextgpt.runtime.media.RgbImage;
import dev.nextgpt.runtime.media.WavReader;

import java.awt.Image;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Not a test: makes the derived media of {@code nextgpt-train/src/test/resources/samples-e2e} from the original
 * sample data ({@code main(<nextgpt-samples dir>, <samples-e2e dir>)}): the first 2 s of the first channel of
 * audiocap {@code 106158.wav} and a 2.5 fps, 99×56 GIF of webvid {@code 00169473.mp4}.
 */
final class SampleBundleMedia {
    private SampleBundleMedia() {
    }

    public static void main(String[] args) {
        Path src = Path.of(args[0]);
        Path out = Path.of(args[1]);
        WavReader.Audio wav = WavReader.read(src.resolve("T_X_pair_data/audiocap/audios/106158.wav"));
        float[] first = Arrays.copyOf(wav.samples()[0], 2 * wav.sampleRate());
        AudioPart.ofMono(first, wav.sampleRate()).writeWav(out.resolve("audiocap/audios/106158.wav"));

        Mp4VideoDecoder.DecodedVideo v = Mp4VideoDecoder.decode(
                src.resolve("T_X_pair_data/webvid/videos/00169473.mp4"));
        int step = 10;
        int div = 6;
        List<ImagePart> frames = new ArrayList<>();
        for (int i = 0; i < v.frames().size(); i += step) {
            RgbImage f = v.frames().get(i);
            BufferedImage full = new BufferedImage(f.width(), f.height(), BufferedImage.TYPE_INT_RGB);
            for (int y = 0; y < f.height(); y++) {
                for (int x = 0; x < f.width(); x++) {
                    full.setRGB(x, y, (f.get(x, y, 0) << 16) | (f.get(x, y, 1) << 8) | f.get(x, y, 2));
                }
            }
            BufferedImage small = new BufferedImage(f.width() / div, f.height() / div, BufferedImage.TYPE_INT_RGB);
            var g = small.createGraphics();
            g.drawImage(full.getScaledInstance(small.getWidth(), small.getHeight(), Image.SCALE_AREA_AVERAGING), 0,
                    0, null);
            g.dispose();
            frames.add(ImagePart.fromImage(small));
        }
        VideoPart.ofFrames(frames, v.fps() / step).writeGif(out.resolve("webvid/videos/00169473.gif"));
    }
}
