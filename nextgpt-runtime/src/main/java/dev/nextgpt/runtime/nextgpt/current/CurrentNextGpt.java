package dev.nextgpt.runtime.nextgpt.current;

import dev.nextgpt.runtime.nextgpt.LlamaTextTokenizer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.UnsupportedConfigurationException;
import dev.nextgpt.runtime.imagebind.ImageBindModel;
import dev.nextgpt.runtime.llm.GenerationOptions;
import dev.nextgpt.runtime.llm.LlamaGenerator;
import dev.nextgpt.runtime.llm.LlamaModel;
import dev.nextgpt.runtime.llm.LlamaTokenizer;
import dev.nextgpt.runtime.nextgpt.EmbeddingLookup;
import dev.nextgpt.runtime.nextgpt.DimsValidator;
import dev.nextgpt.runtime.nextgpt.InputProjector;
import dev.nextgpt.runtime.nextgpt.Modality;
import dev.nextgpt.runtime.nextgpt.ModalityDecoder;
import dev.nextgpt.runtime.nextgpt.SignalSpanDetector;
import dev.nextgpt.runtime.nextgpt.SignalSpanDetector.SignalSpan;
import dev.nextgpt.runtime.nextgpt.SignalTokens;
import dev.nextgpt.runtime.nextgpt.TransformerOutputProjector;
import dev.nextgpt.runtime.nextgpt.current.CurrentPromptBuilder.Template;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.BooleanSupplier;

/**
 * The current-version (2024) NExT-GPT inference pipeline (reference §10 CURRENT), from already loaded parts:
 * <ol>
 *   <li>each input is encoded by ImageBind into patch tokens ({@code [1, T, 1024]}, image/video through the vision
 *       branch) and projected by {@code mm_input_projector} ({@code [1, 8, H]} for group, {@code [1, T, H]} for
 *       linear);</li>
 *   <li>the prompt ({@code conv_vicuna_v1} by default, placeholders {@code <image>\n} etc. before the text, in input
 *       order) goes through {@code tokenizer_multiple_token} and {@link CurrentSplice};</li>
 *   <li>the LLM generates with a KV cache (greedy by default: {@code top_k = 1}), collecting the last-layer
 *       (post-norm) hidden state of every fed generated token;</li>
 *   <li>for every modality, each occurrence of its first signal id (up to {@code max_num_*}, 5 by default) starts a
 *       span of 2N−1 ids whose every second id must be the signal sequence; the projector input is the span's
 *       hidden states plus the input-embedding rows of the span's ids (separators included), and the projector
 *       output is the conditioning a {@link ModalityDecoder} of that modality turns into media
 *       ({@link #decode});</li>
 *   <li>returned id pieces per modality follow the original: {@code ids[last : end]} then
 *       {@code last = start + 1}.</li>
 * </ol>
 * Built from parts with the constructor (the caller keeps ownership) or from a checkpoint with {@link #load} (this
 * object owns and closes everything). Batch size 1, as the original {@code generate}. Not thread-safe.
 */
public final class CurrentNextGpt implements AutoCloseable {

    /** Pipeline settings. */
    public record Settings(Template template, Map<Modality, Integer> maxPerModality, int tokenizerModelMaxLength,
                           Map<Modality, Integer> signalCounts) {
        /** Training template, 5 requests per modality, 2048 tokens, 4/24/8 signal tokens. */
        public static Settings defaults() {
            return new Settings(Template.VICUNA_V1, Map.of(Modality.IMAGE, 5, Modality.VIDEO, 5, Modality.AUDIO, 5),
                    2048, CurrentSignalTokens.DEFAULT_COUNTS);
        }

        public Settings withTemplate(Template t) {
            return new Settings(t, maxPerModality, tokenizerModelMaxLength, signalCounts);
        }

        public Settings withSignalCounts(Map<Modality, Integer> counts) {
            return new Settings(template, maxPerModality, tokenizerModelMaxLength, counts);
        }
    }

    /** One input medium: its modality and the preprocessed ImageBind input (e.g. {@code [1, 3, 224, 224]}). */
    public record MediaInput(Modality modality, NDArray preprocessed) {
    }

    /**
     * One generation request found in the output.
     *
     * @param span         the signal span (positions in the generated ids)
     * @param idPiece      {@code generated_ids[last_ret_idx : end]} as the original returns it
     * @param conditioning the projector output a decoder receives ({@code [1, Q, D]}; audio {@code [1, D]})
     */
    public record Request(SignalSpan span, long[] idPiece, NDArray conditioning) {
    }

