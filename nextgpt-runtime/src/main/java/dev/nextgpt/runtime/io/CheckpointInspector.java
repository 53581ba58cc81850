package dev.nextgpt.runtime.io;

import com.google.gson.JsonElement;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.config.JsonConfig;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Describes a checkpoint file or folder without reading tensor data: only safetensors headers, zip directories and
 * torch pickles (which hold shapes, not values) are read.
 */
public final class CheckpointInspector {
    private CheckpointInspector() {
    }

    /** The layout of what was inspected. */
    public enum Layout {
        /** One {@code .safetensors} file. */
        SAFETENSORS,
        /** A {@code *.safetensors.index.json} and its shards. */
        SHARDED_SAFETENSORS,
        /** One torch.save zip file ({@code .bin/.pth/.pt}). */
        TORCH_ZIP,
        /** One torch.save file in the pre-1.6 non-zip format. */
        TORCH_LEGACY,
        /** A {@code pytorch_model.bin.index.json} and its shards. */
        SHARDED_TORCH,
        /** A Hugging Face model folder (config.json plus standard weight files). */
        HF_FOLDER,
        /** A diffusers pipeline folder (model_index.json plus one folder per component). */
        DIFFUSERS_PIPELINE,
        /** A NExT-GPT (legacy) delta checkpoint: {@code pytorch_model.pt} with projector/LoRA tensors. */
        NEXTGPT_DELTA
    }

    /**
     * What a checkpoint holds.
     *
     * @param path            the inspected file or folder
     * @param layout          its layout
     * @param weightFile      the file tensors are read from (an index for sharded checkpoints; null if none)
     * @param config          the config.json / model_index.json next to the weights, if any
     * @param tensorCount     number of tensors (summed over components for pipelines)
     * @param parameterCount  number of elements over all tensors
     * @param dtypeTensors    tensors per stored dtype
     * @param dtypeParameters elements per stored dtype
     * @param components      per-component summaries of a diffusers pipeline (empty otherwise)
     */
    public record Summary(Path path, Layout layout, Path weightFile, JsonConfig config, int tensorCount,
                          long parameterCount, Map<TensorDType, Integer> dtypeTensors,
                          Map<TensorDType, Long> dtypeParameters, Map<String, Summary> components) {
        /** A short text for the config (model_type, _class_name or architectures), or "no config". */
        public String configSummary() {
            return config == null ? "no config" : config.summary();
        }

        @Override
        public String toString() {
            return path + ": " + layout + ", " + tensorCount + " tensors, " + parameterCount + " parameters, dtypes "
                    + dtypeTensors + ", " + configSummary()
                    + (components.isEmpty() ? "" : ", components " + components.keySet());
        }
    }

    /** Tensor name prefixes that only a NExT-GPT delta checkpoint has. */
    private static final List<String> NEXTGPT_DELTA_PREFIXES = List.of("llama_proj.", "gen_text_hidden_fcs",
            "input_projetor.", "output_projetor", "llama_model.base_model.model.");

    /** Inspects a checkpoint file or folder. */
    public static Summary inspect(Path path) {
        if (!Files.exists(path)) {
            throw new ModelFormatException("checkpoint path " + path + " does not exist");
        }
        if (Files.isDirectory(path)) {
            return inspectFolder(path);
        }
        Summary s = inspectWeights(path, path, null, null);
        JsonConfig sibling = readConfig(path.toAbsolutePath().getParent().resolve("config.json"));
        return sibling == null ? s : withConfig(s, sibling);
    }

    private static Summary inspectFolder(Path dir) {
        Path modelIndex = dir.resolve("model_index.json");
        if (Files.isRegularFile(modelIndex)) {
            JsonConfig index = JsonConfig.read(modelIndex);
            Map<String, Summary> components = new LinkedHashMap<>();
            for (Map.Entry<String, JsonElement> e : index.json().entrySet()) {
                Path sub = dir.resolve(e.getKey());
                if (e.getValue().isJsonArray() && Files.isDirectory(sub)) {
                    components.put(e.getKey(), inspectComponent(sub));
                }
            }
            return aggregate(dir, Layout.DIFFUSERS_PIPELINE, index, components);
        }
        JsonConfig config = readConfig(dir.resolve("config.json"));
        Path delta = dir.resolve("pytorch_model.pt");
        if (Files.isRegularFile(delta)) {
            return inspectWeights(dir, delta, Layout.NEXTGPT_DELTA, config);
        }
        Path weights = Checkpoints.findInFolder(dir);
        Summary s = inspectWeights(dir, weights, null, config);
        return s.layout() == Layout.NEXTGPT_DELTA ? s : relayout(s, Layout.HF_FOLDER);
    }

