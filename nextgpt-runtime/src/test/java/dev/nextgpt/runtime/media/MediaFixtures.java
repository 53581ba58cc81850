package dev.nextgpt.runtime.media;

import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Path;

/** Test helper: paths of the fixture files copied under src/test/resources. */
public final class MediaFixtures {
    private MediaFixtures() {
    }

    public static Path resource(String relative) {
        URL url = MediaFixtures.class.getResource("/" + relative);
        if (url == null) {
            throw new IllegalStateException("missing test resource " + relative);
        }
        try {
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Max abs difference. */
    public static double maxAbs(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new AssertionError("length " + a.length + " vs " + b.length);
        }
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs((double) a[i] - b[i]));
        }
        return m;
    }

    public static double meanAbs(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += Math.abs((double) a[i] - b[i]);
        }
        return s / a.length;
    }
}
