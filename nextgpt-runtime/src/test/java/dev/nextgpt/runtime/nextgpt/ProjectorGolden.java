package dev.nextgpt.runtime.nextgpt;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.runtime.io.SafetensorsFile;
import dev.nextgpt.runtime.io.TensorStore;

import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Access to the copied {@code golden/nextgpt-projectors} fixtures and the README tolerance check. */
final class ProjectorGolden {
    /** README: |actual − expected| ≤ 1e-5 + 1e-4·|expected|, element-wise. */
    static final double ATOL = 1e-5;
    static final double RTOL = 1e-4;

    private ProjectorGolden() {
    }

    static Path caseDir(String name) {
        URL url = ProjectorGolden.class.getResource("/golden/nextgpt-projectors/" + name + "/weights.safetensors");
        assertNotNull(url, "fixture " + name + " missing from test resources");
        try {
            return Path.of(url.toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static TensorStore open(String caseName, String file) {
        return SafetensorsFile.open(caseDir(caseName).resolve(file + ".safetensors"));
    }

    /** Asserts the tolerance element-wise and returns the max abs error. */
    static double assertClose(String what, TensorStore expected, String name, NDArray actual) {
        long[] shape = expected.info(name).shape();
        assertArrayEquals(shape, actual.getShape().getShape(), what + ": shape of " + name);
        float[] e = expected.readFloats(name);
        float[] a = actual.toFloatArray();
        double maxAbs = 0;
        double worstRatio = 0;
        int worst = -1;
        for (int i = 0; i < e.length; i++) {
            double err = Math.abs((double) a[i] - e[i]);
            maxAbs = Math.max(maxAbs, err);
            double ratio = err / (ATOL + RTOL * Math.abs(e[i]));
            if (ratio > worstRatio) {
                worstRatio = ratio;
                worst = i;
            }
        }
        System.out.printf("%s %s: max abs err %.3e (worst err/tolerance %.3f)%n", what, name, maxAbs, worstRatio);
        final int w = worst;
        assertTrue(worstRatio <= 1.0, () -> what + " " + name + ": element " + w + " expected " + e[w] + " got "
                + a[w] + " (max abs err " + "over tolerance)");
        return maxAbs;
    }

    static void assertSameLongs(String what, TensorStore expected, String name, NDArray actual) {
        long[] shape = expected.info(name).shape();
        assertArrayEquals(shape, actual.getShape().getShape(), what + ": shape of " + name);
        long[] e = expected.readLongs(name);
        long[] a = actual.toLongArray();
        int diff = 0;
        for (int i = 0; i < e.length; i++) {
            if (e[i] != a[i]) {
                diff++;
            }
        }
        System.out.printf("%s %s: %d of %d indices differ%n", what, name, diff, e.length);
        assertArrayEquals(e, a, what + " " + name + " (first differing: " + Arrays.toString(a) + ")");
    }

    static NDArray input(NDManager m, TensorStore inputs, String name) {
        return inputs.load(m, name);
    }
}
