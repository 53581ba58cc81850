package dev.nextgpt;

import java.util.Arrays;

/**
 * Output placeholder: the model emitted the signal tokens for a modality whose diffusion decoder is not configured.
 *
 * <p>This is the SDK's chosen outcome for that case: instead of failing or silently dropping the request, the
 * response carries the output projector's conditioning tensor (e.g. {@code [1, 77, 768]} for the legacy image
 * decoder, {@code [1, 77, 1024]} for video, {@code [1, 1, 512]} for audio), so a caller can run a decoder elsewhere
 * or configure one and retry, plus a human-readable explanation.
 *
 * @param modality     the requested modality (IMAGE, AUDIO or VIDEO)
 * @param conditioning the conditioning tensor, row-major (copied in and out)
 * @param shape        its shape; the product equals {@code conditioning.length} (copied in and out)
 * @param message      an explanation, e.g. "image requested but no image decoder is configured"
 */
public record MediaRequestPart(Modality modality, float[] conditioning, int[] shape, String message) implements Part {

    /** Validates the modality and that the shape matches the data. */
    public MediaRequestPart {
        Checks.notNull("MediaRequestPart.modality", modality);
        if (modality == Modality.TEXT) {
            throw new InvalidInputException("MediaRequestPart.modality must be IMAGE, AUDIO or VIDEO, got TEXT");
        }
        Checks.notNull("MediaRequestPart.conditioning", conditioning);
        Checks.notNull("MediaRequestPart.shape", shape);
        Checks.notNull("MediaRequestPart.message", message);
        long n = 1;
        for (int d : shape) {
            if (d < 0) {
                throw new InvalidInputException("MediaRequestPart.shape has a negative dimension: "
                        + Arrays.toString(shape));
            }
            n *= d;
        }
        if (n != conditioning.length) {
            throw new InvalidInputException("MediaRequestPart.shape " + Arrays.toString(shape) + " holds " + n
                    + " values but conditioning has " + conditioning.length);
        }
        conditioning = conditioning.clone();
        shape = shape.clone();
    }

    /** A copy of the conditioning values. */
    @Override
    public float[] conditioning() {
        return conditioning.clone();
    }

    /** A copy of the shape. */
    @Override
    public int[] shape() {
        return shape.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof MediaRequestPart p && modality == p.modality && Arrays.equals(shape, p.shape)
                && Arrays.equals(conditioning, p.conditioning) && message.equals(p.message);
    }

    @Override
    public int hashCode() {
        return ((modality.hashCode() * 31 + Arrays.hashCode(shape)) * 31 + Arrays.hashCode(conditioning)) * 31
                + message.hashCode();
    }

    @Override
    public String toString() {
        return "MediaRequestPart[" + modality + ", shape=" + Arrays.toString(shape) + ", " + message + "]";
    }
}
