package dev.nextgpt.train.trainer;

import dev.nextgpt.InvalidInputException;
import dev.nextgpt.train.data.LegacyBatchBuilder.Modality;
import dev.nextgpt.train.data.NpyArray;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The frozen ImageBind feature of an input media file (the pooled, L2-normalised {@code [1024]} output in the real
 * model; the input of {@code llama_proj}). ImageBind is frozen and run without gradient in the original, so
 * features can be precomputed ({@link #precomputed}) or produced by any encoder wrapped as a lambda (e.g. the
 * runtime's ImageBind on preprocessed media), optionally {@link #cached}.
 */
@FunctionalInterface
public interface FeatureSource {

    float[] feature(Modality modality, Path media);

    /** Reads {@code <dir>/<media file name>.npy} (float16 or float32, any shape, flattened). */
    static FeatureSource precomputed(Path dir) {
        return (modality, media) -> {
            Path f = dir.resolve(media.getFileName().toString() + ".npy");
            if (!Files.isRegularFile(f)) {
                throw new InvalidInputException("no precomputed ImageBind feature " + f + " for " + modality + " "
                        + media);
            }
            return NpyArray.read(f).data();
        };
    }

    /** Memoises another source by path. */
    static FeatureSource cached(FeatureSource inner) {
        Map<Path, float[]> cache = new ConcurrentHashMap<>();
        return (modality, media) -> cache.computeIfAbsent(media, p -> inner.feature(modality, p));
    }
}
