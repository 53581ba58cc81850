package dev.nextgpt.cli;

import dev.nextgpt.runtime.io.Checkpoints;
import dev.nextgpt.runtime.io.TensorDType;
import dev.nextgpt.runtime.io.TensorStore;
import dev.nextgpt.runtime.config.JsonConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code nextgpt info PATH}: what a checkpoint file or folder holds, from headers only. */
@Command(name = "info", description = "Describe a checkpoint file or folder (format, config, tensors, parameters, dtypes).")
final class InfoCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "PATH", description = "checkpoint file or folder")
    Path path;

    @Override
    public Integer call() {
        System.out.println("path: " + path.toAbsolutePath());
        if (Files.isDirectory(path) && Files.isRegularFile(path.resolve("config.json"))) {
            System.out.println("config: " + JsonConfig.read(path.resolve("config.json")).summary());
        }
        try (TensorStore store = Checkpoints.open(path)) {
            Map<TensorDType, Integer> dtypes = new EnumMap<>(TensorDType.class);
            long params = 0;
            for (String n : store.names()) {
                var info = store.info(n);
                dtypes.merge(info.dtype(), 1, Integer::sum);
                params += info.numel();
            }
            System.out.println("weights: " + store.source());
            System.out.println("tensors: " + store.names().size());
            System.out.println("parameters: " + params);
            System.out.println("dtypes: " + dtypes);
        }
        return 0;
    }
}
