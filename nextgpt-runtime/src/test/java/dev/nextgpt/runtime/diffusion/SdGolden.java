package dev.nextgpt.runtime.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.runtime.io.SafetensorsFile;
import dev.nextgpt.runtime.testutil.Golden;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Access to the copied stable-diffusion golden fixture and the README's error metrics. */
public final class SdGolden {
    private SdGolden() {
    }

    /** Root of the copied fixture (test resources). */
    public static Path root() {
        return Golden.resource("golden/stable-diffusion/model_index.json").getParent();
    }

    public static SafetensorsFile open(String relative) {
        return SafetensorsFile.open(root().resolve(relative));
    }

    /** e_max = max|y - ref| / max|ref|. */
    public static double eMax(NDArray y, NDArray ref) {
        float[] a = y.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
        float[] b = ref.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
        return eMax(a, b);
    }

    public static double eMax(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new AssertionError("length " + a.length + " != " + b.length);
        }
        double num = 0;
        double den = 0;
        for (int i = 0; i < a.length; i++) {
            num = Math.max(num, Math.abs((double) a[i] - b[i]));
            den = Math.max(den, Math.abs(b[i]));
        }
        return num / den;
    }

    /** e_l2 = ||y - ref|| / ||ref||. */
    public static double eL2(NDArray y, NDArray ref) {
        float[] a = y.toFloatArray();
        float[] b = ref.toFloatArray();
        double num = 0;
        double den = 0;
        for (int i = 0; i < a.length; i++) {
            double d = (double) a[i] - b[i];
            num += d * d;
            den += (double) b[i] * b[i];
        }
        return Math.sqrt(num / den);
    }

    /** Asserts shape equality and e_max (and e_l2 if {@code l2Tol > 0}); returns e_max. */
    public static double assertClose(String what, NDArray y, NDArray ref, double maxTol, double l2Tol) {
        assertArrayEquals(ref.getShape().getShape(), y.getShape().getShape(), what + " shape");
        double em = eMax(y, ref);
        double el = eL2(y, ref);
        System.out.printf("%-50s e_max %.3e  e_l2 %.3e%n", what, em, el);
        assertTrue(em <= maxTol, what + ": e_max " + em + " > " + maxTol);
        if (l2Tol > 0) {
            assertTrue(el <= l2Tol, what + ": e_l2 " + el + " > " + l2Tol);
        }
        return em;
    }

    /** uint8 images: every pixel within 1 and at most 1% of values differing. */
    public static void assertUint8Close(String what, NDArray y, NDArray ref) {
        assertArrayEquals(ref.getShape().getShape(), y.getShape().getShape(), what + " shape");
        byte[] a = y.toByteArray();
        byte[] b = ref.toByteArray();
        int diff = 0;
        int maxd = 0;
        for (int i = 0; i < a.length; i++) {
            int d = Math.abs((a[i] & 0xff) - (b[i] & 0xff));
            maxd = Math.max(maxd, d);
            if (d != 0) {
                diff++;
            }
        }
        System.out.printf("%-50s uint8 max diff %d, %d of %d differ%n", what, maxd, diff, a.length);
        assertTrue(maxd <= 1, what + ": max pixel difference " + maxd);
        assertTrue(diff <= a.length / 100, what + ": " + diff + " of " + a.length + " values differ");
    }

    public static NDManager manager() {
        return NDManager.newBaseManager();
    }
}
