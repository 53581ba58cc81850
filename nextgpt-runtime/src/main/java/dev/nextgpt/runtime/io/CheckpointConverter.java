package dev.nextgpt.runtime.io;

import dev.nextgpt.InvalidInputException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * Converts any readable checkpoint (torch pickle, sharded, folder) to one safetensors file. Tensors are streamed one
 * by one from the source (memory-mapped where possible) into a temporary file that is atomically moved into place;
 * the checkpoint is never copied into the heap as a whole. Tensors sharing a storage are written as separate copies
 * (safetensors has no aliasing); non-tensor values of a pickle are dropped.
 */
public final class CheckpointConverter {
    private CheckpointConverter() {
    }

    /** Progress of a conversion, reported after each tensor is written. */
    public record Progress(TensorInfo tensor, int index, int total, long bytesWritten, long totalBytes) {
    }

    /** What was written. */
    public record Result(Path output, int tensorCount, long bytes) {
    }

    /**
     * Writes the tensors of {@code in} (file or folder, any format {@link Checkpoints#open} reads) to the safetensors
     * file {@code out}, with {@code __metadata__ = {"format": "pt"}}.
     *
     * @param progress receives a {@link Progress} after each tensor; may be null
     */
    public static Result toSafetensors(Path in, Path out, Consumer<Progress> progress) {
        if (Files.exists(out) && Files.exists(in) && in.toAbsolutePath().normalize()
                .equals(out.toAbsolutePath().normalize())) {
            throw new InvalidInputException("conversion output " + out + " is the input file");
        }
        try (TensorStore store = Checkpoints.open(in)) {
            SafetensorsWriter writer = new SafetensorsWriter().metadata("format", "pt");
            long total = 0;
            for (String name : store.names()) {
                TensorInfo info = store.info(name);
                total += info.byteSize();
                writer.add(info, () -> store.rawBytes(name));
            }
            int count = store.names().size();
            long totalBytes = total;
            long[] done = {0};
            int[] index = {0};
            writer.write(out, info -> {
                done[0] += info.byteSize();
                index[0]++;
                if (progress != null) {
                    progress.accept(new Progress(info, index[0], count, done[0], totalBytes));
                }
            });
            return new Result(out, count, totalBytes);
        }
    }
}
