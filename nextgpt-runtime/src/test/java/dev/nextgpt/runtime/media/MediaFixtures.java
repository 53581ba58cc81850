package dev.nextgpt.runtime.media;

import dev.nextgpt.runtime.testutil.Golden;

import java.nio.file.Path;

/** Test helper: paths of the fixture files copied under src/test/resources. */
public final class MediaFixtures {
    private MediaFixtures() {
    }

    public static Path resource(String relative) {
        return Golden.resource(relative);
    }

    /** Max abs difference. */
    public static double maxAbs(float[] a, float[] b) {
        return Golden.maxAbsDiff(a, b);
    }

    public static double meanAbs(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += Math.abs((double) a[i] - b[i]);
        }
        return s / a.length;
    }
}
