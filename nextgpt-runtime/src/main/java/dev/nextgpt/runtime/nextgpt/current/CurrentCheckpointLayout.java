package dev.nextgpt.runtime.nextgpt.current;

import dev.nextgpt.ModelFormatException;
import dev.nextgpt.NextGptException;
import dev.nextgpt.runtime.config.JsonConfig;
import dev.nextgpt.runtime.io.Checkpoints;
import dev.nextgpt.runtime.io.CompositeTensorStore;
import dev.nextgpt.runtime.io.PrefixedTensorStore;
import dev.nextgpt.runtime.io.TensorStore;
import dev.nextgpt.runtime.nextgpt.InputProjectors;
import dev.nextgpt.runtime.nextgpt.Modality;
import dev.nextgpt.runtime.nextgpt.ParameterAudit;
import dev.nextgpt.runtime.nextgpt.TransformerOutputProjector;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The named parts of a current-version checkpoint (reference §7.2), each as a tensor store with names relative to
 * the part:
 * <ul>
 *   <li>{@link #llm()}: HF LLaMA names ({@code model.embed_tokens.weight}, {@code model.layers.*},
 *       {@code model.norm.weight}, {@code lm_head.weight});</li>
 *   <li>{@link #inputProjector()} ({@code model.mm_input_projector.*}) with its type from the config's
 *       {@code mm_input_projector_type} or inferred from the keys;</li>
 *   <li>{@link #outputProjector(Modality)} ({@code model.mm_output_{img,vid,aud}_projector.*});</li>
 *   <li>{@link #imagebind()} ({@code model.multimodal_tower.multimodal_tower.*}, ImageBind state-dict names).</li>
 * </ul>
 * Three layouts are read: a full HF folder ({@link #openFull}), a base LLM plus adapter-only files
 * ({@link #fromAdapterFiles}, the keyword-suffix rule {@code k.split(keyword + ".")[1]} for every key containing the
 * keyword), and a LoRA run ({@link #fromLoraRun}: {@code non_lora_trainables} with a leading {@code base_model.}
 * stripped, then one leading {@code model.} if any key starts with {@code model.model.}, laid over the base; the peft
 * adapter in the run folder). {@link #problems()} lists missing parts and incomplete projectors.
 */
public final class CurrentCheckpointLayout implements AutoCloseable {

    public static final String INPUT_PROJECTOR_KEY = "mm_input_projector";
    public static final String TOWER_PREFIX = "model.multimodal_tower.multimodal_tower.";

    /** {@code mm_output_img_projector} etc. */
    public static String outputProjectorKey(Modality m) {
        return "mm_output_" + m.shortKey() + "_projector";
    }

    private final TensorStore all;
    private final List<TensorStore> owned;
    private final JsonConfig config;
    private final TensorStore llm;
    private final TensorStore inputProjector;
    private final String inputProjectorType;
    private final Map<Modality, TensorStore> outputProjectors;
    private final TensorStore imagebind;
    private final Path loraDir;
    private final List<String> problems;

    private CurrentCheckpointLayout(TensorStore all, List<TensorStore> owned, JsonConfig config, Path loraDir) {
        this.all = all;
        this.owned = owned;
        this.config = config;
        this.loraDir = loraDir;
        List<String> p = new ArrayList<>();
        Map<String, String> llmNames = new LinkedHashMap<>();
        for (String n : all.names()) {
            if (n.startsWith("lm_head.") || (n.startsWith("model.") && !n.startsWith("model.mm_")
                    && !n.startsWith("model.multimodal_tower."))) {
                llmNames.put(n, n);
            }
        }
        this.llm = new RenamedTensorStore(all, llmNames, "LLM weights");
        for (String req : List.of("model.embed_tokens.weight", "model.norm.weight", "model.layers.0.")) {
            boolean present = req.endsWith(".") ? llm.names().stream().anyMatch(n -> n.startsWith(req))
                    : llm.contains(req);
            if (!present) {
                p.add("LLM: " + req + (req.endsWith(".") ? "*" : "") + " missing");
            }
        }
        if (!llm.contains("lm_head.weight") && (config == null || !config.getBoolean("tie_word_embeddings", false))) {
            p.add("LLM: lm_head.weight missing (and tie_word_embeddings is not set)");
        }
        this.inputProjector = new PrefixedTensorStore(all, "model." + INPUT_PROJECTOR_KEY + ".", false);
        String type = config == null ? null : config.optString("mm_input_projector_type").orElse(null);
        if (inputProjector.names().isEmpty()) {
            if (!"identity".equals(type)) {
                p.add("input projector: no model." + INPUT_PROJECTOR_KEY + ".* tensors");
            }
        } else {
            String detected = null;
            try {
                detected = InputProjectors.detectType(inputProjector, "");
            } catch (NextGptException e) {
                p.add("input projector: " + e.getMessage());
            }
            if (type == null) {
                type = detected;
            } else if (detected != null && !detected.equals(type)) {
                p.add("input projector: config says mm_input_projector_type '" + type + "' but the weights look like '"
                        + detected + "'");
            }
        }
        this.inputProjectorType = type;
        this.outputProjectors = new EnumMap<>(Modality.class);
        for (Modality m : Modality.values()) {
            TensorStore s = new PrefixedTensorStore(all, "model." + outputProjectorKey(m) + ".", false);
            outputProjectors.put(m, s);
            if (s.names().isEmpty()) {
                p.add(m + " output projector: no model." + outputProjectorKey(m) + ".* tensors");
            } else {
                p.addAll(auditTransformer(m, s));
            }
        }
        this.imagebind = new PrefixedTensorStore(all, TOWER_PREFIX, false);
        if (imagebind.names().isEmpty()) {
            p.add("ImageBind: no " + TOWER_PREFIX + "* tensors (load imagebind_huge.pth separately)");
        }
        this.problems = List.copyOf(p);
    }

    private static List<String> auditTransformer(Modality m, TensorStore s) {
        List<String> out = new ArrayList<>();
        try {
            long[] in = s.info("in_fc.weight").shape();
            long[] o = s.info("out_fc.weight").shape();
            long[] q = s.info("query_embs").shape();
            int enc = countIndexed(s, "tfm.encoder.layers.");
            int dec = countIndexed(s, "tfm.decoder.layers.");
            long ff = s.info("tfm.encoder.layers.0.linear1.weight").shape()[0];
            ParameterAudit audit = new ParameterAudit(ParameterAudit.transformerProjector(m.name(), "",
                    TransformerOutputProjector.Naming.CURRENT, in[1], in[0], o[0], q[1], enc, dec, ff));
            ParameterAudit.Report r = audit.audit(s);
            r.findings().forEach(f -> out.add(m + " output projector: " + f));
        } catch (NextGptException | ArrayIndexOutOfBoundsException e) {
            out.add(m + " output projector (transformer type expected): " + e.getMessage());
        }
        return out;
    }

    private static int countIndexed(TensorStore s, String prefix) {
        int n = 0;
        while (true) {
            String p = prefix + n + ".";
            if (s.names().stream().noneMatch(x -> x.startsWith(p))) {
                return n;
            }
            n++;
        }
    }

    /**
     * A full current checkpoint folder: {@code config.json} with {@code model_type: "nextgpt_llama"} and its weights
     * (any format {@link Checkpoints#open} reads).
     */
    public static CurrentCheckpointLayout openFull(Path dir) {
        Path cfgPath = dir.resolve("config.json");
        if (!Files.isRegularFile(cfgPath)) {
            throw new ModelFormatException("no config.json in " + dir);
        }
        JsonConfig cfg = JsonConfig.read(cfgPath);
        String type = cfg.getString("model_type", "");
        if (!"nextgpt_llama".equals(type)) {
            throw new ModelFormatException(cfgPath + ": model_type is '" + type + "', expected 'nextgpt_llama' (a "
                    + "current NExT-GPT checkpoint)");
        }
        TensorStore store = Checkpoints.open(dir);
        return new CurrentCheckpointLayout(store, List.of(store), cfg, null);
    }

    /** The parts of an already open store holding full current key names ({@code config} may be null). */
    public static CurrentCheckpointLayout of(TensorStore store, JsonConfig config) {
        return new CurrentCheckpointLayout(store, List.of(), config, null);
    }

    /**
     * The keyword-suffix rule of the adapter loaders: the tensors of {@code file} whose name contains
     * {@code keyword}, renamed to the part after the first {@code keyword + "."} (up to a second occurrence, as
     * Python's {@code split(...)[1]}). A name containing the keyword but not {@code keyword + "."} is an error (the
     * original raises IndexError).
     */
    public static RenamedTensorStore keywordSuffix(TensorStore file, String keyword) {
        Map<String, String> names = new LinkedHashMap<>();
        String sep = keyword + ".";
        for (String n : file.names()) {
            if (!n.contains(keyword)) {
                continue;
            }
            String[] parts = CurrentPromptBuilder.split(n, sep);
            if (parts.length < 2) {
                throw new ModelFormatException("tensor '" + n + "' in " + file.source() + " contains '" + keyword
                        + "' but not '" + sep + "'; the adapter loader cannot name it");
            }
            String prev = names.put(parts[1], n);
            if (prev != null) {
                throw new ModelFormatException("tensors '" + prev + "' and '" + n + "' in " + file.source()
                        + " both map to '" + parts[1] + "' under keyword '" + keyword + "'");
            }
        }
        return new RenamedTensorStore(file, names, keyword + " adapter weights");
    }

    /**
     * A base model (full current key names, e.g. a {@code nextgpt_llama} folder built from Vicuna, or any store
     * with the LLM and tower keys) plus adapter-only files: {@code inputAdapter} ({@code mm_input_projector.bin}) and
     * {@code outputAdapter} ({@code mm_output_projector.bin}), either may be null. Their projector tensors are laid
     * over the base under {@code model.<keyword>.<suffix>}. The files' {@code model.embed_tokens.weight} rows are not
     * applied here (see {@link CurrentSignalTokens#resizedEmbeddings}). The stores stay owned by the caller.
     */
    public static CurrentCheckpointLayout fromAdapterFiles(TensorStore base, JsonConfig config, TensorStore inputAdapter,
                                                           TensorStore outputAdapter) {
        List<TensorStore> layers = new ArrayList<>();
        layers.add(base);
        if (inputAdapter != null) {
            layers.add(prefixed(keywordSuffix(inputAdapter, INPUT_PROJECTOR_KEY), "model." + INPUT_PROJECTOR_KEY + "."));
        }
        if (outputAdapter != null) {
            for (Modality m : Modality.values()) {
                RenamedTensorStore s = keywordSuffix(outputAdapter, outputProjectorKey(m));
                if (!s.names().isEmpty()) {
                    layers.add(prefixed(s, "model." + outputProjectorKey(m) + "."));
                }
            }
        }
        CompositeTensorStore merged = CompositeTensorStore.overriding(layers);
        return new CurrentCheckpointLayout(merged, List.of(), config, null);
    }

    /**
     * A LoRA run folder: {@code non_lora_trainables.bin} (or {@code .safetensors}) with the prefix-stripping rules,
     * laid over {@code base}; the folder's peft adapter is reported by {@link #loraDir()}.
     */
    public static CurrentCheckpointLayout fromLoraRun(TensorStore base, JsonConfig config, Path runDir) {
        Path f = runDir.resolve("non_lora_trainables.bin");
        if (!Files.isRegularFile(f)) {
            f = runDir.resolve("non_lora_trainables.safetensors");
        }
        if (!Files.isRegularFile(f)) {
            throw new ModelFormatException("LoRA run folder " + runDir + " has no non_lora_trainables.bin");
        }
        TensorStore trainables = Checkpoints.open(f);
        try {
            RenamedTensorStore stripped = new RenamedTensorStore(trainables, stripLoraRunPrefixes(trainables.names()),
                    "non_lora_trainables (prefixes stripped)");
            CompositeTensorStore merged = CompositeTensorStore.overriding(List.of(base, stripped));
            Path lora = Files.isRegularFile(runDir.resolve("adapter_config.json")) ? runDir : null;
            return new CurrentCheckpointLayout(merged, List.of(trainables), config, lora);
        } catch (RuntimeException e) {
            trainables.close();
            throw e;
        }
    }

    /**
     * {@code builder.py}: strip a leading {@code base_model.} from every key; then, if any key starts with
     * {@code model.model.}, strip one leading {@code model.} from every key that has it. Returns new → old names.
     */
    public static Map<String, String> stripLoraRunPrefixes(Iterable<String> names) {
        Map<String, String> step1 = new LinkedHashMap<>();
        for (String n : names) {
            step1.put(n.startsWith("base_model.") ? n.substring("base_model.".length()) : n, n);
        }
        boolean nested = step1.keySet().stream().anyMatch(n -> n.startsWith("model.model."));
        if (!nested) {
            return step1;
        }
        Map<String, String> step2 = new LinkedHashMap<>();
        step1.forEach((k, v) -> step2.put(k.startsWith("model.") ? k.substring("model.".length()) : k, v));
        return step2;
    }

    private static TensorStore prefixed(TensorStore s, String prefix) {
        Map<String, String> names = new LinkedHashMap<>();
        for (String n : s.names()) {
            names.put(prefix + n, n);
        }
        return new RenamedTensorStore(s, names, "prefixed " + prefix);
    }

    /** Every tensor with full current names (LLM, projectors, tower). */
    public TensorStore all() {
        return all;
    }

    public Optional<JsonConfig> config() {
        return Optional.ofNullable(config);
    }

    /**
     * The LLaMA part of a {@code nextgpt_llama} config ({@code NextGPTConfig} extends {@code LlamaConfig}): the same
     * keys read with {@code model_type} taken as {@code llama}.
     */
    public dev.nextgpt.runtime.llm.LlamaConfig llamaConfig() {
        if (config == null) {
            throw new ModelFormatException("no config.json for the LLM of " + all.source());
        }
        com.google.gson.JsonObject o = config.json().deepCopy();
        o.addProperty("model_type", "llama");
        Optional<JsonConfig> generation = Optional.empty();
        Path gen = config.source() == null || config.source().getParent() == null ? null
                : config.source().getParent().resolve("generation_config.json");
        if (gen != null && Files.isRegularFile(gen)) {
            generation = Optional.of(JsonConfig.read(gen));
        }
        return dev.nextgpt.runtime.llm.LlamaConfig.parse(new JsonConfig(config.source(), o), generation);
    }

    public TensorStore llm() {
        return llm;
    }

    public TensorStore inputProjector() {
        return inputProjector;
    }

    /** {@code mm_input_projector_type} from the config, else inferred from the keys; null if neither. */
    public String inputProjectorType() {
        return inputProjectorType;
    }

    public TensorStore outputProjector(Modality m) {
        return outputProjectors.get(m);
    }

    public boolean hasOutputProjector(Modality m) {
        return !outputProjectors.get(m).names().isEmpty();
    }

    public Optional<TensorStore> imagebind() {
        return imagebind.names().isEmpty() ? Optional.empty() : Optional.of(imagebind);
    }

    /** The peft adapter folder of a LoRA run, if any. */
    public Optional<Path> loraDir() {
        return Optional.ofNullable(loraDir);
    }

    /** Missing parts, incomplete or mis-shaped projectors (empty when complete). */
    public List<String> problems() {
        return problems;
    }

    /** Fails listing every problem. */
    public void requireComplete() {
        if (!problems.isEmpty()) {
            throw new ModelFormatException("current NExT-GPT checkpoint " + all.source() + " is incomplete:\n  "
                    + String.join("\n  ", problems));
        }
    }

    @Override
    public void close() {
        for (TensorStore s : owned) {
            s.close();
        }
    }
}
