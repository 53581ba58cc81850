package dev.nextgpt;

/** A checkpoint, config or tokenizer file is missing, corrupt, hostile or not in the expected layout. */
public class ModelFormatException extends NextGptException {
    private static final long serialVersionUID = 1L;

    public ModelFormatException(String message) {
        super(message);
    }

    public ModelFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
