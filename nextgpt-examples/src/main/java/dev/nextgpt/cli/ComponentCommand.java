package dev.nextgpt.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.runtime.component.ComponentRegistry;
import dev.nextgpt.runtime.component.ComponentRequest;
import dev.nextgpt.runtime.component.ComponentRunner;
import dev.nextgpt.runtime.io.SafetensorsFile;
import dev.nextgpt.runtime.io.SafetensorsWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code nextgpt component KIND --model DIR --inputs IN --output OUT}: one network on named tensors. */
@Command(name = "component", description = "Run one network on named tensors (safetensors in, safetensors out).")
final class ComponentCommand implements Callable<Integer> {

    @Parameters(index = "0", arity = "0..1", paramLabel = "KIND", description = "component kind (see --list)")
    String kind;

    @Option(names = "--list", description = "list the registered component kinds")
    boolean list;

    @Option(names = "--model", description = "model folder or file")
    Path model;

    @Option(names = "--inputs", description = "input tensors (.safetensors)")
    Path inputs;

    @Option(names = "--output", description = "output tensors (.safetensors)")
    Path output;

    @Option(names = "--option", description = "scalar option k=v (repeatable)")
    List<String> options = List.of();

    @Option(names = "--lora", description = "LoRA adapter folder (where the kind supports it)")
    Path lora;

    @Override
    public Integer call() {
        if (list || kind == null) {
            ComponentRegistry.all().forEach((k, r) -> System.out.println(k + "\t" + r.description()));
            return 0;
        }
        ComponentRunner runner = ComponentRegistry.get(kind);
        if (output == null) {
            throw new InvalidInputException("--output is required");
        }
        Map<String, String> opts = new LinkedHashMap<>();
        for (String o : options) {
            int eq = o.indexOf('=');
            if (eq <= 0) {
                throw new InvalidInputException("--option '" + o + "' is not of the form key=value");
            }
            opts.put(o.substring(0, eq), o.substring(eq + 1));
        }
        Map<String, Path> paths = new LinkedHashMap<>();
        if (lora != null) {
            paths.put("lora", lora);
        }
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> in = new LinkedHashMap<>();
            if (inputs != null) {
                try (SafetensorsFile f = SafetensorsFile.open(inputs)) {
                    for (String n : f.names()) {
                        in.put(n, f.load(manager, n));
                    }
                }
            }
            Map<String, NDArray> out = runner.run(new ComponentRequest(model, in, opts, paths), manager);
            SafetensorsWriter writer = new SafetensorsWriter();
            out.forEach(writer::add);
            writer.write(output);
            System.out.println("wrote " + out.size() + " tensors to " + output + ": " + out.keySet());
        }
        return 0;
    }
}
