package dev.nextgpt.runtime.nextgpt;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.UnsupportedConfigurationException;
import dev.nextgpt.runtime.config.JsonConfig;
import dev.nextgpt.runtime.imagebind.ImageBindConfig;
import dev.nextgpt.runtime.imagebind.ImageBindModel;
import dev.nextgpt.runtime.io.Checkpoints;
import dev.nextgpt.runtime.io.CompositeTensorStore;
import dev.nextgpt.runtime.io.TensorStore;
import dev.nextgpt.runtime.io.TensorStores;
import dev.nextgpt.runtime.llm.GenerationOptions;
import dev.nextgpt.runtime.llm.LlamaConfig;
import dev.nextgpt.runtime.llm.LlamaGenerator;
import dev.nextgpt.runtime.llm.LlamaModel;
import dev.nextgpt.runtime.llm.LlamaTokenizer;
import dev.nextgpt.runtime.llm.LoraAdapter;
import dev.nextgpt.runtime.media.AudioPreprocessor;
import dev.nextgpt.runtime.media.ImagePreprocessor;
import dev.nextgpt.runtime.media.VideoPreprocessor;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * The legacy NExT-GPT ({@code 7b_tiva_v0}) end to end, as {@code NextGPTModel.generate} runs on a first or later
 * demo turn (reference §2.3, §3, §4, §5, §10; golden {@code nextgpt-e2e} README §4):
 * <ol>
 *   <li>prompt string → split on media tags → {@code [BOS]+E(ids)} per text piece, {@code [E(<Img>), llama_proj(
 *       ImageBind legacy embedding), E(</Img>)]} per media piece ({@link LegacyPromptBuilder});</li>
 *   <li>greedy KV-cache generation from the input embeddings (the demo's top_p 0.01 keeps only the top token),
 *       stopping on {@code "###"} standalone / after a newline (ids from the tokenizer) or EOS, collecting the
 *       post-norm last-layer hidden state of every fed token;</li>
 *   <li>signal spans (at most {@code maxPerModality} per modality; legacy demo 1) → hidden states while the signal
 *       tokens were the input + embedding rows of the re-tokenized signal string → {@code TextFcLayer} →
 *       decoder conditioning ({@code [1,77,D]}; audio {@code view(1, D)});</li>
 *   <li>returned texts {@code decode(sequences[last:gen_idx]) + " " + signal string}, or the whole answer.</li>
 * </ol>
 * Loading reads the original layout ({@link LegacySystemLayout}): Vicuna from {@code vicuna_ckpt} plus the delta's
 * full {@code embed_tokens}/{@code lm_head} and LoRA (scaling {@code lora_alpha/r} from the settings), ImageBind
 * from {@code imagebind_huge.pth}, {@code llama_proj} and the three TextFcLayers from the delta, and the image
 * decoder from {@code sd/}. Every size comes from the configs and tensor shapes; the delta is audited (missing
 * tensors fail unless their part may be randomly initialised) and the widths are validated before weights load.
 *
 * <p>Not thread-safe: callers serialise {@link #generate} calls.
 */
public final class LegacyNextGpt implements AutoCloseable {

    /**
     * How to load. {@code allowRandomInit} holds {@link ParameterAudit} part names (or {@code "*"});
     * {@code loadImageDecoder}/{@code loadMediaDecoders} switch off the decoders found in the layout.
     */
    public record LoadOptions(Set<String> allowRandomInit, boolean loadImageDecoder, Device device, long seed,
                              boolean loadMediaDecoders) {
        public static LoadOptions defaults() {
            return new LoadOptions(Set.of(), true, Device.cpu(), 0L, true);
        }

        public LoadOptions withAllowRandomInit(Set<String> parts) {
            return new LoadOptions(parts, loadImageDecoder, device, seed, loadMediaDecoders);
        }

        public LoadOptions withImageDecoder(boolean on) {
            return new LoadOptions(allowRandomInit, on, device, seed, loadMediaDecoders);
        }

        /** Whether the layout's video/audio decoders are loaded. */
        public LoadOptions withMediaDecoders(boolean on) {
            return new LoadOptions(allowRandomInit, loadImageDecoder, device, seed, on);
        }
    }

    /**
     * Where the parts of a legacy system are, when they are not in the original folder layout.
     *
     * @param settings     {@code nextgpt_config.json}-style summary (ImageBind constructor, LoRA, signal counts), or
     *                     null for the legacy defaults
     * @param vicuna       Vicuna folder (HF layout with config and tokenizer)
     * @param delta        the delta folder ({@code config.json}, tokenizer, {@code pytorch_model.pt|.safetensors})
     *                     or the delta weights file (its folder holds {@code config.json})
     * @param imagebind    ImageBind checkpoint file (or folder)
     * @param imageDecoder Stable Diffusion folder, or null
     * @param videoDecoder Zeroscope folder, or null
     * @param audioDecoder AudioLDM folder, or null
     */
    public record Components(Path settings, Path vicuna, Path delta, Path imagebind, Path imageDecoder,
                             Path videoDecoder, Path audioDecoder) {
        /** The components of an original legacy folder ({@link LegacySystemLayout}). */
        public static Components of(LegacySystemLayout layout) {
            if (layout.kind() != LegacySystemLayout.Kind.LEGACY) {
                throw new UnsupportedConfigurationException(layout.root() + " is a current (nextgpt_llama) NExT-GPT "
                        + "system; LegacyNextGpt loads only the legacy 7b_tiva_v0 layout");
            }
            layout.requireComplete(Set.of());
            return new Components(layout.path(LegacySystemLayout.SUMMARY_CONFIG).orElse(null),
                    layout.path(LegacySystemLayout.LLM_FOLDER).orElseThrow(),
                    layout.path(LegacySystemLayout.DELTA_CONFIG).orElseThrow().getParent(),
                    layout.path(LegacySystemLayout.IMAGEBIND).orElseThrow(),
                    layout.path(LegacySystemLayout.IMAGE_DECODER).orElse(null),
                    layout.path(LegacySystemLayout.VIDEO_DECODER).orElse(null),
                    layout.path(LegacySystemLayout.AUDIO_DECODER).orElse(null));
        }

        public Components withImageDecoder(Path p) {
            return new Components(settings, vicuna, delta, imagebind, p, videoDecoder, audioDecoder);
        }

        public Components withVideoDecoder(Path p) {
            return new Components(settings, vicuna, delta, imagebind, imageDecoder, p, audioDecoder);
        }

        public Components withAudioDecoder(Path p) {
            return new Components(settings, vicuna, delta, imagebind, imageDecoder, videoDecoder, p);
        }

        /** The folder holding the delta's {@code config.json}. */
        Path deltaDir() {
            return Files.isDirectory(delta) ? delta : delta.toAbsolutePath().getParent();
        }

        /** Opens the delta weights: the given file, or in a folder {@code pytorch_model.pt} then its safetensors twin. */
        TensorStore openDelta() {
            if (!Files.isDirectory(delta)) {
                return Checkpoints.open(delta);
            }
            Path pt = delta.resolve("pytorch_model.pt");
            Path twin = delta.resolve("pytorch_model.safetensors");
            if (Files.isRegularFile(pt)) {
                try {
                    return Checkpoints.open(pt);
                } catch (dev.nextgpt.NextGptException e) {
                    if (!Files.isRegularFile(twin)) {
                        throw e;
                    }
                }
            }
            if (Files.isRegularFile(twin)) {
                return Checkpoints.open(twin);
            }
            throw new ModelFormatException("legacy delta folder " + delta + " has neither pytorch_model.pt nor "
                    + "pytorch_model.safetensors");
        }
    }

    /**
     * How tokens are chosen: greedy (arg-max), or multinomial sampling after repetition penalty, temperature, top-k
     * ({@code 0} = off) and top-p ({@code 1} = off) from a seeded generator. {@code stopStrings} end the answer in
     * addition to the legacy {@code ###} / EOS stops.
     */
    public record Sampling(boolean greedy, double temperature, double topP, int topK, double repetitionPenalty,
                           long seed, List<String> stopStrings) {
        public static final Sampling GREEDY = new Sampling(true, 1.0, 1.0, 0, 1.0, 0L, List.of());

        public Sampling {
            stopStrings = List.copyOf(stopStrings);
        }

        void applyTo(GenerationOptions o) {
            if (greedy) {
                o.greedy();
            } else {
                o.sample(temperature, topK, topP, seed);
            }
            if (repetitionPenalty != 1.0) {
                o.repetitionPenalty(repetitionPenalty);
            }
            for (String s : stopStrings) {
                o.stopString(s);
            }
        }
    }

    /** Settings of one {@link #generate} call. */
    public record Request(String prompt, Path mediaBase, int maxNewTokens, Map<Modality, Integer> maxPerModality,
                          GenerationOptions.LogitsProcessor logitsProcessor, Consumer<String> textStreamer,
                          AtomicBoolean cancel, Sampling sampling) {
        /**
         * The legacy demo: 246 new tokens, at most one span per modality, greedy (the demo's top_p 0.01 keeps only
         * the top token).
         */
        public static Request of(String prompt, Path mediaBase) {
            return new Request(prompt, mediaBase, 246, Map.of(Modality.IMAGE, 1, Modality.VIDEO, 1,
                    Modality.AUDIO, 1), null, null, null, Sampling.GREEDY);
        }

        public Request withMaxNewTokens(int n) {
            return new Request(prompt, mediaBase, n, maxPerModality, logitsProcessor, textStreamer, cancel, sampling);
        }

        public Request withLogitsProcessor(GenerationOptions.LogitsProcessor p) {
            return new Request(prompt, mediaBase, maxNewTokens, maxPerModality, p, textStreamer, cancel, sampling);
        }

        public Request withTextStreamer(Consumer<String> s) {
            return new Request(prompt, mediaBase, maxNewTokens, maxPerModality, logitsProcessor, s, cancel, sampling);
        }

        public Request withCancel(AtomicBoolean c) {
            return new Request(prompt, mediaBase, maxNewTokens, maxPerModality, logitsProcessor, textStreamer, c,
                    sampling);
        }

        public Request withMaxPerModality(Map<Modality, Integer> m) {
            return new Request(prompt, mediaBase, maxNewTokens, m, logitsProcessor, textStreamer, cancel, sampling);
        }

        public Request withSampling(Sampling s) {
            return new Request(prompt, mediaBase, maxNewTokens, maxPerModality, logitsProcessor, textStreamer, cancel,
                    s == null ? Sampling.GREEDY : s);
        }
    }

    /** One encoded input file: the ImageBind legacy embedding {@code [1, D]} and its {@code llama_proj} output. */
    public record Feature(Modality modality, String path, NDArray imagebindEmbedding, NDArray projected) {
    }

    /**
     * One generation request found in the answer.
     *
     * @param rawHidden        {@code [N, H]} last-layer hidden states while the signal tokens were the input
     * @param prefixEmbeddings {@code [N, H]} embedding rows of the re-tokenized signal string
     * @param projectorOutput  {@code [Q, D]} TextFcLayer output
     * @param conditioning     what the decoder receives: {@code [1, Q, D]} (image, video) or {@code [1, Q·D]} (audio)
     * @param returnedText     the legacy returned text for this span
     */
    public record Signal(SignalSpanDetector.SignalSpan span, NDArray rawHidden, NDArray prefixEmbeddings,
                         NDArray projectorOutput, NDArray conditioning, String returnedText) {
    }

    /**
     * The outcome of one call. {@code sequences} are the legacy {@code generate} sequences ({@code [BOS] +
     * generated}); {@code returnedTexts} the strings of the legacy return list in its order (img, vid, aud spans,
     * or the single text-only answer).
     */
    public record Result(List<LegacyPromptBuilder.Piece> pieces, NDArray inputsEmbeds, List<Feature> features,
                         LlamaGenerator.Result generation, long[] generatedIds, long[] sequences,
                         NDArray hiddenPerStep, NDArray stepLogits, List<Signal> signals,
                         List<String> returnedTexts) {
        public LlamaGenerator.FinishReason finishReason() {
            return generation.finishReasons()[0];
        }
    }

    private final NDManager manager;
    private final LlamaModel llm;
    private final LlamaTokenizer llamaTokenizer;
    private final LlamaTextTokenizer tokenizer;
    private final SignalTokens tokens;
    private final LegacyPromptBuilder promptBuilder;
    private final LegacySettings settings;
    private final ImageBindModel imagebind;
    private final NDArray llamaProjWeight;
    private final NDArray llamaProjBias;
    private final Map<Modality, TransformerOutputProjector> projectors;
    private final Map<Modality, ModalityDecoder> decoders;
    private final List<Long> stopIds;
    private final Set<String> randomInitParts;
    private final ImagePreprocessor imagePreprocessor;
    private final AudioPreprocessor audioPreprocessor;
    private final VideoPreprocessor videoPreprocessor;

    /**
     * Assembles a system from built parts (the loader and the embedded demo model use this). Takes ownership of
     * every part; {@code llamaProj} arrays must belong to {@code manager}, which this object closes.
     */
    public LegacyNextGpt(NDManager manager, LlamaModel llm, LlamaTokenizer tokenizer, LegacySettings settings,
                         ImageBindModel imagebind, NDArray llamaProjWeight, NDArray llamaProjBias,
                         Map<Modality, TransformerOutputProjector> projectors, Map<Modality, ModalityDecoder> decoders,
                         Set<String> randomInitParts) {
        this.manager = manager;
        this.llm = llm;
        this.llamaTokenizer = tokenizer;
        this.tokenizer = new LlamaTextTokenizer(tokenizer);
        this.settings = settings;
        this.tokens = SignalTokens.of(SignalTokens.Version.LEGACY, this.tokenizer, settings.signalCounts(), null);
        this.promptBuilder = new LegacyPromptBuilder(this.tokenizer, tokens);
        this.imagebind = imagebind;
        this.llamaProjWeight = llamaProjWeight;
        this.llamaProjBias = llamaProjBias;
        this.projectors = new EnumMap<>(projectors);
        this.decoders = new EnumMap<>(Modality.class);
        this.decoders.putAll(decoders);
        this.stopIds = LegacyPromptBuilder.legacyStopIds(this.tokenizer);
        this.randomInitParts = Set.copyOf(randomInitParts);
        int size = imagebind == null ? 224 : imagebind.config().imageSize();
        this.imagePreprocessor = new ImagePreprocessor(size, false);
        this.audioPreprocessor = new AudioPreprocessor();
        VideoPreprocessor.Options vo = VideoPreprocessor.Options.defaults();
        this.videoPreprocessor = new VideoPreprocessor(new VideoPreprocessor.Options(vo.clipDuration(),
                vo.clipsPerVideo(), vo.framesPerClip(), size));
        validateDims();
    }

    // ------------------------------------------------------------------------------------------------ loading

    /** Loads the legacy system at {@code root} (see the class comment). */
    public static LegacyNextGpt load(Path root, LoadOptions options) {
        return load(Components.of(LegacySystemLayout.inspect(root)), options);
    }

    /** Loads a legacy system from separately given parts (see {@link Components}). */
    public static LegacyNextGpt load(Components parts, LoadOptions options) {
        for (Path p : new Path[] {parts.vicuna(), parts.delta(), parts.imagebind()}) {
            if (p == null || !Files.exists(p)) {
                throw new InvalidInputException("legacy NExT-GPT component path " + p + " does not exist");
            }
        }
        LegacySettings settings = LegacySettings.read(parts.settings());
        for (String mode : settings.projectorModes().values()) {
            TransformerOutputProjector.requireRunnableLegacyMode(mode);
        }
        Path vicuna = parts.vicuna();
        Path deltaDir = parts.deltaDir();
        if (!Files.isRegularFile(deltaDir.resolve("config.json"))) {
            throw new ModelFormatException("legacy delta folder " + deltaDir + " has no config.json");
        }
        LlamaConfig llmConfig = LlamaConfig.load(vicuna);
        JsonConfig deltaConfig = JsonConfig.read(deltaDir.resolve("config.json"));
        Path ibPath = parts.imagebind();
        ImageBindConfig ibConfig = settings.imageBindConstructor().map(ImageBindConfig::fromJson)
                .orElseGet(() -> ImageBindConfig.forModel(ibPath));

        NDManager manager = NDManager.newBaseManager(options.device());
        List<AutoCloseable> opened = new ArrayList<>();
        try {
            LlamaTokenizer tokenizer = loadTokenizer(deltaDir, vicuna);
            opened.add(tokenizer);
            TensorStore deltaFile = parts.openDelta();
            opened.add(deltaFile);
            ParameterAudit.LegacyDims dims = legacyDims(llmConfig, deltaConfig, ibConfig, settings, deltaFile);
            ParameterAudit.Report report = ParameterAudit.legacyDelta(dims).audit(deltaFile);
            Set<String> random = report.requireComplete(expandParts(options.allowRandomInit()));
            TensorStore delta = random.isEmpty() ? deltaFile : CompositeTensorStore.overriding(List.of(deltaFile,
                    randomParts(random, report, dims, vicuna, options.seed())));

            // widths before any tensor data is read
            DimsValidator v = new DimsValidator();
            v.require("ImageBind out_embed_dim (" + settings.source() + ")", ibConfig.outEmbedDim(),
                    "llama_proj.weight input width", shape(delta, "llama_proj.weight")[1]);
            v.require("llama_proj.weight output width", shape(delta, "llama_proj.weight")[0],
                    "LLM hidden_size (" + vicuna.resolve("config.json") + ")", llmConfig.hiddenSize());
            v.require("delta config.json hidden_size", deltaConfig.getInt("hidden_size"),
                    "vicuna config.json hidden_size", llmConfig.hiddenSize());
            Map<Modality, Path> decoderFolders = new EnumMap<>(Modality.class);
            if (options.loadImageDecoder() && parts.imageDecoder() != null) {
                decoderFolders.put(Modality.IMAGE, parts.imageDecoder());
            }
            if (options.loadMediaDecoders() && parts.videoDecoder() != null) {
                decoderFolders.put(Modality.VIDEO, parts.videoDecoder());
            }
            if (options.loadMediaDecoders() && parts.audioDecoder() != null) {
                decoderFolders.put(Modality.AUDIO, parts.audioDecoder());
            }
            for (Map.Entry<Modality, Path> e : decoderFolders.entrySet()) {
                Modality m = e.getKey();
                long[] cs = decoderConditioningShape(m, e.getValue());
                int out = m == Modality.IMAGE ? dims.imageOut() : m == Modality.VIDEO ? dims.videoOut()
                        : dims.audioOut();
                v.require(m + " TextFcLayer output width (" + projectorPrefix(m) + "model.weight in the delta)", out,
                        m + " decoder conditioning width (" + e.getValue() + ", shape " + Arrays.toString(cs) + ")",
                        cs[cs.length - 1]);
            }
            v.validate();

            LlamaModel llm = loadLlm(llmConfig, vicuna, delta, options.device());
            opened.add(llm);
            try (LoraAdapter lora = loraOf(delta, settings)) {
                if (lora != null) {
                    llm.applyLora(lora, true);
                }
            }
            ImageBindModel imagebind = ImageBindModel.load(ibPath, ibConfig, manager,
                    EnumSet.of(dev.nextgpt.runtime.imagebind.Modality.VISION,
                            dev.nextgpt.runtime.imagebind.Modality.AUDIO));
            opened.add(imagebind);
            NDArray projW = delta.load(manager, "llama_proj.weight");
            NDArray projB = delta.load(manager, "llama_proj.bias");
            Map<Modality, TransformerOutputProjector> projectors = new EnumMap<>(Modality.class);
            for (Modality m : Modality.values()) {
                TransformerOutputProjector p = TransformerOutputProjector.load(delta, projectorPrefix(m),
                        TransformerOutputProjector.Naming.LEGACY_TEXTFC, TransformerOutputProjector.DEFAULT_HEADS,
                        manager);
                projectors.put(m, p);
                opened.add(p);
            }
            Map<Modality, ModalityDecoder> decoders = new EnumMap<>(Modality.class);
            if (options.loadImageDecoder() && parts.imageDecoder() != null) {
                decoders.put(Modality.IMAGE, loadDecoder(Modality.IMAGE, parts.imageDecoder(),
                        projectors.get(Modality.IMAGE), opened));
            }
            if (options.loadMediaDecoders() && parts.videoDecoder() != null) {
                decoders.put(Modality.VIDEO, loadDecoder(Modality.VIDEO, parts.videoDecoder(),
                        projectors.get(Modality.VIDEO), opened));
            }
            if (options.loadMediaDecoders() && parts.audioDecoder() != null) {
                decoders.put(Modality.AUDIO, loadDecoder(Modality.AUDIO, parts.audioDecoder(),
                        projectors.get(Modality.AUDIO), opened));
            }
            if (delta != deltaFile) {
                delta.close();
            } else {
                deltaFile.close();
            }
            return new LegacyNextGpt(manager, llm, tokenizer, settings, imagebind, projW, projB, projectors, decoders,
                    random);
        } catch (RuntimeException e) {
            for (int i = opened.size() - 1; i >= 0; i--) {
                try {
                    opened.get(i).close();
                } catch (Exception ignored) {
                    // best effort
                }
            }
            manager.close();
            throw e;
        }
    }

    /**
     * The conditioning shape the decoder folder of {@code m} accepts, read from its configs without loading
     * weights: image/video {@code [1, 77, cross_attention_dim]}, audio {@code [1, projection dim]}.
     */
    public static long[] decoderConditioningShape(Modality m, Path folder) {
        if (!Files.isDirectory(folder)) {
            throw new InvalidInputException(m.name().toLowerCase(java.util.Locale.ROOT) + " decoder folder " + folder
                    + " does not exist");
        }
        return switch (m) {
            case IMAGE -> StableDiffusionDecoder.conditioningShapeOf(folder);
            case VIDEO -> VideoDiffusionDecoder.conditioningShapeOf(folder);
            case AUDIO -> AudioDiffusionDecoder.conditioningShapeOf(folder);
        };
    }

    /**
     * Checks that the {@code m} TextFcLayer's output width equals the decoder's conditioning width (from the folder's
     * configs, before any weight is read), naming both sides when not.
     */
    public static void requireDecoderFits(Modality m, TransformerOutputProjector projector, Path folder) {
        long[] cs = decoderConditioningShape(m, folder);
        DimsValidator v = new DimsValidator();
        v.require(m + " TextFcLayer output width", projector.config().outDim(), m + " decoder conditioning width ("
                + folder + ", shape " + Arrays.toString(cs) + ")", cs[cs.length - 1]);
        v.validate();
    }

    /** Loads the decoder of {@code m} from {@code folder} after {@link #requireDecoderFits}. */
    public static ModalityDecoder loadDecoder(Modality m, Path folder, TransformerOutputProjector projector) {
        if (projector != null) {
            requireDecoderFits(m, projector, folder);
        }
        return switch (m) {
            case IMAGE -> StableDiffusionDecoder.load(folder);
            case VIDEO -> VideoDiffusionDecoder.load(folder);
            case AUDIO -> AudioDiffusionDecoder.load(folder);
        };
    }

    private static ModalityDecoder loadDecoder(Modality m, Path folder, TransformerOutputProjector projector,
                                               List<AutoCloseable> opened) {
        ModalityDecoder d = loadDecoder(m, folder, projector);
        opened.add(d);
        return d;
    }

    /** Loads and installs the decoder of {@code m} (validated first); the previous one is closed. */
    public void loadDecoder(Modality m, Path folder) {
        ModalityDecoder d = loadDecoder(m, folder, projectors.get(m));
        ModalityDecoder old;
        try {
            old = setDecoder(m, d);
        } catch (RuntimeException e) {
            d.close();
            throw e;
        }
        if (old != null) {
            old.close();
        }
    }

    private static long[] shape(TensorStore s, String name) {
        return s.info(name).shape();
    }

    /** The delta tokenizer (with the 38 added tokens), or Vicuna's plus the tokens added as the original does. */
    static LlamaTokenizer loadTokenizer(Path deltaDir, Path vicuna) {
        if (Files.isRegularFile(deltaDir.resolve("tokenizer.json"))) {
            return LlamaTokenizer.load(deltaDir);
        }
        try (LlamaTokenizer base = LlamaTokenizer.load(vicuna)) {
            return base.withLegacySignalTokens();
        }
    }

    /** Sizes the delta must have: LLM from the configs, ImageBind from its config, the rest from the settings/shapes. */
    private static ParameterAudit.LegacyDims legacyDims(LlamaConfig llm, JsonConfig deltaConfig, ImageBindConfig ib,
                                                        LegacySettings s, TensorStore delta) {
        ParameterAudit.LegacyDims real = ParameterAudit.REAL_7B_TIVA_V0;
        int width = dimOr(delta, "gen_text_hidden_fcs.0.fc.weight", 0, real.textFcWidth());
        int img = dimOr(delta, "gen_text_hidden_fcs.0.model.weight", 0, real.imageOut());
        int vid = dimOr(delta, "gen_text_hidden_fcs_video.0.model.weight", 0, real.videoOut());
        int aud = dimOr(delta, "gen_text_hidden_fcs_audio.0.model.weight", 0, real.audioOut());
        int layers = 0;
        while (delta.contains("gen_text_hidden_fcs.0.tfm.encoder.layers." + layers + ".linear1.weight")) {
            layers++;
        }
        if (layers == 0) {
            layers = real.textFcLayers();
        }
        return new ParameterAudit.LegacyDims(llm.hiddenSize(), llm.numLayers(), deltaConfig.getInt("vocab_size"),
                ib.outEmbedDim(), width, img, vid, aud, s.numClipTokens(), s.numClipTokens(), 1, layers, s.loraRank(),
                s.loraTargets());
    }

    private static int dimOr(TensorStore s, String name, int axis, int fallback) {
        return s.contains(name) ? (int) s.info(name).shape()[axis] : fallback;
    }

    /** Maps API part names ({@code input_projector}, {@code output_projectors}, ...) to audit parts. */
    static Set<String> expandParts(Set<String> parts) {
        Set<String> out = new LinkedHashSet<>();
        for (String p : parts) {
            switch (p) {
                case "*" -> out.addAll(List.of(ParameterAudit.PART_INPUT_PROJECTOR,
                        ParameterAudit.PART_IMAGE_OUTPUT_PROJECTOR, ParameterAudit.PART_VIDEO_OUTPUT_PROJECTOR,
                        ParameterAudit.PART_AUDIO_OUTPUT_PROJECTOR, ParameterAudit.PART_LORA,
                        ParameterAudit.PART_EMBEDDINGS, ParameterAudit.PART_LM_HEAD));
                case "input_projector" -> out.add(ParameterAudit.PART_INPUT_PROJECTOR);
                case "output_projectors" -> out.addAll(List.of(ParameterAudit.PART_IMAGE_OUTPUT_PROJECTOR,
                        ParameterAudit.PART_VIDEO_OUTPUT_PROJECTOR, ParameterAudit.PART_AUDIO_OUTPUT_PROJECTOR));
                case "language_model" -> out.addAll(List.of(ParameterAudit.PART_EMBEDDINGS,
                        ParameterAudit.PART_LM_HEAD));
                default -> out.add(p);
            }
        }
        return out;
    }

    /**
     * Random tensors for the missing ones of the allowed parts: biases 0, LayerNorm weights 1, LoRA B 0 (peft's
     * init, so the adapter is a no-op), other weights N(0, 0.02²); missing {@code embed_tokens}/{@code lm_head}
     * keep Vicuna's rows and get N(0, 0.02²) rows for the added tokens (HF {@code resize_token_embeddings}).
     */
    private static TensorStore randomParts(Set<String> parts, ParameterAudit.Report report,
                                           ParameterAudit.LegacyDims dims, Path vicuna, long seed) {
        InMemoryTensorStore s = new InMemoryTensorStore("random-init " + parts, seed);
        for (ParameterAudit.Finding f : report.missing()) {
            if (!parts.contains(f.part())) {
                continue;
            }
            String n = f.name();
            long[] shape = f.expected();
            if (f.part().equals(ParameterAudit.PART_EMBEDDINGS) || f.part().equals(ParameterAudit.PART_LM_HEAD)) {
                String baseName = f.part().equals(ParameterAudit.PART_LM_HEAD) ? "lm_head.weight"
                        : "model.embed_tokens.weight";
                float[] values = new float[Math.toIntExact(shape[0] * shape[1])];
                InMemoryTensorStore tail = new InMemoryTensorStore("rows", seed + 1).normal("t", 0.02, shape);
                System.arraycopy(tail.readFloats("t"), 0, values, 0, values.length);
                try (TensorStore base = Checkpoints.open(vicuna)) {
                    float[] b = base.readFloats(baseName);
                    System.arraycopy(b, 0, values, 0, Math.min(b.length, values.length));
                }
                s.put(n, shape, values);
            } else if (n.endsWith(".bias") || n.endsWith("lora_B.default.weight")) {
                s.zeros(n, shape);
            } else if (n.contains("norm") && n.endsWith(".weight")) {
                s.ones(n, shape);
            } else {
                s.normal(n, 0.02, shape);
            }
        }
        return s;
    }

    private static LlamaModel loadLlm(LlamaConfig config, Path vicuna, TensorStore delta, Device device) {
        String p = "llama_model.base_model.model.";
        try (TensorStore base = Checkpoints.open(vicuna);
             TensorStore rows = TensorStores.view(delta, p)) {
            for (String n : List.of("model.embed_tokens.weight", "lm_head.weight")) {
                if (!rows.contains(n)) {
                    throw new ModelFormatException("legacy delta " + delta.source() + " lacks '" + p + n + "'");
                }
            }
            // the delta replaces the whole embed_tokens / lm_head (README §3); everything else is Vicuna's
            CompositeTensorStore merged = CompositeTensorStore.overriding(List.of(base, rows));
            return LlamaModel.load(config, merged, device, DataType.FLOAT32);
        }
    }

    private static LoraAdapter loraOf(TensorStore delta, LegacySettings s) {
        boolean any = delta.names().stream().anyMatch(n -> n.contains(".lora_A."));
        if (!any) {
            return null;
        }
        return LoraAdapter.fromStore(delta, "llama_model.", s.loraRank(), s.loraAlpha(), false);
    }

    /** Key prefix of the TextFcLayer of {@code m} in the delta. */
    public static String projectorPrefix(Modality m) {
        return switch (m) {
            case IMAGE -> "gen_text_hidden_fcs.0.";
            case VIDEO -> "gen_text_hidden_fcs_video.0.";
            case AUDIO -> "gen_text_hidden_fcs_audio.0.";
        };
    }

    private void validateDims() {
        DimsValidator v = new DimsValidator();
        if (imagebind != null) {
            v.encoderSide("ImageBind", imagebind.config().outEmbedDim(), "llama_proj",
                    llamaProjWeight.getShape().get(1), llamaProjWeight.getShape().get(0), "LLM", llm.hiddenSize());
        }
        v.require("LLM embedding rows", llm.embeddingRows(), "tokenizer vocabulary", llamaTokenizer.vocabSize());
        for (Map.Entry<Modality, TransformerOutputProjector> e : projectors.entrySet()) {
            TransformerOutputProjector.Config c = e.getValue().config();
            ModalityDecoder d = decoders.get(e.getKey());
            v.require("LLM hidden size", llm.hiddenSize(), e.getKey() + " TextFcLayer input width", c.inDim());
            if (d != null) {
                long[] cs = d.conditioningShape();
                v.require(e.getKey() + " TextFcLayer output width", c.outDim(), e.getKey()
                        + " decoder conditioning width", cs[cs.length - 1]);
            }
        }
        v.validate();
    }

    // ------------------------------------------------------------------------------------------------ inference

    public LlamaModel llm() {
        return llm;
    }

    public TextTokenizer tokenizer() {
        return tokenizer;
    }

    public LlamaTokenizer llamaTokenizer() {
        return llamaTokenizer;
    }

    public SignalTokens signalTokens() {
        return tokens;
    }

    public LegacySettings settings() {
        return settings;
    }

    public LegacyPromptBuilder promptBuilder() {
        return promptBuilder;
    }

    /** Parts that were randomly initialised because they were missing and allowed. */
    public Set<String> randomInitParts() {
        return randomInitParts;
    }

    public Optional<ModalityDecoder> decoder(Modality m) {
        return Optional.ofNullable(decoders.get(m));
    }

    /**
     * Replaces (or with null removes) the decoder of {@code m} and returns the previous one, which the caller now
     * owns (it is not closed). The new decoder is closed with this object.
     */
    public ModalityDecoder setDecoder(Modality m, ModalityDecoder d) {
        ModalityDecoder old = d == null ? decoders.remove(m) : decoders.put(m, d);
        validateDims();
        return old;
    }

    public Optional<TransformerOutputProjector> projector(Modality m) {
        return Optional.ofNullable(projectors.get(m));
    }

    /** Arrays held by this object's own manager (projector and encoder weights); constant across calls. */
    public int managedArrays() {
        return manager.getManagedArrays().size();
    }

    /** Context length of the LLM ({@code max_position_embeddings}). */
    public int contextLength() {
        return llm.config().maxPositionEmbeddings();
    }

    /**
     * Number of input-embedding rows {@code prompt} produces (text ids + one BOS per text piece + 3 per media
     * piece), computed without encoding any media.
     */
    public int promptRows(String prompt) {
        int n = 0;
        for (LegacyPromptBuilder.Piece p : promptBuilder.pieces(prompt)) {
            n += p.isMedia() ? 3 : 1 + p.ids().length;
        }
        return n;
    }

    /**
     * ImageBind legacy embedding {@code [1, D]} of one file (images: vision; audio: 3 clips averaged; video: vision
     * over 5 clips × 3 crops, averaged).
     */
    public NDArray imagebindEmbedding(Modality modality, Path file, NDManager m) {
        if (imagebind == null) {
            throw new UnsupportedConfigurationException("this NExT-GPT instance has no ImageBind encoder");
        }
        if (!Files.isRegularFile(file)) {
            throw new InvalidInputException(modality.legacyTag() + " input file " + file + " does not exist");
        }
        NDArray input;
        dev.nextgpt.runtime.imagebind.Modality ibm;
        switch (modality) {
            case IMAGE -> {
                int s = imagePreprocessor.size();
                input = m.create(imagePreprocessor.process(file), new Shape(1, 3, s, s));
                ibm = dev.nextgpt.runtime.imagebind.Modality.VISION;
            }
            case AUDIO -> {
                AudioPreprocessor.Result r = audioPreprocessor.process(file);
                long[] shape = new long[r.shape().length + 1];
                shape[0] = 1;
                System.arraycopy(r.shape(), 0, shape, 1, r.shape().length);
                input = m.create(r.values(), new Shape(shape));
                ibm = dev.nextgpt.runtime.imagebind.Modality.AUDIO;
            }
            case VIDEO -> {
                VideoPreprocessor.Result r = preprocessVideo(file);
                long[] shape = new long[r.shape().length + 1];
                shape[0] = 1;
                System.arraycopy(r.shape(), 0, shape, 1, r.shape().length);
                input = m.create(r.values(), new Shape(shape)); // (1, clips·crops, 3, T, H, W)
                ibm = dev.nextgpt.runtime.imagebind.Modality.VISION;
            }
            default -> throw new IllegalStateException(modality.name());
        }
        ImageBindModel.Encoding e = imagebind.encode(ibm, input);
        NDArray out = e.nextgptLegacy();
        for (NDArray a : new NDArray[] {e.imagebind(), e.imagebindPerClip(), e.nextgpt(), e.headOutput(),
                e.trunkOutput(), e.seqLen()}) {
            if (a != null && a != out) {
                a.close();
            }
        }
        input.close();
        return out;
    }

    /**
     * ImageBind's video preprocessing ({@code load_and_transform_video_data}: 5 clips × 3 crops) of an MP4 (H.264)
     * or animated GIF file.
     */
    private VideoPreprocessor.Result preprocessVideo(Path file) {
        if (file.getFileName().toString().toLowerCase(java.util.Locale.ROOT).endsWith(".gif")) {
            dev.nextgpt.VideoPart v = dev.nextgpt.VideoPart.readGif(file);
            List<java.awt.image.BufferedImage> frames = new ArrayList<>();
            for (dev.nextgpt.ImagePart f : v.frames()) {
                frames.add(f.toBufferedImage());
            }
            return videoPreprocessor.process(frames, v.fps());
        }
        return videoPreprocessor.process(file);
    }

    /** Rows of the LLM's input embedding table (delta {@code embed_tokens}). */
    public EmbeddingLookup embeddingLookup() {
        return new EmbeddingLookup() {
            @Override
            public NDArray rows(NDManager mm, long[] ids) {
                return llm.embed(mm, mm.create(ids));
            }

            @Override
            public int hiddenSize() {
                return llm.hiddenSize();
            }
        };
    }

    /** {@code llama_proj(x)}: {@code [n, D] → [n, H]}. */
    public NDArray llamaProj(NDArray x) {
        return x.matMul(llamaProjWeight.transpose()).add(llamaProjBias);
    }

    /** Runs the legacy procedure; arrays of the result belong to {@code m}. */
    public Result generate(Request request, NDManager m) {
        String prompt = request.prompt();
        List<LegacyPromptBuilder.Piece> pieces = promptBuilder.pieces(prompt);
        int rows = 0;
        for (LegacyPromptBuilder.Piece p : pieces) {
            rows += p.isMedia() ? 3 : 1 + p.ids().length;
        }
        if (rows + 1 > contextLength()) {
            throw new InvalidInputException("the prompt needs " + rows + " input positions but the LLM context "
                    + "(max_position_embeddings) is " + contextLength() + "; shorten the prompt or the history");
        }
        int maxNew = Math.max(1, Math.min(request.maxNewTokens(), contextLength() - rows));
        List<Feature> features = new ArrayList<>();
        MediaFeatureEncoder encoder = (mod, path, mm) -> {
            Path f = request.mediaBase() == null ? Path.of(path) : request.mediaBase().resolve(path);
            NDArray ib = imagebindEmbedding(mod, f, mm);
            NDArray proj = llamaProj(ib);
            features.add(new Feature(mod, path, ib, proj));
            return proj;
        };
        NDArray embeds = promptBuilder.inputEmbeddings(pieces, embeddingLookup(), encoder, m);
        return finish(request, pieces, embeds, features, maxNew, m);
    }

    private Result finish(Request request, List<LegacyPromptBuilder.Piece> pieces, NDArray embeds,
                          List<Feature> features, int maxNew, NDManager m) {
        GenerationOptions o = new GenerationOptions().greedy().maxNewTokens(maxNew)
                .eosTokenIds(Math.toIntExact(tokenizer.eosId())).collectHiddenStates(true).collectLogits(true);
        Sampling sampling = request.sampling() == null ? Sampling.GREEDY : request.sampling();
        sampling.applyTo(o);
        if (!sampling.stopStrings().isEmpty()) {
            o.tokenizer(llamaTokenizer);
        }
        for (long s : stopIds) {
            o.stopIds(s);
        }
        if (request.logitsProcessor() != null) {
            o.logitsProcessor(request.logitsProcessor());
        }
        if (request.textStreamer() != null) {
            Consumer<String> sink = request.textStreamer();
            o.tokenizer(llamaTokenizer).streamer((row, delta) -> sink.accept(delta));
        }
        if (request.cancel() != null) {
            o.cancelFlag(request.cancel());
        }
        LlamaGenerator.Result gen = new LlamaGenerator(llm).generateFromEmbeds(embeds.expandDims(0), null, o);
        long[] generated = gen.newTokens()[0];
        long[] sequences = new long[generated.length + 1];
        sequences[0] = tokenizer.bosId();
        System.arraycopy(generated, 0, sequences, 1, generated.length);
        NDArray hidden = gen.hiddenStates(m, 0);
        float[][][] lg = gen.stepLogits();
        int vocab = lg.length == 0 ? 0 : lg[0][0].length;
        float[] flat = new float[lg.length * vocab];
        for (int i = 0; i < lg.length; i++) {
            System.arraycopy(lg[i][0], 0, flat, i * vocab, vocab);
        }
        NDArray stepLogits = m.create(flat, new Shape(lg.length, vocab));

        List<Signal> signals = new ArrayList<>();
        List<String> texts = new ArrayList<>();
        Map<Modality, Integer> caps = request.maxPerModality();
        SignalSpanDetector detector = new SignalSpanDetector(tokens, caps);
        boolean cancelled = gen.finishReasons()[0] == LlamaGenerator.FinishReason.CANCELLED;
        if (!cancelled) {
            for (Modality mod : List.of(Modality.IMAGE, Modality.VIDEO, Modality.AUDIO)) {
                List<SignalSpanDetector.SignalSpan> spans = detector.detect(sequences, mod);
                if (spans.isEmpty()) {
                    continue;
                }
                List<String> returned = detector.legacyReturnedTexts(sequences, spans, tokenizer);
                for (int i = 0; i < spans.size(); i++) {
                    SignalSpanDetector.SignalSpan span = spans.get(i);
                    NDArray raw = SignalSpanDetector.signalHidden(hidden, span, 1);
                    long[] prefixIds = tokenizer.encode(tokens.signalString(mod));
                    NDArray prefix = llm.embed(m, m.create(prefixIds)).toType(DataType.FLOAT32, false);
                    TransformerOutputProjector proj = projectors.get(mod);
                    if (proj == null) {
                        throw new UnsupportedConfigurationException("no " + mod + " output projector is loaded");
                    }
                    NDArray out = proj.forward(raw, prefix);
                    NDArray cond = mod == Modality.AUDIO ? out.reshape(1, -1) : out.expandDims(0);
                    signals.add(new Signal(span, raw, prefix, out, cond, returned.get(i)));
                    texts.add(returned.get(i));
                }
            }
        }
        if (signals.isEmpty()) {
            texts.add(SignalSpanDetector.textOnly(sequences, tokenizer));
        }
        return new Result(pieces, embeds, features, gen, generated, sequences, hidden, stepLogits,
                List.copyOf(signals), List.copyOf(texts));
    }

    /** The answer text for display: the generated ids before the first signal token or stop, decoded. */
    public String displayText(Result r) {
        long[] g = r.generatedIds();
        int end = g.length;
        for (int i = 0; i < g.length; i++) {
            boolean signal = false;
            for (Modality mod : Modality.values()) {
                for (long id : tokens.ids(mod)) {
                    signal |= g[i] == id;
                }
            }
            if (signal) {
                end = i;
                break;
            }
        }
        String text = tokenizer.decode(Arrays.copyOf(g, end), true);
        if (text.endsWith("###")) {
            text = text.substring(0, text.length() - 3);
        }
        return text.strip();
    }

    /** Decodes one signal with the configured decoder of its modality. */
    public ModalityDecoder.Output decode(Signal s, ModalityDecoder.Options options, ModalityDecoder.Progress progress,
                                        java.util.function.BooleanSupplier cancelled) {
        ModalityDecoder d = decoders.get(s.span().modality());
        if (d == null) {
            throw new UnsupportedConfigurationException("no " + s.span().modality() + " decoder is configured");
        }
        return d.decode(s.conditioning(), options, progress, cancelled);
    }

    @Override
    public void close() {
        for (ModalityDecoder d : decoders.values()) {
            d.close();
        }
        for (TransformerOutputProjector p : projectors.values()) {
            p.close();
        }
        if (imagebind != null) {
            imagebind.close();
        }
        llm.close();
        llamaTokenizer.close();
        manager.close();
    }
}
