package dev.nextgpt.cli;

import dev.nextgpt.InvalidInputException;
import dev.nextgpt.train.trainer.NextGptTrainer;
import dev.nextgpt.train.trainer.TrainingConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code nextgpt train --stage N --config FILE}: trains one legacy NExT-GPT stage (see docs/training.md). */
@Command(name = "train", description = "Train one legacy NExT-GPT stage (1, 2 or 3) from a JSON config (docs/training.md).")
final class TrainCommand implements Callable<Integer> {

    @Option(names = "--stage", required = true, paramLabel = "N", description = "1 (encoder alignment), 2 (decoder alignment), 3 (instruction tuning)")
    int stage;

    @Option(names = "--config", required = true, paramLabel = "FILE", description = "JSON training config")
    Path config;

    @Override
    public Integer call() {
        if (stage < 1 || stage > 3) {
            throw new InvalidInputException("--stage must be 1, 2 or 3, not " + stage);
        }
        try (TrainingConfig.Setup setup = TrainingConfig.load(config, stage, System.out::println)) {
            NextGptTrainer.Summary s = setup.trainer().train();
            System.out.printf("done: %d steps, loss %.4f -> %.4f%s%s%n", s.steps(), s.firstLoss(), s.lastLoss(),
                    s.stoppedOnNaN() ? " (stopped on a non-finite loss)" : "",
                    s.lastCheckpoint() == null ? "" : ", last checkpoint " + s.lastCheckpoint());
            return s.stoppedOnNaN() ? 1 : 0;
        }
    }
}
