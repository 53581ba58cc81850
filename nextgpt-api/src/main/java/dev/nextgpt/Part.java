package dev.nextgpt;

/**
 * One piece of a multimodal message, in the order it appears. Inputs are text, images, audio and video;
 * outputs are the same plus {@link MediaRequestPart} when the model asked for a modality whose decoder is not loaded.
 * All parts are immutable.
 */
public sealed interface Part permits TextPart, ImagePart, AudioPart, VideoPart, MediaRequestPart {

    /** The modality this part carries (for a {@link MediaRequestPart}: the modality that was requested). */
    Modality modality();

    /** Shorthand for {@link TextPart#of(String)}. */
    static TextPart text(String text) {
        return TextPart.of(text);
    }
}
