package dev.nextgpt.runtime.media;

import dev.nextgpt.InvalidInputException;

import java.nio.file.Path;

/** A media file (image, audio, video) cannot be decoded: corrupt, truncated, empty or an unsupported codec. */
public class MediaDecodeException extends InvalidInputException {
    private static final long serialVersionUID = 1L;
    private final transient Path file;

    public MediaDecodeException(Path file, String message) {
        super((file == null ? "" : file + ": ") + message);
        this.file = file;
    }

    public MediaDecodeException(Path file, String message, Throwable cause) {
        super((file == null ? "" : file + ": ") + message, cause);
        this.file = file;
    }

    /** The offending file, or null for in-memory input. */
    public Path file() {
        return file;
    }
}
