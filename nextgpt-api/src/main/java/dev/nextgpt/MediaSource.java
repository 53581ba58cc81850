package dev.nextgpt;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Objects;
import java.util.Optional;

/**
 * Where a media part came from: the original file and/or its original encoded bytes. The runtime's preprocessing
 * prefers the original encoding (e.g. it decodes a JPEG exactly as the reference code does) over the decoded pixels.
 * Both are null for media built in memory.
 *
 * @param path  the file the part was read from, or null
 * @param bytes the original encoded bytes (JPEG, PNG, WAV, …), or null; copied on the way in and out
 */
public record MediaSource(Path path, byte[] bytes) {
    /** No source: media built in memory. */
    public static final MediaSource NONE = new MediaSource(null, null);

    /** Copies {@code bytes}. */
    public MediaSource {
        bytes = bytes == null ? null : bytes.clone();
    }

    /** A source that is a file (read lazily or already read into {@code bytes}). */
    public static MediaSource of(Path path, byte[] bytes) {
        return new MediaSource(path, bytes);
    }

    /** The original bytes (a copy), or null. */
    @Override
    public byte[] bytes() {
        return bytes == null ? null : bytes.clone();
    }

    /** The original file, if any. */
    public Optional<Path> file() {
        return Optional.ofNullable(path);
    }

    /** The original bytes (a copy), if any. */
    public Optional<byte[]> originalBytes() {
        return Optional.ofNullable(bytes());
    }

    /** Whether there is neither a path nor bytes. */
    public boolean isEmpty() {
        return path == null && bytes == null;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof MediaSource m && Objects.equals(path, m.path) && Arrays.equals(bytes, m.bytes);
    }

    @Override
    public int hashCode() {
        return 31 * Objects.hashCode(path) + Arrays.hashCode(bytes);
    }

    @Override
    public String toString() {
        return "MediaSource[path=" + path + ", bytes=" + (bytes == null ? "none" : bytes.length + " bytes") + "]";
    }
}