    /** A pipeline component: a weights folder, or a config-only folder (scheduler, tokenizer). */
    private static Summary inspectComponent(Path sub) {
        JsonConfig config = readConfig(sub.resolve("config.json"));
        if (config == null) {
            for (String n : List.of("scheduler_config.json", "tokenizer_config.json", "preprocessor_config.json")) {
                config = config != null ? config : readConfig(sub.resolve(n));
            }
        }
        for (String n : Checkpoints.STANDARD_NAMES) {
            if (Files.isRegularFile(sub.resolve(n))) {
                return relayout(inspectWeights(sub, sub.resolve(n), null, config), Layout.HF_FOLDER);
            }
        }
        return new Summary(sub, Layout.HF_FOLDER, null, config, 0, 0, Map.of(), Map.of(), Map.of());
    }

    private static Summary inspectWeights(Path path, Path weights, Layout forced, JsonConfig config) {
        Map<TensorDType, Integer> tensors = new EnumMap<>(TensorDType.class);
        Map<TensorDType, Long> params = new EnumMap<>(TensorDType.class);
        long total = 0;
        Layout layout;
        try (TensorStore store = Checkpoints.open(weights)) {
            for (String n : store.names()) {
                TensorInfo info = store.info(n);
                tensors.merge(info.dtype(), 1, Integer::sum);
                params.merge(info.dtype(), info.numel(), Long::sum);
                total += info.numel();
            }
            layout = forced != null ? forced : layoutOf(store);
            if (forced == null && looksLikeNextGptDelta(store)) {
                layout = Layout.NEXTGPT_DELTA;
            }
            return new Summary(path, layout, weights, config, store.names().size(), total,
                    Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(params), Map.of());
        }
    }

    private static Layout layoutOf(TensorStore store) {
        if (store instanceof ShardedTensorStore sharded) {
            return sharded.shardFiles().stream().allMatch(f -> f.endsWith(".safetensors"))
                    ? Layout.SHARDED_SAFETENSORS : Layout.SHARDED_TORCH;
        }
        if (store instanceof TorchCheckpointFile t) {
            return t.format().equals("torch legacy") ? Layout.TORCH_LEGACY : Layout.TORCH_ZIP;
        }
        return Layout.SAFETENSORS;
    }

    private static boolean looksLikeNextGptDelta(TensorStore store) {
        for (String n : store.names()) {
            for (String p : NEXTGPT_DELTA_PREFIXES) {
                if (n.startsWith(p)) {
                    return true;
                }
            }
        }
        return false;
    }

    private static Summary aggregate(Path dir, Layout layout, JsonConfig config, Map<String, Summary> components) {
        Map<TensorDType, Integer> tensors = new EnumMap<>(TensorDType.class);
        Map<TensorDType, Long> params = new EnumMap<>(TensorDType.class);
        int count = 0;
        long total = 0;
        for (Summary c : components.values()) {
            c.dtypeTensors().forEach((k, v) -> tensors.merge(k, v, Integer::sum));
            c.dtypeParameters().forEach((k, v) -> params.merge(k, v, Long::sum));
            count += c.tensorCount();
            total += c.parameterCount();
        }
        return new Summary(dir, layout, null, config, count, total, Collections.unmodifiableMap(tensors),
                Collections.unmodifiableMap(params), Collections.unmodifiableMap(components));
    }

    private static Summary relayout(Summary s, Layout layout) {
        return new Summary(s.path(), layout, s.weightFile(), s.config(), s.tensorCount(), s.parameterCount(),
                s.dtypeTensors(), s.dtypeParameters(), s.components());
    }

    private static Summary withConfig(Summary s, JsonConfig config) {
        return new Summary(s.path(), s.layout(), s.weightFile(), config, s.tensorCount(), s.parameterCount(),
                s.dtypeTensors(), s.dtypeParameters(), s.components());
    }

    private static JsonConfig readConfig(Path p) {
        return Files.isRegularFile(p) ? JsonConfig.read(p) : null;
    }
}
