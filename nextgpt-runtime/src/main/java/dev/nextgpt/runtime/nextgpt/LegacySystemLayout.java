package dev.nextgpt.runtime.nextgpt;

import dev.nextgpt.ModelFormatException;
import dev.nextgpt.NextGptException;
import dev.nextgpt.runtime.config.JsonConfig;
import dev.nextgpt.runtime.io.Checkpoints;
import dev.nextgpt.runtime.io.TensorStore;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Recognises a NExT-GPT system on disk and reports what is present and missing before any large tensor is read
 * (weight files are opened for their headers only).
 * <ul>
 *   <li>{@link Kind#LEGACY}: the original layout, relative to the root: {@code nextgpt_config.json} (optional summary),
 *       {@code ckpt/delta_ckpt/nextgpt/<name>/} ({@code pytorch_model.pt} or its safetensors twin, {@code config.json},
 *       tokenizer), {@code ckpt/pretrained_ckpt/vicuna_ckpt/7b_v0/} (HF LLaMA folder),
 *       {@code ckpt/pretrained_ckpt/imagebind_ckpt/huge/imagebind_huge.pth}, and {@code sd/} (image decoder);</li>
 *   <li>{@link Kind#CURRENT}: an HF folder whose {@code config.json} has {@code model_type: "nextgpt_llama"}
 *       (reference §7.2), with its weights, tokenizer and the decoder ids named in the config.</li>
 * </ul>
 */
public final class LegacySystemLayout {

    public enum Kind { LEGACY, CURRENT }

    /** Role names of the items. */
    public static final String SUMMARY_CONFIG = "nextgpt_config";
    public static final String DELTA_WEIGHTS = "delta_weights";
    public static final String DELTA_CONFIG = "delta_config";
    public static final String DELTA_TOKENIZER = "delta_tokenizer";
    public static final String LLM_FOLDER = "vicuna";
    public static final String LLM_CONFIG = "vicuna_config";
    public static final String LLM_WEIGHTS = "vicuna_weights";
    public static final String IMAGEBIND = "imagebind";
    public static final String IMAGE_DECODER = "image_decoder";
    public static final String VIDEO_DECODER = "video_decoder";
    public static final String AUDIO_DECODER = "audio_decoder";
    public static final String CONFIG = "config";
    public static final String WEIGHTS = "weights";
    public static final String TOKENIZER = "tokenizer";

    public static final String DELTA_ROOT = "ckpt/delta_ckpt/nextgpt";
    public static final String DEFAULT_DELTA_NAME = "7b_tiva_v0";
    public static final String VICUNA_DIR = "ckpt/pretrained_ckpt/vicuna_ckpt/7b_v0";
    public static final String IMAGEBIND_FILE = "ckpt/pretrained_ckpt/imagebind_ckpt/huge/imagebind_huge.pth";
    public static final String SD_DIR = "sd";

    /**
     * One file or folder of the system. {@code header} summarises the weight file header when it was readable
     * (tensor count, parameter count), or says why not.
     */
    public record Item(String role, Path path, boolean required, boolean present, String header) {
        @Override
        public String toString() {
            return (present ? "present " : required ? "MISSING " : "absent  ") + role + " " + path
                    + (header == null ? "" : " (" + header + ")");
        }
    }

    private final Path root;
    private final Kind kind;
    private final Map<String, Item> items;

    private LegacySystemLayout(Path root, Kind kind, Map<String, Item> items) {
        this.root = root;
        this.kind = kind;
        this.items = items;
    }

    /** Inspects {@code root}; never reads tensor data. */
    public static LegacySystemLayout inspect(Path root) {
        if (!Files.isDirectory(root)) {
            throw new ModelFormatException("NExT-GPT system folder " + root + " does not exist or is not a folder");
        }
        Path cfg = root.resolve("config.json");
        if (Files.isRegularFile(cfg) && isCurrentConfig(cfg)) {
            return inspectCurrent(root, cfg);
        }
        return inspectLegacy(root);
    }

    private static boolean isCurrentConfig(Path cfg) {
        try {
            return "nextgpt_llama".equals(JsonConfig.read(cfg).getString("model_type", ""));
        } catch (NextGptException e) {
            return false;
        }
    }

    private static LegacySystemLayout inspectLegacy(Path root) {
        Map<String, Item> items = new LinkedHashMap<>();
        file(items, SUMMARY_CONFIG, root.resolve("nextgpt_config.json"), false);
        Path delta = findDeltaFolder(root);
        Path deltaWeights = Files.isRegularFile(delta.resolve("pytorch_model.pt")) ? delta.resolve("pytorch_model.pt")
                : delta.resolve("pytorch_model.safetensors");
        weights(items, DELTA_WEIGHTS, deltaWeights, true, delta.resolve("pytorch_model.safetensors"));
        file(items, DELTA_CONFIG, delta.resolve("config.json"), true);
        tokenizer(items, DELTA_TOKENIZER, delta, true);
        Path vicuna = root.resolve(VICUNA_DIR);
        items.put(LLM_FOLDER, new Item(LLM_FOLDER, vicuna, true, Files.isDirectory(vicuna), null));
        file(items, LLM_CONFIG, vicuna.resolve("config.json"), true);
        Path vw = Files.isDirectory(vicuna) ? findWeights(vicuna) : vicuna.resolve("pytorch_model.bin");
        weights(items, LLM_WEIGHTS, vw, true, vicuna.resolve("model.safetensors"));
        weights(items, IMAGEBIND, root.resolve(IMAGEBIND_FILE), true, null);
        Path sd = root.resolve(SD_DIR);
        boolean sdOk = Files.isRegularFile(sd.resolve("model_index.json"));
        items.put(IMAGE_DECODER, new Item(IMAGE_DECODER, sd, false, sdOk, sdOk ? null
                : "no model_index.json; the legacy code loads runwayml/stable-diffusion-v1-5"));
        items.put(VIDEO_DECODER, new Item(VIDEO_DECODER, root.resolve("video_diffusion"), false,
                Files.isRegularFile(root.resolve("video_diffusion/model_index.json")),
                "legacy default cerspense/zeroscope_v2_576w"));
        items.put(AUDIO_DECODER, new Item(AUDIO_DECODER, root.resolve("audio_diffusion"), false,
                Files.isRegularFile(root.resolve("audio_diffusion/model_index.json")),
                "legacy default cvssp/audioldm-l-full"));
        return new LegacySystemLayout(root, Kind.LEGACY, items);
    }

    private static LegacySystemLayout inspectCurrent(Path root, Path cfg) {
        Map<String, Item> items = new LinkedHashMap<>();
        file(items, CONFIG, cfg, true);
        weights(items, WEIGHTS, findWeights(root), true, null);
        tokenizer(items, TOKENIZER, root, true);
        JsonConfig c = JsonConfig.read(cfg);
        for (String[] d : new String[][] {{IMAGE_DECODER, "image_decoder"}, {VIDEO_DECODER, "video_decoder"},
                {AUDIO_DECODER, "audio_decoder"}, {IMAGEBIND, "multimodal_input_tower"}}) {
            Optional<String> v = c.optString(d[1]);
            if (v.isEmpty()) {
                continue;
            }
            Path p = root.resolve(v.get());
            boolean local = Files.exists(p);
            items.put(d[0], new Item(d[0], p, false, local, local ? null : "config names '" + v.get()
                    + "', not found locally (hub id?)"));
        }
        return new LegacySystemLayout(root, Kind.CURRENT, items);
    }

    private static Path findDeltaFolder(Path root) {
        Path base = root.resolve(DELTA_ROOT);
        Path def = base.resolve(DEFAULT_DELTA_NAME);
        if (Files.isDirectory(def) || !Files.isDirectory(base)) {
            return def;
        }
        try (Stream<Path> s = Files.list(base)) {
            List<Path> dirs = s.filter(Files::isDirectory).sorted().toList();
            return dirs.size() == 1 ? dirs.get(0) : def;
        } catch (IOException e) {
            return def;
        }
    }

    private static Path findWeights(Path dir) {
        try {
            return Checkpoints.findInFolder(dir);
        } catch (NextGptException e) {
            return dir.resolve("pytorch_model.bin");
        }
    }

    private static void file(Map<String, Item> items, String role, Path p, boolean required) {
        items.put(role, new Item(role, p, required, Files.isRegularFile(p), null));
    }

    private static void tokenizer(Map<String, Item> items, String role, Path dir, boolean required) {
        Path json = dir.resolve("tokenizer.json");
        Path sp = dir.resolve("tokenizer.model");
        Path p = Files.isRegularFile(json) ? json : sp;
        items.put(role, new Item(role, p, required, Files.isRegularFile(p), Files.isRegularFile(json) ? null
                : Files.isRegularFile(sp) ? "SentencePiece model only (no tokenizer.json)" : null));
    }

    /** Adds a weight file item, reading only its header; {@code twin} is a safetensors copy used if needed. */
    private static void weights(Map<String, Item> items, String role, Path p, boolean required, Path twin) {
        if (!Files.isRegularFile(p)) {
            items.put(role, new Item(role, p, required, false, null));
            return;
        }
        items.put(role, new Item(role, p, required, true, headerSummary(p, twin)));
    }

    private static String headerSummary(Path p, Path twin) {
        try (TensorStore s = Checkpoints.open(p)) {
            return s.names().size() + " tensors, " + s.parameterCount() + " parameters";
        } catch (NextGptException e) {
            if (twin != null && !twin.equals(p) && Files.isRegularFile(twin)) {
                return "header not readable (" + e.getMessage() + "); safetensors twin " + twin.getFileName()
                        + ": " + headerSummary(twin, null);
            }
            return "header not readable: " + e.getMessage();
        }
    }

    public Path root() {
        return root;
    }

    public Kind kind() {
        return kind;
    }

    public List<Item> items() {
        return List.copyOf(items.values());
    }

    public Optional<Item> item(String role) {
        return Optional.ofNullable(items.get(role));
    }

    /** Path of a present item. */
    public Optional<Path> path(String role) {
        Item i = items.get(role);
        return i != null && i.present() ? Optional.of(i.path()) : Optional.empty();
    }

    public List<Item> present() {
        return items.values().stream().filter(Item::present).toList();
    }

    /** Required items that are absent. */
    public List<Item> missing() {
        return items.values().stream().filter(i -> i.required() && !i.present()).toList();
    }

    /**
     * The delta checkpoint as a tensor store: the original {@code pytorch_model.pt} if this build can read it,
     * otherwise its {@code pytorch_model.safetensors} twin.
     */
    public TensorStore openDelta() {
        requireLegacy();
        Item w = items.get(DELTA_WEIGHTS);
        Path twin = w.path().resolveSibling("pytorch_model.safetensors");
        if (w.present()) {
            try {
                return Checkpoints.open(w.path());
            } catch (NextGptException e) {
                if (!Files.isRegularFile(twin)) {
                    throw e;
                }
            }
        }
        if (Files.isRegularFile(twin)) {
            return Checkpoints.open(twin);
        }
        throw new ModelFormatException("legacy delta checkpoint missing: " + w.path());
    }

    /** The {@link ParameterAudit.LegacyDims} of this system, from the delta {@code config.json} and the real defaults. */
    public ParameterAudit.LegacyDims legacyDims(ParameterAudit.LegacyDims defaults) {
        requireLegacy();
        Path cfg = path(DELTA_CONFIG).orElseThrow(() -> new ModelFormatException("legacy delta config.json missing: "
                + items.get(DELTA_CONFIG).path()));
        JsonConfig c = JsonConfig.read(cfg);
        return defaults.withLlm(c.getInt("hidden_size"), c.getInt("num_hidden_layers"), c.getInt("vocab_size"));
    }

    private void requireLegacy() {
        if (kind != Kind.LEGACY) {
            throw new ModelFormatException(root + " is a current (nextgpt_llama) system, not the legacy layout");
        }
    }

    /** Fails listing every missing required item (optional roles named in {@code alsoRequired} are added). */
    public void requireComplete(Set<String> alsoRequired) {
        List<Item> bad = new ArrayList<>(missing());
        for (String r : alsoRequired) {
            Item i = items.get(r);
            if (i == null) {
                throw new ModelFormatException("unknown system item '" + r + "'; known: " + items.keySet());
            }
            if (!i.present() && !i.required()) {
                bad.add(i);
            }
        }
        if (!bad.isEmpty()) {
            StringBuilder sb = new StringBuilder("NExT-GPT " + kind.name().toLowerCase() + " system at " + root
                    + " is incomplete (" + bad.size() + " missing):");
            bad.forEach(i -> sb.append("\n  ").append(i.role()).append(": ").append(i.path())
                    .append(i.header() == null ? "" : " (" + i.header() + ")"));
            throw new ModelFormatException(sb.toString());
        }
    }

    /** Human-readable report, one line per item. */
    public String report() {
        StringBuilder sb = new StringBuilder("NExT-GPT " + kind.name().toLowerCase() + " system at " + root);
        items.values().forEach(i -> sb.append("\n  ").append(i));
        return sb.toString();
    }
}
