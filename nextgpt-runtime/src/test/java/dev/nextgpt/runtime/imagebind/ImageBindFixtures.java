package dev.nextgpt.runtime.imagebind;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.runtime.io.SafetensorsFile;
import dev.nextgpt.runtime.io.TensorStore;
import dev.nextgpt.runtime.testutil.Golden;

import java.nio.file.Path;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Test helpers: the copied ImageBind golden fixture and the README's input recipes. */
final class ImageBindFixtures {
    private ImageBindFixtures() {
    }

    static Path root() {
        return Golden.resource("golden/imagebind/model/config.json").getParent().getParent();
    }

    static Path modelDir() {
        return root().resolve("model");
    }

    static TensorStore open(String relative) {
        return SafetensorsFile.open(root().resolve(relative));
    }

    /** Builds the input of a case from the preprocessing goldens, following the README recipes. */
    static NDArray caseInput(String name, NDManager m, TensorStore caseFile) {
        NDArray input;
        try (TensorStore img = open("preprocess/image_bird.safetensors");
             TensorStore aud = open("preprocess/audio_bird.safetensors")) {
            NDArray p = img.load(m, "pixel_values").get(0);       // (3,224,224)
            NDArray pf = p.flip(2);
            NDArray a = aud.load(m, "pixel_values").get(0);       // (3,1,128,204)
            NDArray af = a.flip(3);
            input = switch (name) {
                case "vision_image" -> NDArrays.stack(new NDList(p, pf));
                case "vision_video" -> NDArrays.stack(new NDList(
                        NDArrays.stack(new NDList(clip(p, pf), clip(pf, pf))),
                        NDArrays.stack(new NDList(clip(p, p), clip(pf, p)))));
                case "audio" -> NDArrays.stack(new NDList(a, af));
                case "text" -> caseFile.load(m, "input_ids");
                case "depth" -> NDArrays.stack(new NDList(p.get("0:1"), pf.get("2:3")));
                case "thermal" -> NDArrays.stack(new NDList(p.get("1:2"), pf.get("0:1")));
                case "imu" -> NDArrays.stack(new NDList(p.flatten().get(":12000"), pf.flatten().get(":12000")))
                        .reshape(2, 6, 2000);
                default -> throw new IllegalArgumentException(name);
            };
        }
        // verify the recipe against the case file's checks
        double sum = caseFile.readFloats("check.input_sum")[0];
        double abs = caseFile.readFloats("check.input_abs_sum")[0];
        NDArray f64 = input.toType(ai.djl.ndarray.types.DataType.FLOAT64, false);
        assertEquals(sum, f64.sum().getDouble(), 1e-6 * Math.max(1, Math.abs(abs)), name + " input sum");
        assertEquals(abs, f64.abs().sum().getDouble(), 1e-6 * Math.max(1, abs), name + " input abs sum");
        float[] first = caseFile.readFloats("check.input_first8");
        float[] mine = input.flatten().get(":8").toType(ai.djl.ndarray.types.DataType.FLOAT32, false)
                .toFloatArray();
        for (int i = 0; i < 8; i++) {
            assertEquals(first[i], mine[i], 0f, name + " input element " + i);
        }
        return input;
    }

    private static NDArray clip(NDArray a, NDArray b) {
        return NDArrays.stack(new NDList(a, b), 1);
    }

    /**
     * Asserts {@code |a-b| <= atol + rtol*|b|} elementwise (shapes must match) and returns the max abs error,
     * printing it for the report.
     */
    static double assertClose(String what, NDArray actual, NDArray expected, double atol, double rtol) {
        assertEquals(expected.getShape(), actual.getShape(), what + " shape");
        float[] a = actual.toFloatArray();
        float[] e = expected.toFloatArray();
        double maxErr = 0;
        int worst = -1;
        int bad = 0;
        for (int i = 0; i < a.length; i++) {
            double err = Math.abs((double) a[i] - e[i]);
            if (!(err <= atol + rtol * Math.abs(e[i]))) {
                bad++;
                if (worst < 0) {
                    worst = i;
                }
            }
            if (!(err <= maxErr)) {
                maxErr = err;
            }
        }
        System.out.printf(Locale.ROOT, "[imagebind] %-45s max abs err %.3e (atol %.1e)%n", what, maxErr, atol);
        int w = worst;
        int nBad = bad;
        assertTrue(nBad == 0, () -> what + ": " + nBad + " elements out of tolerance; first at flat index " + w
                + " actual " + a[w] + " expected " + e[w]);
        return maxErr;
    }
}
