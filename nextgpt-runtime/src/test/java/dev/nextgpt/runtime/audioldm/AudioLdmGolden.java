package dev.nextgpt.runtime.audioldm;

import ai.djl.ndarray.NDArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.nextgpt.runtime.io.SafetensorsFile;

import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Access to the copied AudioLDM golden fixture and the README's comparison criteria. */
final class AudioLdmGolden {
    private AudioLdmGolden() {
    }

    /** The fixture root (a copy of /work/shared/golden/audioldm, only the files the tests use). */
    static Path root() {
        URL url = AudioLdmGolden.class.getClassLoader().getResource("golden/audioldm/model_index.json");
        if (url == null) {
            throw new IllegalStateException("test resource golden/audioldm is missing");
        }
        try {
            return Path.of(url.toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static SafetensorsFile openCase(String name) {
        return SafetensorsFile.open(root().resolve("cases").resolve(name + ".safetensors"));
    }

    /** The case's {@code __metadata__["case"]} JSON. */
    static JsonObject caseMetadata(SafetensorsFile f) {
        return JsonParser.parseString(f.metadata().get("case")).getAsJsonObject();
    }

    /** Max abs difference, computed in double. */
    static double maxAbs(float[] got, float[] ref) {
        double m = 0;
        for (int i = 0; i < ref.length; i++) {
            m = Math.max(m, Math.abs((double) got[i] - ref[i]));
        }
        return m;
    }

    /** ‖got − ref‖₂ / ‖ref‖₂ in double. */
    static double relL2(float[] got, float[] ref) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < ref.length; i++) {
            double d = (double) got[i] - ref[i];
            num += d * d;
            den += (double) ref[i] * ref[i];
        }
        return Math.sqrt(num / den);
    }

    static double scale(float[] ref) {
        double m = 1;
        for (float v : ref) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }

    /**
     * Asserts shape equality and {@code max|got-ref| <= absTol·s} (s = max(1, max|ref|) when {@code scaled}), plus
     * rel-L2 when {@code relL2Tol > 0}. Prints the measured errors.
     */
    static double[] assertClose(String what, NDArray got, float[] ref, long[] refShape, double absTol,
                                boolean scaled, double relL2Tol) {
        assertArrayEquals(refShape, got.getShape().getShape(), what + " shape");
        float[] g = got.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
        double max = maxAbs(g, ref);
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

    static double[] assertClose(String what, NDArray got, SafetensorsFile f, String refName, double absTol,
                                boolean scaled, double relL2Tol) {
        return assertClose(what, got, f.readFloats(refName), f.info(refName).shape(), absTol, scaled, relL2Tol);
    }
}
