package dev.nextgpt;

/** The engine failed while running a network (native error, out of memory, cancelled). */
public class RuntimeFailureException extends NextGptException {
    private static final long serialVersionUID = 1L;

    public RuntimeFailureException(String message) {
        super(message);
    }

    public RuntimeFailureException(String message, Throwable cause) {
        super(message, cause);
    }
}
