package dev.nextgpt.runtime.nextgpt.current;

import ai.djl.ndarray.NDArray;
import dev.nextgpt.runtime.nextgpt.Modality;

/**
 * Turns output-projector conditioning into media (SD-2 / Zeroscope / AudioLDM in the real system). Minimal local
 * interface of the current pipeline; the lead unifies it with the legacy pipeline's decoder SPI.
 */
@FunctionalInterface
public interface CurrentModalityDecoder {

    /**
     * @param modality     what to produce
     * @param conditioning {@code prompt_embeds}: {@code [1, 77, D]} for image/video, {@code [1, 512]} (the
     *                     {@code [1, 1, 512]} projector output viewed as {@code [1, D]}) for audio
     * @param occurrence   index of this request among the modality's requests (0-based)
     * @return the produced media (any type the caller understands)
     */
    Object decode(Modality modality, NDArray conditioning, int occurrence);
}
