package dev.nextgpt.train.trainer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.ImagePart;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.VideoPart;
import dev.nextgpt.runtime.imagebind.ImageBindModel;
import dev.nextgpt.runtime.media.AudioPreprocessor;
import dev.nextgpt.runtime.media.ImagePreprocessor;
import dev.nextgpt.runtime.media.VideoPreprocessor;
import dev.nextgpt.train.data.LegacyBatchBuilder.Modality;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@link FeatureSource} computing the legacy NExT-GPT ImageBind feature of a media file from the file itself: the
 * runtime's preprocessing (image: bicubic resize + centre crop 224; audio: 16 kHz first channel, 3 clips of 2 s,
 * Kaldi fbank; video: 5 clips of 2 s × 3 spatial crops = 15 clips; an animated {@code .gif} is decoded as frames,
 * anything else as MP4 through JCodec) and {@link ImageBindModel.Encoding#nextgptLegacy()} ({@code [D]}, the input of
 * {@code llama_proj}). ImageBind is frozen, so no gradient is involved; wrap it in {@link FeatureSource#cached} to
 * encode each file once per run.
 */
public final class ImageBindFeatures implements FeatureSource, AutoCloseable {
    private final ImageBindModel model;
    private final boolean ownsModel;
    private final ImagePreprocessor image;
    private final AudioPreprocessor audio;
    private final VideoPreprocessor video;

    private ImageBindFeatures(ImageBindModel model, boolean ownsModel, ImagePreprocessor image,
                              AudioPreprocessor audio, VideoPreprocessor video) {
        this.model = model;
        this.ownsModel = ownsModel;
        this.image = image;
        this.audio = audio;
        this.video = video;
    }

    /** Uses {@code model} (not closed by {@link #close()}) with the ImageBind default preprocessing. */
    public static ImageBindFeatures of(ImageBindModel model) {
        return of(model, new ImagePreprocessor(), new AudioPreprocessor(), new VideoPreprocessor());
    }

    /** Uses {@code model} (not closed by {@link #close()}) with the given preprocessors. */
    public static ImageBindFeatures of(ImageBindModel model, ImagePreprocessor image, AudioPreprocessor audio,
                                       VideoPreprocessor video) {
        return new ImageBindFeatures(model, false, image, audio, video);
    }

    /**
     * Loads an ImageBind checkpoint (a folder with {@code config.json} and a weight file, or a weight file; see
     * {@link ImageBindModel#load(Path, NDManager)}) under {@code parent}; {@link #close()} releases it.
     */
    public static ImageBindFeatures load(Path modelPath, NDManager parent) {
        return new ImageBindFeatures(ImageBindModel.load(modelPath, parent), true, new ImagePreprocessor(),
                new AudioPreprocessor(), new VideoPreprocessor());
    }

    @Override
    public float[] feature(Modality modality, Path media) {
        if (media == null || !Files.isRegularFile(media)) {
            throw new InvalidInputException(modality + " input file " + media + " does not exist");
        }
        try (NDManager m = NDManager.newBaseManager()) {
            dev.nextgpt.runtime.imagebind.Modality branch;
            NDArray input;
            switch (modality) {
                case IMAGE -> {
                    int s = image.size();
                    input = m.create(image.process(media), new Shape(1, 3, s, s));
                    branch = dev.nextgpt.runtime.imagebind.Modality.VISION;
                }
                case AUDIO -> {
                    AudioPreprocessor.Result r = audio.process(media);
                    input = m.create(r.values(), batchOfOne(r.shape()));
                    branch = dev.nextgpt.runtime.imagebind.Modality.AUDIO;
                }
                case VIDEO -> {
                    VideoPreprocessor.Result r = decodeVideo(media);
                    input = m.create(r.values(), batchOfOne(r.shape())); // (1, clips·crops, 3, T, H, W)
                    branch = dev.nextgpt.runtime.imagebind.Modality.VISION;
                }
                default -> throw new InvalidInputException("no ImageBind feature for a " + modality + " input ("
                        + media + ")");
            }
            ImageBindModel.Encoding e = model.encode(branch, input);
            return e.nextgptLegacy().toFloatArray();
        }
    }

    private VideoPreprocessor.Result decodeVideo(Path file) {
        if (file.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".gif")) {
            VideoPart v = VideoPart.readGif(file);
            List<BufferedImage> frames = new ArrayList<>();
            for (ImagePart f : v.frames()) {
                frames.add(f.toBufferedImage());
            }
            return video.process(frames, v.fps());
        }
        return video.process(file);
    }

    private static Shape batchOfOne(long[] shape) {
        long[] s = new long[shape.length + 1];
        s[0] = 1;
        System.arraycopy(shape, 0, s, 1, shape.length);
        return new Shape(s);
    }

    @Override
    public void close() {
        if (ownsModel) {
            model.close();
        }
    }
}
