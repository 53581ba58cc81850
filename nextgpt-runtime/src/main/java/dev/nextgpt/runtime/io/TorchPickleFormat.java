package dev.nextgpt.runtime.io;

import dev.nextgpt.ModelFormatException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Entry point for torch.save zip checkpoints (the reader itself lives in {@code TorchCheckpointFile}). */
final class TorchPickleFormat {
    private TorchPickleFormat() {
    }

    static boolean looksLikeTorchZip(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(4);
            ch.read(b, 0);
            return b.position() == 4 && b.get(0) == 'P' && b.get(1) == 'K' && b.get(2) == 3 && b.get(3) == 4;
        } catch (IOException e) {
            return false;
        }
    }

    static TensorStore open(Path file) {
        throw new ModelFormatException(file + ": torch pickle checkpoints are not readable in this build yet");
    }
}
