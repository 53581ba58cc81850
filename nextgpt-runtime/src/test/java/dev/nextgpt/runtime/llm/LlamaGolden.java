package dev.nextgpt.runtime.llm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.nextgpt.runtime.io.SafetensorsFile;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Shared access to the copied golden fixture folder and comparison helpers. */
final class LlamaGolden {
    static final double TOL = 1e-4;

    private LlamaGolden() {
    }

    static Path dir() {
        try {
            return Path.of(LlamaGolden.class.getResource("/golden/llama/config.json").toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static JsonObject json(String relative) {
        try {
            return JsonParser.parseString(Files.readString(dir().resolve(relative))).getAsJsonObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static long[] longs(JsonElement e) {
        JsonArray a = e.getAsJsonArray();
        long[] out = new long[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).getAsLong();
        }
        return out;
    }

    static long[][] longs2(JsonElement e) {
        JsonArray a = e.getAsJsonArray();
        long[][] out = new long[a.size()][];
        for (int i = 0; i < out.length; i++) {
            out[i] = longs(a.get(i));
        }
        return out;
    }

    static float[] expected(String file, String tensor) {
        try (SafetensorsFile f = SafetensorsFile.open(dir().resolve("cases").resolve(file))) {
            return f.readFloats(tensor);
        }
    }

    static double maxAbs(float[] expected, float[] actual) {
        assertTrue(expected.length == actual.length, "length " + actual.length + " != expected " + expected.length);
        double m = 0;
        for (int i = 0; i < expected.length; i++) {
            double d = Math.abs(expected[i] - actual[i]);
            if (!(d <= m)) {
                m = Double.isNaN(d) ? Double.POSITIVE_INFINITY : d;
            }
        }
        return m;
    }

    /** Asserts max |expected - actual| <= TOL and returns the error (printed for the report). */
    static double assertClose(String what, float[] expected, float[] actual) {
        double err = maxAbs(expected, actual);
        System.out.printf("[golden] %s max abs err %.3g%n", what, err);
        assertTrue(err <= TOL, what + ": max abs error " + err + " > " + TOL);
        return err;
    }

    static double assertClose(String what, float[] expected, NDArray actual) {
        return assertClose(what, expected, actual.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray());
    }

    static NDArray ids(NDManager m, long[]... rows) {
        long[] flat = new long[rows.length * rows[0].length];
        for (int i = 0; i < rows.length; i++) {
            System.arraycopy(rows[i], 0, flat, i * rows[0].length, rows[0].length);
        }
        return m.create(flat, new ai.djl.ndarray.types.Shape(rows.length, rows[0].length));
    }

    static void assertIds(long[] expected, long[] actual) {
        assertArrayEquals(expected, actual);
    }
}