    /**
     * The outcome.
     *
     * @param prompt        the prompt text
     * @param promptIds     {@code tokenizer_multiple_token} ids (with placeholders)
     * @param splice        the spliced prompt (embeddings, placements)
     * @param generatedIds  the new ids ({@code sequences} of the original, which holds only new ids)
     * @param text          the generated text decoded without special tokens
     * @param requests      per modality, in order of appearance
     * @param finishReason  why generation stopped
     */
    public record Output(String prompt, long[] promptIds, CurrentSplice.Result splice, long[] generatedIds,
                         String text, Map<Modality, List<Request>> requests, LlamaGenerator.FinishReason finishReason) {
        /** Requests of all modalities ordered by position. */
        public List<Request> requestsInOrder() {
            List<Request> all = new ArrayList<>();
            requests.values().forEach(all::addAll);
            all.sort((a, b) -> Integer.compare(a.span().start(), b.span().start()));
            return all;
        }
    }

    private final LlamaModel llm;
    private final LlamaTokenizer tokenizer;
    private final LlamaTextTokenizer text;
    private final ImageBindModel imagebind;
    private final InputProjector inputProjector;
    private final Map<Modality, TransformerOutputProjector> outputProjectors;
    private final Map<Modality, ModalityDecoder> decoders;
    private final Settings settings;
    private final SignalTokens signals;
    private final EmbeddingLookup embeddings;
    private final List<AutoCloseable> owned = new ArrayList<>();
    private Set<String> randomInitParts = Set.of();
    private List<String> loadNotes = List.of();

    /**
     * @param tokenizer         the LLM tokenizer with the current signal tokens added as special tokens
     * @param imagebind         may be null when no media input is used
     * @param inputProjector    may be null when no media input is used
     * @param outputProjectors  per modality (missing ones: requests of that modality fail)
     * @param decoders          per modality (missing ones: requests carry only the conditioning)
     */
    public CurrentNextGpt(LlamaModel llm, LlamaTokenizer tokenizer, ImageBindModel imagebind,
                          InputProjector inputProjector, Map<Modality, TransformerOutputProjector> outputProjectors,
                          Map<Modality, ModalityDecoder> decoders, Settings settings) {
        this.llm = llm;
        this.tokenizer = tokenizer;
        this.text = new LlamaTextTokenizer(tokenizer);
        this.imagebind = imagebind;
        this.inputProjector = inputProjector;
        this.outputProjectors = new EnumMap<>(Modality.class);
        this.outputProjectors.putAll(outputProjectors);
        this.decoders = new EnumMap<>(Modality.class);
        this.decoders.putAll(decoders);
        this.settings = settings;
        // the original checks only every second id of a span (the signal ids), not the separators
        this.signals = SignalTokens.of(SignalTokens.Version.CURRENT, text, settings.signalCounts(), null);
        if (tokenizer.vocabSize() > llm.embeddingRows()) {
            throw new InvalidInputException("the tokenizer has " + tokenizer.vocabSize() + " ids but the LLM embedding "
                    + "table only " + llm.embeddingRows() + " rows (resize it for the signal tokens)");
        }
        this.embeddings = new EmbeddingLookup() {
            @Override
            public NDArray rows(NDManager manager, long[] ids) {
                return llm.embed(manager, new long[][] {ids}).squeeze(0);
            }

            @Override
            public int hiddenSize() {
                return llm.hiddenSize();
            }
        };
        for (Map.Entry<Modality, TransformerOutputProjector> e : this.outputProjectors.entrySet()) {
            int in = e.getValue().config().inDim();
            if (in != llm.hiddenSize()) {
                throw new InvalidInputException(e.getKey() + " output projector expects width " + in
                        + " but the LLM hidden size is " + llm.hiddenSize());
            }
        }
        if (inputProjector != null && inputProjector.outDim() > 0 && inputProjector.outDim() != llm.hiddenSize()) {
            throw new InvalidInputException("input projector outputs width " + inputProjector.outDim()
                    + " but the LLM hidden size is " + llm.hiddenSize());
        }
        validateDecoders();
    }

    private void validateDecoders() {
        DimsValidator v = new DimsValidator();
        for (Map.Entry<Modality, ModalityDecoder> e : decoders.entrySet()) {
            TransformerOutputProjector p = outputProjectors.get(e.getKey());
            if (p != null) {
                long[] cs = e.getValue().conditioningShape();
                v.require(e.getKey() + " output projector out_fc width", p.config().outDim(), e.getKey()
                        + " decoder conditioning width", cs[cs.length - 1]);
            }
        }
        v.validate();
    }

