package dev.nextgpt.cli;

import dev.nextgpt.train.trainer.SampleSystem;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code nextgpt sample-system --llama DIR --feature-dim D --out DIR}: writes a small random legacy training system
 * around a Hugging Face LLaMA folder, with output projectors sized for the original sample data's caption embeddings
 * (image/video {@code [77, 1024]}, audio {@code [512]}); see docs/training.md, "Training on the sample data".
 */
@Command(name = "sample-system", description = "Write a small random legacy NExT-GPT training system (LLaMA + 38 legacy "
        + "tokens, llama_proj, projectors for the sample data's caption embeddings) for nextgpt train.")
final class SampleSystemCommand implements Callable<Integer> {

    @Option(names = "--llama", required = true, paramLabel = "DIR",
            description = "Hugging Face LLaMA folder (config.json, tokenizer.json, model.safetensors)")
    Path llama;

    @Option(names = "--feature-dim", defaultValue = "1024", paramLabel = "D",
            description = "ImageBind output width, the input of llama_proj (default ${DEFAULT-VALUE})")
    int featureDim;

    @Option(names = "--seed", defaultValue = "7", description = "random seed (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "output folder")
    Path out;

    @Override
    public Integer call() {
        SampleSystem.Written w = SampleSystem.write(llama, SampleSystem.Spec.forSampleData(featureDim), out, seed);
        System.out.println("wrote " + w.weights() + ", " + w.config() + ", " + w.tokenizer() + ", " + w.addedTokens());
        return 0;
    }
}
