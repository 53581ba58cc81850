package dev.nextgpt.cli;

import dev.nextgpt.runtime.io.CheckpointInspector;
import dev.nextgpt.runtime.nextgpt.LegacySystemLayout;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code nextgpt info PATH}: what a checkpoint file or folder holds, from headers only. A NExT-GPT system folder
 * (legacy {@code ckpt/} layout or a current {@code nextgpt_llama} folder) is listed part by part, present or missing.
 */
@Command(name = "info", description = "Describe a checkpoint file or folder (format, config, tensors, parameters, "
        + "dtypes), or a NExT-GPT system folder part by part. Reads headers only.")
final class InfoCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "PATH", description = "checkpoint file or folder")
    Path path;

    @Override
    public Integer call() {
        System.out.println("path: " + path.toAbsolutePath());
        if (isNextGptSystem(path)) {
            LegacySystemLayout layout = LegacySystemLayout.inspect(path);
            System.out.println("layout: NExT-GPT " + layout.kind().name().toLowerCase() + " system");
            for (LegacySystemLayout.Item item : layout.items()) {
                System.out.println("  " + item);
            }
            System.out.println(layout.missing().isEmpty() ? "complete: every required part is present"
                    : "missing: " + layout.missing().stream().map(LegacySystemLayout.Item::role).toList());
            return 0;
        }
        print(CheckpointInspector.inspect(path), "");
        return 0;
    }

    private static void print(CheckpointInspector.Summary s, String indent) {
        System.out.println(indent + "format: " + s.layout());
        System.out.println(indent + "config: " + s.configSummary());
        if (s.weightFile() != null) {
            System.out.println(indent + "weights: " + s.weightFile());
        }
        System.out.println(indent + "tensors: " + s.tensorCount());
        System.out.println(indent + "parameters: " + s.parameterCount());
        System.out.println(indent + "dtypes: " + s.dtypeTensors());
        for (Map.Entry<String, CheckpointInspector.Summary> c : s.components().entrySet()) {
            System.out.println(indent + "component " + c.getKey() + ":");
            print(c.getValue(), indent + "  ");
        }
    }

    static boolean isNextGptSystem(Path p) {
        return Files.isDirectory(p) && (Files.isDirectory(p.resolve("ckpt"))
                || Files.isRegularFile(p.resolve("nextgpt_config.json"))
                || (Files.isRegularFile(p.resolve("config.json")) && readsNextGptLlama(p.resolve("config.json"))));
    }

    private static boolean readsNextGptLlama(Path cfg) {
        try {
            return Files.readString(cfg).contains("\"nextgpt_llama\"");
        } catch (java.io.IOException e) {
            return false;
        }
    }
}
