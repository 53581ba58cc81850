package dev.nextgpt.runtime.io;

import dev.nextgpt.ModelFormatException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/** Opens any supported checkpoint (file or HF folder) as a {@link TensorStore}. */
public final class Checkpoints {
    private Checkpoints() {
    }

    /**
     * Opens {@code path}: a {@code .safetensors} file, a {@code *.index.json} of a sharded checkpoint, a torch pickle
     * file ({@code .bin}, {@code .pth}, {@code .pt}, {@code .ckpt}) or a folder holding one of the HF standard names
     * ({@code model.safetensors}, {@code model.safetensors.index.json}, {@code diffusion_pytorch_model.safetensors},
     * {@code pytorch_model.bin}, ...).
     */
    public static TensorStore open(Path path) {
        if (!Files.exists(path)) {
            throw new ModelFormatException("checkpoint path " + path + " does not exist");
        }
        if (Files.isDirectory(path)) {
            return open(findInFolder(path));
        }
        String name = path.getFileName().toString();
        if (name.endsWith(".index.json")) {
            return ShardedTensorStore.open(path, Checkpoints::openFile);
        }
        return openFile(path);
    }

    private static TensorStore openFile(Path file) {
        if (SafetensorsFile.looksLikeSafetensors(file)) {
            return SafetensorsFile.open(file);
        }
        if (TorchPickleFormat.looksLikeTorchZip(file) || TorchPickleFormat.looksLikeLegacyTorch(file)) {
            return TorchPickleFormat.open(file);
        }
        throw new ModelFormatException(file + " is neither a safetensors file nor a torch.save checkpoint");
    }

    /** Standard weight file names, in order of preference. */
    public static final List<String> STANDARD_NAMES = List.of(
            "model.safetensors.index.json", "model.safetensors",
            "diffusion_pytorch_model.safetensors.index.json", "diffusion_pytorch_model.safetensors",
            "pytorch_model.bin.index.json", "pytorch_model.bin",
            "diffusion_pytorch_model.bin.index.json", "diffusion_pytorch_model.bin",
            "adapter_model.safetensors", "adapter_model.bin",
            "pytorch_model.pt"); // NExT-GPT delta checkpoints (DeepSpeedAgent.save_model)

    /** Finds the weight file of an HF / diffusers folder. */
    public static Path findInFolder(Path dir) {
        for (String n : STANDARD_NAMES) {
            Path p = dir.resolve(n);
            if (Files.isRegularFile(p)) {
                return p;
            }
        }
        try (Stream<Path> s = Files.list(dir)) {
            List<Path> candidates = s.filter(p -> {
                String n = p.getFileName().toString();
                return n.endsWith(".safetensors") || n.endsWith(".pth") || n.endsWith(".pt") || n.endsWith(".bin");
            }).sorted().toList();
            if (candidates.size() == 1) {
                return candidates.get(0);
            }
            throw new ModelFormatException("folder " + dir + " has no standard weight file (looked for "
                    + STANDARD_NAMES + ")" + (candidates.isEmpty() ? "" : "; candidates: " + candidates));
        } catch (IOException e) {
            throw new ModelFormatException("cannot list checkpoint folder " + dir + ": " + e.getMessage(), e);
        }
    }
}
