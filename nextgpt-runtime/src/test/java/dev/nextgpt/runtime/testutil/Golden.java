package dev.nextgpt.runtime.testutil;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Shared test helpers: test-resource paths (copied golden fixtures) and error metrics computed in double. */
public final class Golden {
    private Golden() {
    }

    /** The file or folder {@code relative} (e.g. {@code golden/audioldm/model_index.json}) of the test resources. */
    public static Path resource(String relative) {
        URL url = Golden.class.getResource("/" + relative);
        if (url == null) {
            throw new IllegalStateException("missing test resource " + relative);
        }
        try {
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** {@code max |got - ref|} in double; the arrays must have the same length. */
    public static double maxAbsDiff(float[] got, float[] ref) {
        if (got.length != ref.length) {
            throw new AssertionError("length " + got.length + " vs " + ref.length);
        }
        double m = 0;
        for (int i = 0; i < ref.length; i++) {
            m = Math.max(m, Math.abs((double) got[i] - ref[i]));
        }
        return m;
    }

    /** {@code ‖got − ref‖₂ / ‖ref‖₂} in double. */
    public static double relL2(float[] got, float[] ref) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < ref.length; i++) {
            double d = (double) got[i] - ref[i];
            num += d * d;
            den += (double) ref[i] * ref[i];
        }
        return Math.sqrt(num / den);
    }

    /** {@code max(1, max|ref|)}: the scale of a relative-to-magnitude tolerance. */
    public static double scale(float[] ref) {
        double m = 1;
        for (float v : ref) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }

    /**
     * Asserts shape equality and {@code max|got-ref| <= absTol·s} (s = {@link #scale} when {@code scaled}, else 1),
     * plus rel-L2 when {@code relL2Tol > 0}. Prints the measured errors; returns {@code {maxAbs, relL2}}.
     */
    public static double[] assertClose(String what, NDArray got, float[] ref, long[] refShape, double absTol,
                                       boolean scaled, double relL2Tol) {
        assertArrayEquals(refShape, got.getShape().getShape(), what + " shape");
        float[] g = got.toType(DataType.FLOAT32, false).toFloatArray();
        double max = maxAbsDiff(g, ref);
        double rel = relL2(g, ref);
        double tol = absTol * (scaled ? scale(ref) : 1);
        System.out.printf("%s: max abs %.3e (tol %.1e), rel-L2 %.3e%s%n", what, max, tol, rel,
                relL2Tol > 0 ? String.format(" (tol %.1e)", relL2Tol) : "");
        assertTrue(max <= tol, what + ": max abs " + max + " > " + tol);
        if (relL2Tol > 0) {
            assertTrue(rel <= relL2Tol, what + ": rel-L2 " + rel + " > " + relL2Tol);
        }
        return new double[] {max, rel};
    }
}
