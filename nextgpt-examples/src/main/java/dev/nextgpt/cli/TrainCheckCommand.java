package dev.nextgpt.cli;

import dev.nextgpt.InvalidInputException;
import dev.nextgpt.train.check.LegacyFixtureCase;
import dev.nextgpt.train.check.TrainCheck;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code nextgpt train-check --fixture DIR --case NAME --output OUT.safetensors}: runs one case of the legacy
 * training fixture from its raw inputs and writes batch ids, losses, projector output, dense gradients and (with an
 * optimiser file) the weights after two AdamW steps.
 */
@Command(name = "train-check", description = "Run one legacy training fixture case (losses, gradients, AdamW steps) and write the results as safetensors.")
final class TrainCheckCommand implements Callable<Integer> {

    @Option(names = "--fixture", required = true, paramLabel = "DIR", description = "the nextgpt-train fixture folder (cases.json, weights/, tokenizer/)")
    Path fixture;

    @Option(names = "--case", required = true, paramLabel = "NAME", description = "case name, e.g. s2_image")
    String caseName;

    @Option(names = "--output", required = true, paramLabel = "OUT", description = "output .safetensors file")
    Path output;

    @Option(names = "--tokenizer-json", paramLabel = "FILE", description = "base tokenizer.json (default: found next to the fixture)")
    Path tokenizerJson;

    @Override
    public Integer call() {
        Path tok = tokenizerJson != null ? tokenizerJson : LegacyFixtureCase.findTokenizerJson(fixture)
                .orElseThrow(() -> new InvalidInputException("no base tokenizer.json found next to " + fixture
                        + " (looked in tokenizer/, ../nextgpt-train-extra/, ../llama/); pass --tokenizer-json"));
        TrainCheck.Summary s = TrainCheck.run(LegacyFixtureCase.load(fixture, caseName, tok), output);
        System.out.printf("case %s (stage %d): loss.total %.6f, loss.ce %.6f, loss.l2 %s; %d trainable tensors, "
                        + "%d with gradient%s%nwrote %s%n", s.caseName(), s.stage(), s.total(), s.ce(),
                Double.isNaN(s.l2()) ? "-" : String.format("%.6f", s.l2()), s.trainable(), s.withGradient(),
                s.gradNormsBeforeClip().isEmpty() ? "" : "; grad norms before clip " + s.gradNormsBeforeClip(),
                output);
        return 0;
    }
}
