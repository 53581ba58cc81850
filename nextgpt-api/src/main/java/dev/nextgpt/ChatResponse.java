package dev.nextgpt;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The model's answer: the parts in the order they were produced (text segments interleaved with generated media,
 * or {@link MediaRequestPart}s for modalities without a configured decoder), the full text, why generation stopped,
 * token counts and wall-clock time.
 *
 * @param parts           output parts in order (immutable)
 * @param text            the full generated text with signal tokens removed
 * @param finishReason    why text generation stopped
 * @param promptTokens    tokens in the prompt (media features count as the tokens they occupy)
 * @param generatedTokens tokens generated
 * @param elapsed         wall-clock time of the whole call, including decoding media
 */
public record ChatResponse(List<Part> parts, String text, FinishReason finishReason, int promptTokens,
        int generatedTokens, Duration elapsed) {

    /** Validates and copies. */
    public ChatResponse {
        Checks.notNull("ChatResponse.parts", parts);
        parts = List.copyOf(parts);
        Checks.notNull("ChatResponse.text", text);
        Checks.notNull("ChatResponse.finishReason", finishReason);
        if (promptTokens < 0 || generatedTokens < 0) {
            throw new InvalidInputException("ChatResponse token counts must be >= 0, got prompt=" + promptTokens
                    + ", generated=" + generatedTokens);
        }
        Checks.notNull("ChatResponse.elapsed", elapsed);
    }

    /** The parts of one type, in order. */
    public <T extends Part> List<T> partsOf(Class<T> type) {
        List<T> out = new ArrayList<>();
        for (Part p : parts) {
            if (type.isInstance(p)) {
                out.add(type.cast(p));
            }
        }
        return List.copyOf(out);
    }

    /** Generated images, in order. */
    public List<ImagePart> images() {
        return partsOf(ImagePart.class);
    }

    /** Generated audio clips, in order. */
    public List<AudioPart> audios() {
        return partsOf(AudioPart.class);
    }

    /** Generated videos, in order. */
    public List<VideoPart> videos() {
        return partsOf(VideoPart.class);
    }

    /** Requests for modalities whose decoder is not configured. */
    public List<MediaRequestPart> mediaRequests() {
        return partsOf(MediaRequestPart.class);
    }

    /** The first generated image, if any. */
    public Optional<ImagePart> firstImage() {
        return images().stream().findFirst();
    }
}
