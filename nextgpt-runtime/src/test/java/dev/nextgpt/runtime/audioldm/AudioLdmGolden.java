package dev.nextgpt.runtime.audioldm;

import ai.djl.ndarray.NDArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.nextgpt.runtime.io.SafetensorsFile;
import dev.nextgpt.runtime.testutil.Golden;

import java.nio.file.Path;

/** Access to the copied AudioLDM golden fixture and the README's comparison criteria. */
final class AudioLdmGolden {
    private AudioLdmGolden() {
    }

    /** The fixture root (a copy of /work/shared/golden/audioldm, only the files the tests use). */
    static Path root() {
        return Golden.resource("golden/audioldm/model_index.json").getParent();
    }

    static SafetensorsFile openCase(String name) {
        return SafetensorsFile.open(root().resolve("cases").resolve(name + ".safetensors"));
    }

    /** The case's {@code __metadata__["case"]} JSON. */
    static JsonObject caseMetadata(SafetensorsFile f) {
        return JsonParser.parseString(f.metadata().get("case")).getAsJsonObject();
    }

    /** {@link Golden#assertClose}: shape, max abs (scaled if asked) and rel-L2 when {@code relL2Tol > 0}. */
    static double[] assertClose(String what, NDArray got, float[] ref, long[] refShape, double absTol,
                                boolean scaled, double relL2Tol) {
        return Golden.assertClose(what, got, ref, refShape, absTol, scaled, relL2Tol);
    }

    static double[] assertClose(String what, NDArray got, SafetensorsFile f, String refName, double absTol,
                                boolean scaled, double relL2Tol) {
        return assertClose(what, got, f.readFloats(refName), f.info(refName).shape(), absTol, scaled, relL2Tol);
    }
}
