package dev.nextgpt.runtime.media;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.UnsupportedConfigurationException;
import dev.nextgpt.runtime.clip.ClipBpeTokenizer;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;

/**
 * ImageBind / NExT-GPT input preprocessing from real media, as NDArrays (per item, without batch axis):
 * vision {@code [3,224,224]}, audio {@code [3,1,128,204]}, video {@code [15,3,2,224,224]}, text {@code [77]} int64.
 * See {@link ImagePreprocessor}, {@link AudioPreprocessor}, {@link VideoPreprocessor}, {@link ClipBpeTokenizer}.
 */
public final class ImageBindPreprocessor {
    private final ImagePreprocessor image;
    private final AudioPreprocessor audio;
    private final VideoPreprocessor video;
    private final ClipBpeTokenizer tokenizer;

    /** ImageBind defaults; {@code tokenizer} may be null when text is not needed. */
    public ImageBindPreprocessor(ClipBpeTokenizer tokenizer) {
        this(new ImagePreprocessor(), new AudioPreprocessor(), new VideoPreprocessor(), tokenizer);
    }

    public ImageBindPreprocessor(ImagePreprocessor image, AudioPreprocessor audio, VideoPreprocessor video,
                                 ClipBpeTokenizer tokenizer) {
        this.image = image;
        this.audio = audio;
        this.video = video;
        this.tokenizer = tokenizer;
    }

    /** With ImageBind's {@code bpe_simple_vocab_16e6.txt.gz}. */
    public static ImageBindPreprocessor withBpe(Path bpeGz) {
        return new ImageBindPreprocessor(ClipBpeTokenizer.fromBpeGz(bpeGz));
    }

    public NDArray vision(NDManager manager, Path file) {
        return manager.create(image.process(file), new Shape(3, image.size(), image.size()));
    }

    public NDArray vision(NDManager manager, BufferedImage img) {
        return manager.create(image.process(img), new Shape(3, image.size(), image.size()));
    }

    public NDArray audio(NDManager manager, Path wavFile) {
        AudioPreprocessor.Result r = audio.process(wavFile);
        return manager.create(r.values(), new Shape(r.shape()));
    }

    /** Mono PCM in [-1, 1] at {@code rate} Hz. */
    public NDArray audio(NDManager manager, float[] pcm, int rate) {
        AudioPreprocessor.Result r = audio.process(new float[][] {pcm}, rate, null);
        return manager.create(r.values(), new Shape(r.shape()));
    }

    /** Multichannel PCM {@code [channel][sample]} in [-1, 1] at {@code rate} Hz. */
    public NDArray audio(NDManager manager, float[][] pcm, int rate) {
        AudioPreprocessor.Result r = audio.process(pcm, rate, null);
        return manager.create(r.values(), new Shape(r.shape()));
    }

    public NDArray video(NDManager manager, Path file) {
        VideoPreprocessor.Result r = video.process(file);
        return manager.create(r.values(), new Shape(r.shape()));
    }

    /** Decoded frames in presentation order at {@code fps}. */
    public NDArray video(NDManager manager, List<BufferedImage> frames, double fps) {
        VideoPreprocessor.Result r = video.process(frames, fps);
        return manager.create(r.values(), new Shape(r.shape()));
    }

    /** Token ids {@code [77]} (int64), ImageBind's tokenizer semantics (EOT kept on truncation). */
    public NDArray text(NDManager manager, String text) {
        if (tokenizer == null) {
            throw new UnsupportedConfigurationException("text preprocessing needs a CLIP BPE tokenizer "
                    + "(bpe_simple_vocab_16e6.txt.gz); none was configured");
        }
        long[] ids = tokenizer.encode(text);
        return manager.create(ids, new Shape(ids.length));
    }
}
