package dev.nextgpt;

/** A valid but unsupported configuration: an architecture option, dtype, device or combination of components. */
public class UnsupportedConfigurationException extends NextGptException {
    private static final long serialVersionUID = 1L;

    public UnsupportedConfigurationException(String message) {
        super(message);
    }

    public UnsupportedConfigurationException(String message, Throwable cause) {
        super(message, cause);
    }
}