    /**
     * Loads a current-version system folder (see {@link CurrentSystemLoader}): a full {@code nextgpt_llama} folder,
     * a base model plus {@code mm_input_projector.bin} / {@code mm_output_projector.bin}, or a LoRA run
     * ({@code adapter_model} + {@code non_lora_trainables.bin}).
     */
    public static CurrentNextGpt load(Path root, CurrentSystemLoader.LoadOptions options) {
        return CurrentSystemLoader.load(root, options);
    }

    /** Hands {@code resources} to this object: they are closed (last first) by {@link #close()}. */
    void own(List<? extends AutoCloseable> resources, Set<String> randomInit, List<String> notes) {
        owned.addAll(resources);
        this.randomInitParts = Set.copyOf(randomInit);
        this.loadNotes = List.copyOf(notes);
    }

    public LlamaModel llm() {
        return llm;
    }

    public LlamaTokenizer tokenizer() {
        return tokenizer;
    }

    public Settings settings() {
        return settings;
    }

    public Optional<ImageBindModel> imagebind() {
        return Optional.ofNullable(imagebind);
    }

    public Optional<ModalityDecoder> decoder(Modality m) {
        return Optional.ofNullable(decoders.get(m));
    }

    public Optional<TransformerOutputProjector> outputProjector(Modality m) {
        return Optional.ofNullable(outputProjectors.get(m));
    }

    /** Parts that were randomly initialised because they were missing and the caller allowed it. */
    public Set<String> randomInitParts() {
        return randomInitParts;
    }

    /** What loading noticed but did not fail on (e.g. LoRA modules that target the input projector). */
    public List<String> loadNotes() {
        return loadNotes;
    }

    public SignalTokens signalTokens() {
        return signals;
    }

    public EmbeddingLookup embeddings() {
        return embeddings;
    }

    /**
     * ImageBind patch tokens → input projector: {@code [B, n, H]} in {@code input}'s manager. Images and videos use
     * the vision branch, audio the audio branch.
     */
    public NDArray encodeMedia(Modality modality, NDArray input) {
        if (imagebind == null || inputProjector == null) {
            throw new UnsupportedConfigurationException("this pipeline has no ImageBind/input projector for media "
                    + "inputs");
        }
        dev.nextgpt.runtime.imagebind.Modality branch = modality == Modality.AUDIO
                ? dev.nextgpt.runtime.imagebind.Modality.AUDIO : dev.nextgpt.runtime.imagebind.Modality.VISION;
        ImageBindModel.Encoding e = imagebind.encode(branch, input);
        NDArray patches = e.nextgpt();
        NDArray projected = inputProjector.forward(patches);
        for (NDArray a : new NDArray[] {e.imagebind(), e.imagebindPerClip(), e.nextgptLegacy(), e.headOutput(),
                e.trunkOutput(), e.seqLen(), patches}) {
            if (a != null && a != projected) {
                a.close();
            }
        }
        return projected;
    }

    /** The single-turn prompt: placeholders of {@code media} (in order) before {@code userText}. */
    public String prompt(String userText, List<Modality> media) {
        return CurrentPromptBuilder.inferencePrompt(settings.template(), media, userText);
    }

    /**
     * Runs the pipeline for one user message. {@code options} is used as given plus hidden-state collection (set
     * greedy / {@code sample(temperature, 1, …)} for the original's top_k = 1).
     */
    public Output generate(String userText, List<MediaInput> media, GenerationOptions options, NDManager manager) {
        List<Modality> order = media.stream().map(MediaInput::modality).toList();
        return generateFromPrompt(prompt(userText, order), media, options, manager);
    }

