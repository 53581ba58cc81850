package dev.nextgpt;

/**
 * A piece of text.
 *
 * @param text the text (may be empty, never null)
 */
public record TextPart(String text) implements Part {

    /** Rejects null. */
    public TextPart {
        Checks.notNull("TextPart.text", text);
    }

    /** A text part. */
    public static TextPart of(String text) {
        return new TextPart(text);
    }

    /** Always {@link Modality#TEXT}. */
    @Override
    public Modality modality() {
        return Modality.TEXT;
    }
}
