package dev.nextgpt.runtime.nextgpt;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.InvalidInputException;

import java.util.Arrays;

/** Argument handling shared by the diffusion {@link ModalityDecoder}s of this package. */
final class DecoderSupport {
    private DecoderSupport() {
    }

    static ModalityDecoder.Options orDefaults(ModalityDecoder.Options o) {
        return o == null ? ModalityDecoder.Options.defaults() : o;
    }

    static ModalityDecoder.Progress orNone(ModalityDecoder.Progress p) {
        return p == null ? ModalityDecoder.Progress.NONE : p;
    }

    /** Whether the options ask for a (non-empty) negative prompt. */
    static boolean hasNegativePrompt(ModalityDecoder.Options o) {
        return o.negativePrompt() != null && !o.negativePrompt().isEmpty();
    }

    /**
     * The token conditioning {@code [1, tokens, D]} ({@code [tokens, D]} gets the batch axis); any other shape is an
     * error naming the {@code modality} decoder and its UNet.
     */
    static NDArray tokenConditioning(NDArray conditioning, long[] want, String modality, String unet) {
        NDArray cond = conditioning.getShape().dimension() == 2 ? conditioning.expandDims(0) : conditioning;
        if (!Arrays.equals(cond.getShape().getShape(), want)) {
            throw new InvalidInputException(modality + " decoder conditioning must be " + new Shape(want)
                    + " (77 tokens × " + unet + " cross_attention_dim) but is " + conditioning.getShape());
        }
        return cond;
    }

    /** A copy of {@code a} owned by {@code target} (outlives the decoder's scope). */
    static NDArray keep(NDArray a, NDManager target) {
        NDArray c = a.duplicate();
        c.attach(target);
        return c;
    }
}