    /**
     * Runs the pipeline for a complete prompt (any conversation); {@code media} fill the prompt's placeholders in
     * order, per modality.
     */
    public Output generateFromPrompt(String prompt, List<MediaInput> media, GenerationOptions options,
                                     NDManager manager) {
        long[] ids = CurrentPromptBuilder.tokenizerMultipleToken(prompt, text);
        Map<Modality, List<NDArray>> features = new EnumMap<>(Modality.class);
        for (MediaInput in : media) {
            NDArray f = encodeMedia(in.modality(), in.preprocessed());
            f.attach(manager);
            features.computeIfAbsent(in.modality(), k -> new ArrayList<>()).addAll(CurrentSplice.items(f));
        }
        CurrentSplice.Result spliced = CurrentSplice.splice(new long[][] {ids}, null, null, features, embeddings,
                settings.tokenizerModelMaxLength(), CurrentSplice.PaddingSide.RIGHT, manager);
        LlamaGenerator.Result gen = new LlamaGenerator(llm).generateFromEmbeds(spliced.inputsEmbeds(),
                spliced.attentionMask(), options.collectHiddenStates(true));
        long[] generated = gen.newTokens()[0];
        NDArray hidden = gen.hiddenStates(manager, 0);
        Map<Modality, List<Request>> requests = new EnumMap<>(Modality.class);
        SignalSpanDetector detector = new SignalSpanDetector(signals, settings.maxPerModality());
        for (Modality m : Modality.values()) {
            List<SignalSpan> spans = detector.detect(generated, m);
            if (spans.isEmpty()) {
                continue;
            }
            List<Request> out = new ArrayList<>();
            int last = 0;
            for (SignalSpan s : spans) {
                NDArray cond = conditioning(m, hidden, s, manager);
                out.add(new Request(s, Arrays.copyOfRange(generated, Math.min(last, s.end()), s.end()), cond));
                last = s.start() + 1;   // the original's quirk (generate_images/videos/audios)
            }
            requests.put(m, List.copyOf(out));
        }
        return new Output(prompt, ids, spliced, generated, tokenizer.decode(generated, true), requests,
                gen.finishReasons()[0]);
    }

    /**
     * The output-projector conditioning of one span: {@code projector(h[s:e] + E[ids[s:e]])}, audio viewed as
     * {@code [1, D]}.
     */
    public NDArray conditioning(Modality m, NDArray perStepHidden, SignalSpan span, NDManager manager) {
        TransformerOutputProjector p = outputProjectors.get(m);
        if (p == null) {
            throw new UnsupportedConfigurationException("the model generated a " + m + " request but has no " + m
                    + " output projector");
        }
        try (NDManager scope = manager.newSubManager()) {
            NDArray raw = SignalSpanDetector.signalHidden(perStepHidden, span, 0).expandDims(0);
            NDArray emb = embeddings.rows(scope, span.ids()).toType(raw.getDataType(), false).expandDims(0);
            NDArray x = raw.toDevice(scope.getDevice(), true);
            x.attach(scope);
            NDArray out = p.forward(x, emb);
            if (m == Modality.AUDIO) {
                out = out.reshape(out.getShape().get(0), out.getShape().get(2));
            }
            out.attach(manager);
            return out;
        }
    }

    /**
     * Decodes one request with the decoder of its modality. C defaults where {@code options} leaves them open:
     * 16 video frames, 5 s of audio (image size: the UNet's sample size).
     */
    public ModalityDecoder.Output decode(Request r, ModalityDecoder.Options options, ModalityDecoder.Progress progress,
                                         BooleanSupplier cancelled) {
        Modality m = r.span().modality();
        ModalityDecoder d = decoders.get(m);
        if (d == null) {
            throw new UnsupportedConfigurationException("no " + m + " decoder is configured");
        }
        ModalityDecoder.Options o = options == null ? ModalityDecoder.Options.defaults() : options;
        if (m == Modality.VIDEO && o.frames() == null) {
            o = o.withFrames(DEFAULT_VIDEO_FRAMES);
        } else if (m == Modality.AUDIO && o.seconds() == null) {
            o = o.withSeconds(DEFAULT_AUDIO_SECONDS);
        }
        return d.decode(r.conditioning(), o, progress, cancelled == null ? () -> false : cancelled);
    }

    /** C {@code generate_videos} default {@code num_frames}. */
    public static final int DEFAULT_VIDEO_FRAMES = 16;
    /** C {@code generate_audios} default {@code audio_length_in_s}. */
    public static final double DEFAULT_AUDIO_SECONDS = 5.0;

    /** Closes what {@link #load} opened (nothing for a system built from caller-owned parts). */
    @Override
    public void close() {
        RuntimeException first = null;
        for (int i = owned.size() - 1; i >= 0; i--) {
            try {
                owned.get(i).close();
            } catch (Exception e) {
                if (first == null) {
                    first = e instanceof RuntimeException re ? re : new IllegalStateException(e);
                }
            }
        }
        owned.clear();
        if (first != null) {
            throw first;
        }
    }
}
