package dev.nextgpt;

/**
 * Root of the SDK's typed exceptions. Every message names what was wrong: the file, tensor, shape, dtype or value.
 */
public class NextGptException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public NextGptException(String message) {
        super(message);
    }

    public NextGptException(String message, Throwable cause) {
        super(message, cause);
    }
}
