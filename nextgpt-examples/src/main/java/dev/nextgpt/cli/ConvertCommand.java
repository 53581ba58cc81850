package dev.nextgpt.cli;

import dev.nextgpt.runtime.io.Checkpoints;
import dev.nextgpt.runtime.io.SafetensorsWriter;
import dev.nextgpt.runtime.io.TensorStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code nextgpt convert IN OUT}: any readable checkpoint (e.g. a torch pickle) to one safetensors file. */
@Command(name = "convert", description = "Convert a checkpoint (torch .bin/.pth/.pt, sharded, ...) to safetensors, tensor by tensor.")
final class ConvertCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "IN", description = "input checkpoint file or folder")
    Path in;

    @Parameters(index = "1", paramLabel = "OUT", description = "output .safetensors file")
    Path out;

    @Override
    public Integer call() {
        try (TensorStore store = Checkpoints.open(in)) {
            SafetensorsWriter writer = new SafetensorsWriter();
            long bytes = 0;
            for (String name : store.names()) {
                var info = store.info(name);
                bytes += info.byteSize();
                writer.add(info, () -> store.rawBytes(name));
            }
            writer.metadata("format", "pt");
            try (ProgressBar bar = new ProgressBar("convert", bytes)) {
                writer.write(out, info -> bar.step(info.byteSize(), info.name()));
            }
            System.out.println("wrote " + store.names().size() + " tensors to " + out);
        }
        return 0;
    }
}
