package dev.nextgpt.cli;

import dev.nextgpt.NextGptException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code nextgpt} command line. */
@Command(name = "nextgpt", mixinStandardHelpOptions = true, version = "nextgpt 0.1.0-SNAPSHOT",
        description = "NExT-GPT for the JVM: inspect checkpoints, run components, convert, chat and benchmark.",
        subcommands = {
                InfoCommand.class,
                ComponentCommand.class,
                ConvertCommand.class,
                BenchCommand.class,
                ImageCommand.class,
                VideoCommand.class,
                AudioCommand.class,
                DemoCommand.class,
                ChatCommand.class,
                TrainCommand.class,
                TrainCheckCommand.class,
                SampleSystemCommand.class,
                PrecomputeEmbeddingsCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }

    /** Runs the CLI and returns the exit code (0 ok, 1 our typed error, 2 usage error). */
    public static int execute(String... args) {
        if (System.getProperty("ai.djl.offline") == null) {
            System.setProperty("ai.djl.offline", "true");
        }
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, cmd, parseResult) -> {
            if (ex instanceof NextGptException) {
                cmd.getErr().println("error: " + ex.getMessage());
                return 1;
            }
            throw ex;
        });
        return cl.execute(args);
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }
}
