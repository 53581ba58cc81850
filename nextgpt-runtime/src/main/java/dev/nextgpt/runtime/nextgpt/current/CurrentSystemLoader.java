package dev.nextgpt.runtime.nextgpt.current;

import dev.nextgpt.runtime.nextgpt.InMemoryTensorStore;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.UnsupportedConfigurationException;
import dev.nextgpt.runtime.clip.ClipBpeTokenizer;
import dev.nextgpt.runtime.cliptext.ClipTextModel;
import dev.nextgpt.runtime.config.JsonConfig;
import dev.nextgpt.runtime.diffusion.AutoencoderKL;
import dev.nextgpt.runtime.diffusion.UNet2DCondition;
import dev.nextgpt.runtime.diffusion.scheduler.SchedulerConfig;
import dev.nextgpt.runtime.imagebind.ImageBindConfig;
import dev.nextgpt.runtime.imagebind.ImageBindModel;
import dev.nextgpt.runtime.io.Checkpoints;
import dev.nextgpt.runtime.io.CompositeTensorStore;
import dev.nextgpt.runtime.io.TensorInfo;
import dev.nextgpt.runtime.io.TensorStore;
import dev.nextgpt.runtime.llm.LlamaConfig;
import dev.nextgpt.runtime.llm.LlamaModel;
import dev.nextgpt.runtime.llm.LlamaTokenizer;
import dev.nextgpt.runtime.llm.LoraAdapter;
import dev.nextgpt.runtime.nextgpt.DimsValidator;
import dev.nextgpt.runtime.nextgpt.InputProjector;
import dev.nextgpt.runtime.nextgpt.InputProjectors;
import dev.nextgpt.runtime.nextgpt.Modality;
import dev.nextgpt.runtime.nextgpt.ModalityDecoder;
import dev.nextgpt.runtime.nextgpt.ParameterAudit;
import dev.nextgpt.runtime.nextgpt.StableDiffusionDecoder;
import dev.nextgpt.runtime.nextgpt.TransformerOutputProjector;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Loads a current-version (C) NExT-GPT system from its checkpoint layouts (reference §7.2, §3.2, §5):
 * <ul>
 *   <li>{@link Kind#FULL}: a {@code nextgpt_llama} folder with every weight ({@code model.*}, {@code lm_head},
 *       projectors, and optionally the ImageBind tower under {@code model.multimodal_tower.multimodal_tower.});</li>
 *   <li>{@link Kind#ADAPTER_FILES}: the folder's {@code config.json} plus {@code mm_input_projector.bin} and/or
 *       {@code mm_output_projector.bin} over a base LLaMA (Vicuna) folder;</li>
 *   <li>{@link Kind#LORA_RUN}: {@code adapter_config.json} + {@code adapter_model.*} + {@code non_lora_trainables.bin}
 *       over a base LLaMA folder; the LLM LoRA is merged ({@code W += α/r · B·A}); LoRA modules that do not target an
 *       LLM projection (the group projector's {@code q/k/v_proj}) are left out and listed in
 *       {@link CurrentNextGpt#loadNotes()}.</li>
 * </ul>
 * The base folder is {@link LoadOptions#baseModel()}, else the config's {@code _name_or_path} when it is a local
 * folder (relative to the system folder or absolute). Embedding tables smaller than {@code vocab_size} get the C
 * resize: every new row of {@code embed_tokens} and {@code lm_head} is the mean of the old rows, and an adapter file's
 * {@code model.embed_tokens.weight} overwrites the new input rows. The tokenizer (the folder's, else the base's) gets
 * the signal tokens {@code <image_00>…} ({@code n_img_tokens} etc. from the config) as special tokens.
 *
 * <p>ImageBind comes from the tower keys, else from {@link LoadOptions#imagebind()} or the config's
 * {@code multimodal_input_tower} when it is a local file/folder; its config is that folder's {@code config.json}
 * (else {@code imagebind_huge}). Decoders come from the config's {@code image_decoder} / {@code video_decoder} /
 * {@code audio_decoder} when they are local folders: the image decoder is an SD pipeline with the folder's scheduler
 * config run as {@code EulerDiscreteScheduler} (as C does for SD-2); a modality without a local decoder answers with
 * the conditioning only.
 *
 * <p>Before any weight is read, the LLM and the three output projectors are audited (every missing tensor is named;
 * missing projector tensors may be randomly initialised when the caller allows the part) and the widths between
 * ImageBind, the input projector, the LLM and the output projectors are validated.
 */
public final class CurrentSystemLoader {

    /** Layout of a current system folder. */
    public enum Kind { FULL, ADAPTER_FILES, LORA_RUN }

    /** Part names for {@link LoadOptions#allowRandomInit()} ({@code "*"}: every projector; {@code output_projectors}). */
    public static final String PART_LANGUAGE_MODEL = "language_model";
    public static final String PART_INPUT_PROJECTOR = "input_projector";

    /** {@code image_output_projector} etc. */
    public static String outputProjectorPart(Modality m) {
        return m.name().toLowerCase(java.util.Locale.ROOT) + "_output_projector";
    }

    /**
     * How to load. {@code baseModel}: the base LLaMA folder of adapter-file and LoRA layouts (null: the config's
     * {@code _name_or_path}); {@code imagebind}: ImageBind checkpoint when the folder has no tower weights (null: the
     * config's {@code multimodal_input_tower}); {@code allowRandomInit}: projector parts that may be randomly
     * initialised when their tensors are missing.
     */
    public record LoadOptions(Path baseModel, Path imagebind, Set<String> allowRandomInit, boolean loadDecoders,
                              Device device, long seed) {
        public static LoadOptions defaults() {
            return new LoadOptions(null, null, Set.of(), true, Device.cpu(), 0L);
        }

        public LoadOptions withBaseModel(Path p) {
            return new LoadOptions(p, imagebind, allowRandomInit, loadDecoders, device, seed);
        }

        public LoadOptions withImageBind(Path p) {
            return new LoadOptions(baseModel, p, allowRandomInit, loadDecoders, device, seed);
        }

        public LoadOptions withAllowRandomInit(Set<String> parts) {
            return new LoadOptions(baseModel, imagebind, Set.copyOf(parts), loadDecoders, device, seed);
        }

        public LoadOptions withDecoders(boolean on) {
            return new LoadOptions(baseModel, imagebind, allowRandomInit, on, device, seed);
        }
    }

    private static final Pattern LLM_LORA = Pattern.compile(
            "^model\\.layers\\.\\d+\\.(self_attn\\.[qkvo]_proj|mlp\\.(gate|up|down)_proj)\\.lora_[AB](\\.[A-Za-z0-9_\\-]+)?"
                    + "\\.weight$");

    private CurrentSystemLoader() {
    }

    /** True when {@code dir/config.json} declares {@code model_type: "nextgpt_llama"}. */
    public static boolean isCurrentSystem(Path dir) {
        Path cfg = dir.resolve("config.json");
        if (!Files.isRegularFile(cfg)) {
            return false;
        }
        try {
            return "nextgpt_llama".equals(JsonConfig.read(cfg).getString("model_type", ""));
        } catch (RuntimeException e) {
            return false;
        }
    }

    /** The layout of {@code root} (its weights are not opened). */
    public static Kind detect(Path root) {
        if (Files.isRegularFile(root.resolve("adapter_config.json"))
                && (Files.isRegularFile(root.resolve("non_lora_trainables.bin"))
                || Files.isRegularFile(root.resolve("non_lora_trainables.safetensors")))) {
            return Kind.LORA_RUN;
        }
        if (adapterFile(root, CurrentCheckpointLayout.INPUT_PROJECTOR_KEY).isPresent()
                || adapterFile(root, "mm_output_projector").isPresent()) {
            return Kind.ADAPTER_FILES;
        }
        return Kind.FULL;
    }

    private static Optional<Path> adapterFile(Path root, String name) {
        for (String ext : new String[] {".bin", ".safetensors"}) {
            if (Files.isRegularFile(root.resolve(name + ext))) {
                return Optional.of(root.resolve(name + ext));
            }
        }
        return Optional.empty();
    }

    /** Loads the system at {@code root} (see the class comment). */
    public static CurrentNextGpt load(Path root, LoadOptions options) {
        Path cfgPath = root.resolve("config.json");
        if (!Files.isRegularFile(cfgPath)) {
            throw new ModelFormatException("no config.json in " + root + " (a current NExT-GPT system folder)");
        }
        JsonConfig cfg = JsonConfig.read(cfgPath);
        String type = cfg.getString("model_type", "");
        if (!"nextgpt_llama".equals(type)) {
            throw new ModelFormatException(cfgPath + ": model_type is '" + type + "', expected 'nextgpt_llama' (a "
                    + "current NExT-GPT checkpoint)");
        }
        Set<String> allowed = expandParts(options.allowRandomInit());
        Kind kind = detect(root);
        List<AutoCloseable> opened = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        try {
            // ---------------------------------------------------------------- stores
            Path base = null;
            CurrentCheckpointLayout layout;
            TensorStore embeddingAdapter = null;
            if (kind == Kind.FULL) {
                layout = CurrentCheckpointLayout.openFull(root);
                opened.add(layout);
            } else {
                base = baseFolder(root, cfg, options);
                TensorStore baseStore = Checkpoints.open(base);
                opened.add(baseStore);
                if (kind == Kind.ADAPTER_FILES) {
                    TensorStore in = adapterFile(root, CurrentCheckpointLayout.INPUT_PROJECTOR_KEY)
                            .map(Checkpoints::open).orElse(null);
                    if (in != null) {
                        opened.add(in);
                    }
                    TensorStore out = adapterFile(root, "mm_output_projector").map(Checkpoints::open).orElse(null);
                    if (out != null) {
                        opened.add(out);
                    }
                    layout = CurrentCheckpointLayout.fromAdapterFiles(baseStore, cfg, in, out);
                    for (TensorStore a : new TensorStore[] {in, out}) {
                        if (embeddingAdapter == null && a != null && a.contains("model.embed_tokens.weight")) {
                            embeddingAdapter = a;
                        }
                    }
                } else {
                    layout = CurrentCheckpointLayout.fromLoraRun(baseStore, cfg, root);
                }
                opened.add(layout);
            }
            Map<Modality, Integer> counts = new EnumMap<>(Modality.class);
            counts.put(Modality.IMAGE, cfg.getInt("n_img_tokens", 4));
            counts.put(Modality.VIDEO, cfg.getInt("n_vid_tokens", 24));
            counts.put(Modality.AUDIO, cfg.getInt("n_aud_tokens", 8));
            LlamaConfig lc = layout.llamaConfig();

            // ---------------------------------------------------------------- tokenizer
            Path tokDir = Files.isRegularFile(root.resolve("tokenizer.json")) ? root
                    : base != null && Files.isRegularFile(base.resolve("tokenizer.json")) ? base : null;
            if (tokDir == null) {
                throw new ModelFormatException("no tokenizer.json in " + root + (base == null ? "" : " nor in " + base));
            }
            LlamaTokenizer tokenizer;
            try (LlamaTokenizer t = LlamaTokenizer.load(tokDir)) {
                tokenizer = t.withAddedTokens(CurrentSignalTokens.addedTokens(counts), true);
            }
            opened.add(tokenizer);
            if (tokenizer.vocabSize() > lc.vocabSize()) {
                throw new ModelFormatException(cfgPath + ": vocab_size " + lc.vocabSize() + " is smaller than the "
                        + "tokenizer with the signal tokens (" + tokenizer.vocabSize() + " ids, " + tokDir + ")");
            }

            // ---------------------------------------------------------------- LLM weights (resized) and audit
            TensorStore llmStore = layout.llm();
            InMemoryTensorStore resized = resizeEmbeddings(llmStore, lc, embeddingAdapter, notes);
            TensorStore llmView = resized.names().isEmpty() ? llmStore
                    : CompositeTensorStore.overriding(List.of(llmStore, resized));
            List<ParameterAudit.Finding> fatal = new ArrayList<>(
                    new ParameterAudit(llamaExpectations(lc)).audit(llmView).findings());
            Map<Modality, ParameterAudit.Report> projectorReports = new EnumMap<>(Modality.class);
            for (Modality m : Modality.values()) {
                ParameterAudit.Report r = new ParameterAudit(outputProjectorExpectations(layout.outputProjector(m), m,
                        cfg, lc.hiddenSize())).audit(layout.outputProjector(m));
                projectorReports.put(m, r);
                for (ParameterAudit.Finding f : r.findings()) {
                    if (f.kind() != ParameterAudit.Kind.MISSING || !allowed.contains(f.part())) {
                        fatal.add(f);
                    }
                }
            }
            String inType = layout.inputProjectorType();
            boolean hasInputProjector = !layout.inputProjector().names().isEmpty() || "identity".equals(inType);
            if (!hasInputProjector && !allowed.contains(PART_INPUT_PROJECTOR)) {
                throw new ModelFormatException(root + ": no model." + CurrentCheckpointLayout.INPUT_PROJECTOR_KEY
                        + ".* tensors (input projector); allow random init of part '" + PART_INPUT_PROJECTOR
                        + "' to run without media inputs");
            }
            if (!fatal.isEmpty()) {
                StringBuilder sb = new StringBuilder("current NExT-GPT system " + root + ": " + fatal.size()
                        + " parameters are missing or have the wrong shape");
                fatal.forEach(f -> sb.append("\n  ").append(f));
                Set<String> parts = new LinkedHashSet<>();
                fatal.stream().filter(f -> f.kind() == ParameterAudit.Kind.MISSING
                        && !f.part().equals(PART_LANGUAGE_MODEL)).forEach(f -> parts.add(f.part()));
                if (!parts.isEmpty()) {
                    sb.append("\n(to run anyway with randomly initialised weights, allow random init of parts ")
                            .append(parts).append(")");
                }
                throw new ModelFormatException(sb.toString());
            }

            // ---------------------------------------------------------------- ImageBind source and widths
            Path towerPath = options.imagebind() != null ? options.imagebind()
                    : localPath(root, cfg.optString("multimodal_input_tower").orElse(null));
            ImageBindConfig ibConfig = towerPath != null ? ImageBindConfig.forModel(towerPath) : ImageBindConfig.huge();
            Optional<TensorStore> tower = layout.imagebind();
            boolean towerFromFile = tower.isEmpty() && towerPath != null && hasWeights(towerPath);
            DimsValidator v = new DimsValidator();
            if (hasInputProjector && !"identity".equals(inType)) {
                long[] inOut = inputProjectorDims(layout.inputProjector(), inType);
                if (tower.isPresent() || towerFromFile) {
                    v.require("ImageBind out_embed_dim (" + (towerPath == null ? "imagebind_huge" : towerPath) + ")",
                            ibConfig.outEmbedDim(), "input projector (" + inType + ") input width", inOut[0]);
                }
                if (cfg.has("mm_hidden_size")) {
                    v.require("config mm_hidden_size", cfg.getInt("mm_hidden_size"), "input projector input width",
                            inOut[0]);
                }
                if (inOut[1] > 0) {
                    v.require("input projector output width", inOut[1], "LLM hidden_size", lc.hiddenSize());
                }
            }
            for (Modality m : Modality.values()) {
                TensorStore s = layout.outputProjector(m);
                if (s.contains("in_fc.weight")) {
                    v.require(m + " output projector in_fc input width", s.info("in_fc.weight").dim(1),
                            "LLM hidden_size", lc.hiddenSize());
                }
            }
            v.validate();

            // ---------------------------------------------------------------- load
            LlamaModel llm = LlamaModel.load(lc, llmView, options.device(), DataType.FLOAT32);
            opened.add(llm);
            if (layout.loraDir().isPresent()) {
                try (LoraAdapter lora = llmLora(layout.loraDir().get(), notes)) {
                    if (lora != null) {
                        llm.applyLora(lora, true);
                    }
                }
            }
            NDManager manager = NDManager.newBaseManager(options.device());
            opened.add(manager);
            Set<dev.nextgpt.runtime.imagebind.Modality> branches = EnumSet.of(
                    dev.nextgpt.runtime.imagebind.Modality.VISION, dev.nextgpt.runtime.imagebind.Modality.AUDIO);
            ImageBindModel imagebind = null;
            if (tower.isPresent()) {
                imagebind = ImageBindModel.load(tower.get(), ibConfig, manager, branches);
            } else if (towerFromFile) {
                imagebind = ImageBindModel.load(towerPath, ibConfig, manager, branches);
            } else {
                notes.add("no ImageBind weights (no tower keys, no local multimodal_input_tower): media inputs are "
                        + "not available");
            }
            if (imagebind != null) {
                opened.add(imagebind);
            }
            InputProjector inProj = null;
            Set<String> random = new LinkedHashSet<>();
            if (hasInputProjector) {
                inProj = InputProjectors.load(layout.all(), "model." + CurrentCheckpointLayout.INPUT_PROJECTOR_KEY + ".",
                        inType, manager);
                opened.add(inProj);
            } else {
                notes.add("no input projector: media inputs are not available");
                random.add(PART_INPUT_PROJECTOR);
            }
            Map<Modality, TransformerOutputProjector> outProj = new EnumMap<>(Modality.class);
            for (Modality m : Modality.values()) {
                ParameterAudit.Report r = projectorReports.get(m);
                TensorStore s = layout.outputProjector(m);
                if (!r.missing().isEmpty()) {
                    random.add(outputProjectorPart(m));
                    s = CompositeTensorStore.overriding(List.of(s, randomTensors(r, options.seed() + m.ordinal())));
                }
                TransformerOutputProjector p = TransformerOutputProjector.load(s, "",
                        TransformerOutputProjector.Naming.CURRENT, TransformerOutputProjector.DEFAULT_HEADS, manager);
                outProj.put(m, p);
                opened.add(p);
            }
            Map<Modality, ModalityDecoder> decoders = new EnumMap<>(Modality.class);
            if (options.loadDecoders()) {
                for (Modality m : Modality.values()) {
                    String key = m.name().toLowerCase(java.util.Locale.ROOT) + "_decoder";
                    String id = cfg.optString(key).orElse(null);
                    Path dir = localPath(root, id);
                    if (dir == null || !Files.isDirectory(dir)) {
                        if (id != null) {
                            notes.add(key + " '" + id + "' is not a local folder: " + m + " requests return the "
                                    + "conditioning only");
                        }
                        continue;
                    }
                    ModalityDecoder d = loadDecoder(m, dir);
                    if (d == null) {
                        notes.add(key + " " + dir + ": no " + m + " decoder in this build; " + m + " requests return "
                                + "the conditioning only");
                        continue;
                    }
                    decoders.put(m, d);
                    opened.add(d);
                }
            }
            CurrentNextGpt.Settings settings = new CurrentNextGpt.Settings(CurrentPromptBuilder.Template.VICUNA_V1,
                    Map.of(Modality.IMAGE, 5, Modality.VIDEO, 5, Modality.AUDIO, 5),
                    cfg.getInt("tokenizer_model_max_length", 2048), counts);
            CurrentNextGpt system = new CurrentNextGpt(llm, tokenizer, imagebind, inProj, outProj, decoders, settings);
            system.own(opened, random, notes);
            return system;
        } catch (RuntimeException e) {
            for (int i = opened.size() - 1; i >= 0; i--) {
                try {
                    opened.get(i).close();
                } catch (Exception ignored) {
                    // best effort
                }
            }
            throw e;
        }
    }

    static Set<String> expandParts(Set<String> parts) {
        Set<String> out = new LinkedHashSet<>();
        for (String p : parts) {
            switch (p) {
                case "*" -> {
                    out.add(PART_INPUT_PROJECTOR);
                    for (Modality m : Modality.values()) {
                        out.add(outputProjectorPart(m));
                    }
                }
                case "output_projectors" -> {
                    for (Modality m : Modality.values()) {
                        out.add(outputProjectorPart(m));
                    }
                }
                default -> out.add(p);
            }
        }
        return out;
    }

    private static Path baseFolder(Path root, JsonConfig cfg, LoadOptions o) {
        if (o.baseModel() != null) {
            if (!Files.isDirectory(o.baseModel())) {
                throw new ModelFormatException("base model folder " + o.baseModel() + " does not exist");
            }
            return o.baseModel();
        }
        String name = cfg.optString("_name_or_path").orElse(null);
        Path p = localPath(root, name);
        if (p == null || !Files.isDirectory(p)) {
            throw new ModelFormatException(root + " holds adapter / LoRA weights only; the base LLaMA folder is needed "
                    + "(config _name_or_path '" + name + "' is not a local folder): give it with "
                    + "LoadOptions.withBaseModel");
        }
        return p;
    }

    /** {@code value} as an existing local path (absolute, or relative to {@code root}); null otherwise. */
    static Path localPath(Path root, String value) {
        if (value == null || value.isBlank()) {
            return null;
        }
        try {
            Path p = Path.of(value);
            Path r = p.isAbsolute() ? p : root.resolve(p).normalize();
            return Files.exists(r) ? r : null;
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static boolean hasWeights(Path p) {
        if (Files.isRegularFile(p)) {
            return true;
        }
        try {
            Checkpoints.findInFolder(p);
            return true;
        } catch (RuntimeException e) {
            return false;
        }
    }

    /**
     * The C resize: {@code embed_tokens} / {@code lm_head} with fewer rows than {@code vocab_size} get mean rows;
     * {@code adapter}'s {@code model.embed_tokens.weight} overwrites the new input rows.
     */
    private static InMemoryTensorStore resizeEmbeddings(TensorStore llm, LlamaConfig lc, TensorStore adapter,
                                                        List<String> notes) {
        InMemoryTensorStore out = new InMemoryTensorStore("resized embeddings");
        int target = lc.vocabSize();
        for (String name : List.of("model.embed_tokens.weight", "lm_head.weight")) {
            if (!llm.contains(name)) {
                continue;
            }
            TensorInfo info = llm.info(name);
            int rows = Math.toIntExact(info.dim(0));
            int hidden = Math.toIntExact(info.dim(1));
            if (rows >= target) {
                continue;
            }
            int added = target - rows;
            float[] values = CurrentSignalTokens.resizeWithMeanRows(llm.readFloats(name), rows, hidden, added);
            String how = "mean of the old rows";
            if (adapter != null && name.startsWith("model.")) {
                CurrentSignalTokens.overwriteNewRows(values, target, hidden, added,
                        adapter.readFloats("model.embed_tokens.weight"),
                        adapter.info("model.embed_tokens.weight").shape(), String.valueOf(adapter.source()));
                how = "rows of " + adapter.source();
            }
            out.put(name, new long[] {target, hidden}, values);
            notes.add(name + " resized from " + rows + " to " + target + " rows (" + how + ")");
        }
        return out;
    }

    /** Every LLaMA parameter the config implies (HF names). */
    static List<ParameterAudit.Expected> llamaExpectations(LlamaConfig c) {
        String part = PART_LANGUAGE_MODEL;
        long h = c.hiddenSize();
        long q = (long) c.numHeads() * c.headDim();
        long kv = (long) c.numKvHeads() * c.headDim();
        long ff = c.intermediateSize();
        List<ParameterAudit.Expected> e = new ArrayList<>();
        e.add(new ParameterAudit.Expected(part, "model.embed_tokens.weight", new long[] {c.vocabSize(), h}));
        for (int l = 0; l < c.numLayers(); l++) {
            String p = "model.layers." + l + ".";
            e.add(new ParameterAudit.Expected(part, p + "self_attn.q_proj.weight", new long[] {q, h}));
            e.add(new ParameterAudit.Expected(part, p + "self_attn.k_proj.weight", new long[] {kv, h}));
            e.add(new ParameterAudit.Expected(part, p + "self_attn.v_proj.weight", new long[] {kv, h}));
            e.add(new ParameterAudit.Expected(part, p + "self_attn.o_proj.weight", new long[] {h, q}));
            e.add(new ParameterAudit.Expected(part, p + "mlp.gate_proj.weight", new long[] {ff, h}));
            e.add(new ParameterAudit.Expected(part, p + "mlp.up_proj.weight", new long[] {ff, h}));
            e.add(new ParameterAudit.Expected(part, p + "mlp.down_proj.weight", new long[] {h, ff}));
            e.add(new ParameterAudit.Expected(part, p + "input_layernorm.weight", new long[] {h}));
            e.add(new ParameterAudit.Expected(part, p + "post_attention_layernorm.weight", new long[] {h}));
        }
        e.add(new ParameterAudit.Expected(part, "model.norm.weight", new long[] {h}));
        if (!c.tieWordEmbeddings()) {
            e.add(new ParameterAudit.Expected(part, "lm_head.weight", new long[] {c.vocabSize(), h}));
        }
        return e;
    }

    /**
     * The tensors of one C {@code TransformersProjector}: sizes from the tensors present, else from the config
     * ({@code mm_output_<img|vid|aud>_features}, {@code mm_output_<…>_num_query_token}), else the C defaults
     * (width 512, 4+4 layers, feed-forward 2048; 1024/1024/512 out, 77/77/1 queries).
     */
    static List<ParameterAudit.Expected> outputProjectorExpectations(TensorStore s, Modality m, JsonConfig cfg,
                                                                     int hidden) {
        String k = m.shortKey();
        long width = s.contains("in_fc.weight") ? s.info("in_fc.weight").dim(0)
                : s.contains("query_embs") ? s.info("query_embs").dim(2) : 512;
        long out = s.contains("out_fc.weight") ? s.info("out_fc.weight").dim(0)
                : cfg.getInt("mm_output_" + k + "_features", m == Modality.AUDIO ? 512 : 1024);
        long queries = s.contains("query_embs") ? s.info("query_embs").dim(1)
                : cfg.getInt("mm_output_" + k + "_num_query_token", m == Modality.AUDIO ? 1 : 77);
        int enc = countIndexed(s, "tfm.encoder.layers.", 4);
        int dec = countIndexed(s, "tfm.decoder.layers.", 4);
        long ff = s.contains("tfm.encoder.layers.0.linear1.weight")
                ? s.info("tfm.encoder.layers.0.linear1.weight").dim(0) : 4 * width;
        return ParameterAudit.transformerProjector(outputProjectorPart(m), "",
                TransformerOutputProjector.Naming.CURRENT, hidden, width, out, queries, enc, dec, ff);
    }

    private static int countIndexed(TensorStore s, String prefix, int fallback) {
        int n = 0;
        while (true) {
            String p = prefix + n + ".";
            if (s.names().stream().noneMatch(x -> x.startsWith(p))) {
                return n == 0 ? fallback : n;
            }
            n++;
        }
    }

    /** {@code [input width, output width (0 if unknown)]} of the input projector from its tensor shapes. */
    private static long[] inputProjectorDims(TensorStore s, String type) {
        String t = type == null ? InputProjectors.detectType(s, "") : type;
        return switch (t) {
            case "group", "group_projector" -> new long[] {s.info("in_fc.weight").dim(1),
                    s.contains("out_fc.weight") ? s.info("out_fc.weight").dim(0) : 0};
            case "mlp" -> new long[] {s.info("layer.0.weight").dim(1), 0};
            case "linear" -> new long[] {s.info("weight").dim(1), s.info("weight").dim(0)};
            default -> throw new UnsupportedConfigurationException("input projector type '" + t + "' is not supported "
                    + "(" + InputProjectors.TYPES + ")");
        };
    }

    /** Missing tensors: biases 0, LayerNorm weights 1, {@code query_embs} 0 (C init), other weights N(0, 0.02²). */
    private static TensorStore randomTensors(ParameterAudit.Report r, long seed) {
        InMemoryTensorStore s =
                new InMemoryTensorStore("random-init", seed);
        for (ParameterAudit.Finding f : r.missing()) {
            String n = f.name();
            if (n.endsWith(".bias") || n.equals("query_embs") || n.endsWith("in_proj_bias")) {
                s.zeros(n, f.expected());
            } else if (n.contains("norm") && n.endsWith(".weight")) {
                s.ones(n, f.expected());
            } else {
                s.normal(n, 0.02, f.expected());
            }
        }
        return s;
    }

    /** The LLM part of the run's peft adapter; modules that are no LLaMA projection are left out (noted). */
    static LoraAdapter llmLora(Path dir, List<String> notes) {
        JsonConfig ac = JsonConfig.read(dir.resolve("adapter_config.json"));
        String type = ac.getString("peft_type", "LORA");
        if (!type.equals("LORA") || ac.getBoolean("use_dora", false)) {
            throw new UnsupportedConfigurationException(ac.source() + ": only plain LoRA adapters are supported (peft_type "
                    + type + ")");
        }
        for (String k : new String[] {"rank_pattern", "alpha_pattern"}) {
            if (ac.optObject(k).map(o -> o.json().size() > 0).orElse(false)) {
                throw new UnsupportedConfigurationException(ac.source() + ": '" + k + "' is not supported for the "
                        + "NExT-GPT LoRA run");
            }
        }
        int r = ac.getInt("r");
        double alpha = ac.getDouble("lora_alpha", r);
        boolean rslora = ac.getBoolean("use_rslora", false);
        Path weights = Files.isRegularFile(dir.resolve("adapter_model.safetensors"))
                ? dir.resolve("adapter_model.safetensors") : dir.resolve("adapter_model.bin");
        if (!Files.isRegularFile(weights)) {
            throw new ModelFormatException("LoRA run " + dir + " has neither adapter_model.safetensors nor "
                    + "adapter_model.bin");
        }
        try (TensorStore s = Checkpoints.open(weights)) {
            Map<String, String> keep = new LinkedHashMap<>();
            Set<String> dropped = new LinkedHashSet<>();
            for (String n : s.names()) {
                String module = n.startsWith("base_model.model.") ? n.substring("base_model.model.".length()) : n;
                if (LLM_LORA.matcher(module).matches()) {
                    keep.put(n, n);
                } else if (module.contains(".lora_")) {
                    dropped.add(module.substring(0, module.indexOf(".lora_")));
                }
            }
            if (!dropped.isEmpty()) {
                notes.add("LoRA modules that are no LLM projection were not applied (" + dropped.size() + "): "
                        + dropped);
            }
            if (keep.isEmpty()) {
                notes.add("the LoRA adapter " + weights + " has no LLM modules");
                return null;
            }
            notes.add("LLM LoRA merged from " + weights + " (r=" + r + ", alpha=" + alpha + ", " + keep.size() / 2
                    + " modules)");
            return LoraAdapter.fromStore(new RenamedTensorStore(s, keep, "LLM LoRA"), "", r, alpha, rslora);
        }
    }

    /** The decoder of {@code m} from a local diffusers folder, or null when this build has none for {@code m}. */
    static ModalityDecoder loadDecoder(Modality m, Path dir) {
        return switch (m) {
            case IMAGE -> loadEulerStableDiffusion(dir);
            case VIDEO -> dev.nextgpt.runtime.nextgpt.VideoDiffusionDecoder.load(dir);
            case AUDIO -> dev.nextgpt.runtime.nextgpt.AudioDiffusionDecoder.load(dir);
        };
    }

    /**
     * C's image decoder: {@code StableDiffusionPipeline} with {@code EulerDiscreteScheduler.from_pretrained(folder,
     * subfolder="scheduler")} (the folder's noise schedule and prediction type, Euler sampling); 50 steps; the
     * image size follows the UNet sample size (768² for SD-2).
     */
    static StableDiffusionDecoder loadEulerStableDiffusion(Path folder) {
        for (String sub : new String[] {"unet", "vae", "text_encoder", "tokenizer", "scheduler"}) {
            if (!Files.isDirectory(folder.resolve(sub))) {
                throw new ModelFormatException("Stable Diffusion folder " + folder + " lacks the sub-folder '" + sub
                        + "'");
            }
        }
        SchedulerConfig sc = SchedulerConfig.read(folder.resolve("scheduler")).withClassName("EulerDiscreteScheduler");
        UNet2DCondition unet = UNet2DCondition.load(folder.resolve("unet"));
        AutoencoderKL vae = null;
        try (ClipTextModel text = ClipTextModel.load(folder.resolve("text_encoder"))) {
            vae = AutoencoderKL.load(folder.resolve("vae"));
            return new StableDiffusionDecoder(unet, vae, text, ClipBpeTokenizer.fromFolder(folder.resolve("tokenizer")),
                    sc, StableDiffusionDecoder.DEFAULT_STEPS);
        } catch (RuntimeException e) {
            unet.close();
            if (vae != null) {
                vae.close();
            }
            throw e;
        }
    }
}
