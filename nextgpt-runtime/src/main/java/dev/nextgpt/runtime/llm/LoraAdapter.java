package dev.nextgpt.runtime.llm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.UnsupportedConfigurationException;
import dev.nextgpt.runtime.config.JsonConfig;
import dev.nextgpt.runtime.io.Checkpoints;
import dev.nextgpt.runtime.io.TensorStore;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A vanilla LoRA adapter (peft semantics): for every target module {@code W} of shape {@code [out, in]} a pair
 * {@code A [r, in]}, {@code B [out, r]} and a scaling {@code alpha/r} ({@code alpha/sqrt(r)} with rsLoRA), so that
 * {@code y = W·x + scaling·B·(A·x)}, or merged {@code W += scaling·B@A}. Apply it with
 * {@link LlamaModel#applyLora(LoraAdapter, boolean)}.
 *
 * <p>Module names are HF module paths such as {@code model.layers.3.self_attn.q_proj}. Tensor names are accepted with
 * peft's {@code base_model.model.} prefix and with or without an adapter-name infix
 * ({@code ...q_proj.lora_A.default.weight}).
 */
public final class LoraAdapter implements AutoCloseable {
    private static final Pattern LORA_NAME =
            Pattern.compile("^(.*)\\.lora_([AB])(?:\\.([A-Za-z0-9_\\-]+))?\\.weight$");

    /** One adapted module: {@code a [r, in]}, {@code b [out, r]} (FLOAT32, CPU) and its scaling. */
    public record Module(String name, NDArray a, NDArray b, double scaling) {
        public int rank() {
            return (int) a.getShape().get(0);
        }
    }

    private final NDManager manager;
    private final Map<String, Module> modules;
    private final String source;

    private LoraAdapter(NDManager manager, Map<String, Module> modules, String source) {
        this.manager = manager;
        this.modules = Collections.unmodifiableMap(modules);
        this.source = source;
    }

    /**
     * Loads a peft adapter folder: {@code adapter_config.json} plus {@code adapter_model.safetensors} (or
     * {@code adapter_model.bin}). {@code lora_alpha}, {@code r}, {@code use_rslora}, {@code rank_pattern} and
     * {@code alpha_pattern} are honoured.
     */
    public static LoraAdapter load(Path dir) {
        JsonConfig cfg = JsonConfig.read(dir.resolve("adapter_config.json"));
        String type = cfg.getString("peft_type", "LORA");
        if (!type.equals("LORA")) {
            throw new UnsupportedConfigurationException(cfg.source() + ": peft_type '" + type
                    + "' is not supported (only LORA)");
        }
        if (cfg.getBoolean("use_dora", false)) {
            throw new UnsupportedConfigurationException(cfg.source() + ": DoRA (use_dora=true) is not supported");
        }
        if (cfg.getBoolean("fan_in_fan_out", false)) {
            throw new UnsupportedConfigurationException(cfg.source()
                    + ": fan_in_fan_out=true does not apply to LLaMA's nn.Linear layers");
        }
        String bias = cfg.getString("bias", "none");
        if (!bias.equals("none")) {
            throw new UnsupportedConfigurationException(cfg.source() + ": LoRA bias '" + bias + "' is not supported");
        }
        int r = cfg.getInt("r");
        double alpha = cfg.getDouble("lora_alpha", r);
        boolean rslora = cfg.getBoolean("use_rslora", false);
        Map<String, Double> rankPattern = numberMap(cfg, "rank_pattern");
        Map<String, Double> alphaPattern = numberMap(cfg, "alpha_pattern");
        Path weights = null;
        for (String n : new String[] {"adapter_model.safetensors", "adapter_model.bin"}) {
            if (Files.isRegularFile(dir.resolve(n))) {
                weights = dir.resolve(n);
                break;
            }
        }
        if (weights == null) {
            throw new ModelFormatException("LoRA folder " + dir
                    + " has neither adapter_model.safetensors nor adapter_model.bin");
        }
        try (TensorStore store = Checkpoints.open(weights)) {
            return fromStore(store, "", r, alpha, rslora, rankPattern, alphaPattern);
        }
    }

    /**
     * Loads LoRA A/B pairs from any tensor store: every tensor named {@code prefix + [base_model.model.] + module +
     * .lora_A[.adapter].weight} (and its {@code lora_B} twin) becomes one module. For the NExT-GPT legacy delta use
     * prefix {@code "llama_model."}.
     */
    public static LoraAdapter fromStore(TensorStore store, String prefix, int r, double alpha, boolean useRslora) {
        return fromStore(store, prefix, r, alpha, useRslora, Map.of(), Map.of());
    }

    private static LoraAdapter fromStore(TensorStore store, String prefix, int r, double alpha, boolean useRslora,
                                         Map<String, Double> rankPattern, Map<String, Double> alphaPattern) {
        Map<String, String[]> pairs = new TreeMap<>();
        for (String name : store.names()) {
            if (!name.startsWith(prefix)) {
                continue;
            }
            Matcher m = LORA_NAME.matcher(name.substring(prefix.length()));
            if (!m.matches()) {
                continue;
            }
            String module = m.group(1);
            if (module.startsWith("base_model.model.")) {
                module = module.substring("base_model.model.".length());
            }
            String[] ab = pairs.computeIfAbsent(module, k -> new String[2]);
            int slot = m.group(2).equals("A") ? 0 : 1;
            if (ab[slot] != null) {
                throw new ModelFormatException(store.source() + ": two lora_" + m.group(2) + " tensors for module "
                        + module + " (" + ab[slot] + ", " + name + "); several adapters in one file are not supported");
            }
            ab[slot] = name;
        }
        if (pairs.isEmpty()) {
            throw new ModelFormatException(store.source() + " holds no LoRA tensors (names like '" + prefix
                    + "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight')");
        }
        NDManager manager = NDManager.newBaseManager();
        try {
            Map<String, Module> modules = new TreeMap<>();
            for (Map.Entry<String, String[]> e : pairs.entrySet()) {
                String module = e.getKey();
                String[] ab = e.getValue();
                if (ab[0] == null || ab[1] == null) {
                    throw new ModelFormatException(store.source() + ": module " + module + " has only "
                            + (ab[0] != null ? ab[0] : ab[1]) + "; lora_A and lora_B are both required");
                }
                NDArray a = store.load(manager, ab[0]);
                NDArray b = store.load(manager, ab[1]);
                long[] as = a.getShape().getShape();
                long[] bs = b.getShape().getShape();
                if (as.length != 2 || bs.length != 2 || as[0] != bs[1]) {
                    throw new ModelFormatException(store.source() + ": LoRA shapes of " + module + " do not fit: "
                            + ab[0] + " " + a.getShape() + ", " + ab[1] + " " + b.getShape()
                            + " (expected A [r, in] and B [out, r])");
                }
                int rank = (int) as[0];
                double moduleAlpha = lookup(alphaPattern, module, alpha);
                int declaredRank = (int) Math.round(lookup(rankPattern, module, r));
                if (declaredRank != rank) {
                    throw new ModelFormatException(store.source() + ": " + ab[0] + " has rank " + rank
                            + " but the adapter config says r=" + declaredRank);
                }
                double scaling = useRslora ? moduleAlpha / Math.sqrt(rank) : moduleAlpha / rank;
                modules.put(module, new Module(module, a, b, scaling));
            }
            return new LoraAdapter(manager, modules, store.source().toString());
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /** peft matches pattern keys against the end of the module name. */
    private static double lookup(Map<String, Double> pattern, String module, double fallback) {
        for (Map.Entry<String, Double> e : pattern.entrySet()) {
            if (module.equals(e.getKey()) || module.endsWith("." + e.getKey())) {
                return e.getValue();
            }
        }
        return fallback;
    }

    private static Map<String, Double> numberMap(JsonConfig cfg, String key) {
        Map<String, Double> out = new TreeMap<>();
        cfg.optObject(key).ifPresent(o -> o.json().entrySet().forEach(e -> out.put(e.getKey(),
                e.getValue().getAsDouble())));
        return out;
    }

    /** Adapted modules by HF module path (e.g. {@code model.layers.0.self_attn.q_proj}). */
    public Map<String, Module> modules() {
        return modules;
    }

    /** Where the adapter was read from. */
    public String source() {
        return source;
    }

    @Override
    public void close() {
        manager.close();
    }
}
