package dev.nextgpt;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** File helpers for the media parts: whole-file reads with clear errors, and atomic writes. */
final class MediaIo {
    private MediaIo() {
    }

    static byte[] readAll(Path path, String what) {
        Checks.notNull(what + " path", path);
        if (!Files.isRegularFile(path)) {
            throw new InvalidInputException(what + " file does not exist or is not a regular file: " + path);
        }
        try {
            return Files.readAllBytes(path);
        } catch (NoSuchFileException e) {
            throw new InvalidInputException(what + " file does not exist: " + path, e);
        } catch (IOException | OutOfMemoryError e) {
            throw new InvalidInputException("cannot read " + what + " file " + path + ": " + e.getMessage(), e);
        }
    }

    /**
     * Writes {@code bytes} to a temporary file next to {@code target} and moves it over {@code target}
     * (atomically where the file system allows), so readers never see a half-written file.
     */
    static void writeAtomically(Path target, byte[] bytes) {
        Checks.notNull("output path", target);
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        Path tmp = null;
        try {
            if (dir != null) {
                Files.createDirectories(dir);
            }
            tmp = Files.createTempFile(dir, "." + abs.getFileName(), ".tmp");
            Files.write(tmp, bytes);
            try {
                Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
            }
            tmp = null;
        } catch (IOException e) {
            throw new InvalidInputException("cannot write " + target + ": " + e, e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // best effort clean-up of our own temporary file
                }
            }
        }
    }
}
