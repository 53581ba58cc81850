package dev.nextgpt;

/** A caller-supplied value (a part, an option, a prompt, a tensor) is invalid. */
public class InvalidInputException extends NextGptException {
    private static final long serialVersionUID = 1L;

    public InvalidInputException(String message) {
        super(message);
    }

    public InvalidInputException(String message, Throwable cause) {
        super(message, cause);
    }
}
