package dev.nextgpt.runtime.media;

import dev.nextgpt.runtime.clip.ClipBpeTokenizer;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/** Preprocessing timings for {@code nextgpt bench encode}: median milliseconds per item and modality. */
public final class PreprocessBenchmark {
    private PreprocessBenchmark() {
    }

    /**
     * Times each given input (null entries are skipped) {@code iterations} times after one warm-up run and returns
     * the median wall time in ms, keyed {@code vision}, {@code audio}, {@code video}, {@code text}.
     */
    public static Map<String, Double> run(Path image, Path wav, Path mp4, Path bpeGz, String text, int iterations) {
        Map<String, Double> out = new LinkedHashMap<>();
        if (image != null) {
            ImagePreprocessor p = new ImagePreprocessor();
            out.put("vision", median(() -> p.process(image), iterations));
        }
        if (wav != null) {
            AudioPreprocessor p = new AudioPreprocessor();
            out.put("audio", median(() -> p.process(wav), iterations));
        }
        if (mp4 != null) {
            VideoPreprocessor p = new VideoPreprocessor();
            out.put("video", median(() -> p.process(mp4), iterations));
        }
        if (bpeGz != null && text != null) {
            ClipBpeTokenizer t = ClipBpeTokenizer.fromBpeGz(bpeGz);
            out.put("text", median(() -> t.encode(text), iterations));
        }
        return out;
    }

    private static double median(Supplier<?> task, int iterations) {
        task.get();
        int n = Math.max(1, iterations);
        double[] ms = new double[n];
        for (int i = 0; i < n; i++) {
            long t0 = System.nanoTime();
            task.get();
            ms[i] = (System.nanoTime() - t0) / 1e6;
        }
        java.util.Arrays.sort(ms);
        return ms[n / 2];
    }
}
