package dev.nextgpt.runtime.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Entry point for torch.save checkpoints (the reader itself lives in {@link TorchCheckpointFile}). */
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

    /** True if the file starts like a legacy (torch &lt; 1.6, non-zip) torch.save file: a protocol 2 pickle. */
    static boolean looksLikeLegacyTorch(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(3);
            ch.read(b, 0);
            // PROTO 2, then LONG1 (0x8a) with the 10-byte magic number
            return b.position() == 3 && (b.get(0) & 0xff) == 0x80 && (b.get(2) & 0xff) == 0x8a;
        } catch (IOException e) {
            return false;
        }
    }

    static TensorStore open(Path file) {
        return TorchCheckpointFile.open(file);
    }
}
