package dev.nextgpt.runtime.imagebind;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.io.Checkpoints;
import dev.nextgpt.runtime.io.TensorStore;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static dev.nextgpt.runtime.imagebind.ImageBindFixtures.assertClose;

/**
 * Loads the fixture from the original torch.save zip ({@code model.pth}, like {@code imagebind_huge.pth}). Skipped
 * while this build has no torch pickle reader (written in parallel); runs as soon as it is merged.
 */
class ImageBindPthTest {

    @Test
    void audioAndVisionFromThePth() {
        Path pth = ImageBindFixtures.modelDir().resolve("model.pth");
        try (TensorStore s = Checkpoints.open(pth)) {
            Assumptions.assumeTrue(s.names().size() == 157, "pth store lists " + s.names().size() + " tensors");
        } catch (ModelFormatException e) {
            Assumptions.assumeTrue(!e.getMessage().contains("not readable in this build yet"), e.getMessage());
            throw e;
        }
        try (NDManager m = NDManager.newBaseManager();
             ImageBindModel model = ImageBindModel.load(pth, m);
             TensorStore audio = ImageBindFixtures.open("cases/audio.safetensors");
             TensorStore vision = ImageBindFixtures.open("cases/vision_image.safetensors")) {
            NDArray a = ImageBindFixtures.caseInput("audio", m, audio);
            ImageBindModel.Encoding ea = model.encode(Modality.AUDIO, a);
            assertClose("pth audio imagebind.embedding", ea.imagebind(), audio.load(m, "imagebind.embedding"),
                    1e-4 * Math.exp(Math.log(20) + 0.1), 1e-4);
            assertClose("pth audio nextgpt.embedding", ea.nextgpt(), audio.load(m, "nextgpt.embedding"), 1e-4, 1e-4);
            NDArray v = ImageBindFixtures.caseInput("vision_image", m, vision);
            ImageBindModel.Encoding ev = model.encode(Modality.VISION, v);
            assertClose("pth vision nextgpt.embedding", ev.nextgpt(), vision.load(m, "nextgpt.embedding"), 1e-4,
                    1e-4);
        }
    }
}
