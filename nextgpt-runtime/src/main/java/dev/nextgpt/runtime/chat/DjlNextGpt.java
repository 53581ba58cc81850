package dev.nextgpt.runtime.chat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.AudioPart;
import dev.nextgpt.ChatListener;
import dev.nextgpt.ChatRequest;
import dev.nextgpt.ChatResponse;
import dev.nextgpt.ComputeDtype;
import dev.nextgpt.FinishReason;
import dev.nextgpt.GenerationOptions;
import dev.nextgpt.AudioGenerationOptions;
import dev.nextgpt.ImageGenerationOptions;
import dev.nextgpt.VideoGenerationOptions;
import dev.nextgpt.ImagePart;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.MediaRequestPart;
import dev.nextgpt.ModelInfo;
import dev.nextgpt.ModelVersion;
import dev.nextgpt.NextGpt;
import dev.nextgpt.NextGptConfig;
import dev.nextgpt.Part;
import dev.nextgpt.RuntimeFailureException;
import dev.nextgpt.TextGenerationOptions;
import dev.nextgpt.TextPart;
import dev.nextgpt.Turn;
import dev.nextgpt.UnsupportedConfigurationException;
import dev.nextgpt.VideoPart;
import dev.nextgpt.runtime.llm.GenerationOptions.LogitsProcessor;
import dev.nextgpt.runtime.llm.LlamaGenerator;
import dev.nextgpt.runtime.nextgpt.LegacyNextGpt;
import dev.nextgpt.runtime.nextgpt.LegacyPromptBuilder;
import dev.nextgpt.runtime.nextgpt.Modality;
import dev.nextgpt.runtime.nextgpt.ModalityDecoder;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;

/**
 * {@link NextGpt} over the DJL runtime, running the legacy NExT-GPT procedure ({@link LegacyNextGpt}).
 *
 * <ul>
 *   <li><b>Prompt</b>: the request's parts in any order become the demo message {@code media tags + " " + text}
 *       (images, then audio, then video tags, as {@code demo_app.py} orders them); history turns are replayed with
 *       the legacy later-turn template, so media of earlier turns are encoded again, as the original does. Media
 *       parts without a file are written to temporary files for the call.</li>
 *   <li><b>System prompt</b>: the legacy model has none; when a request carries one it is put before the first
 *       {@code ### Human:} followed by a newline, otherwise the prompt is exactly the demo's.</li>
 *   <li><b>Decoding</b>: the text options (temperature, top-p, top-k, repetition penalty, seed, stop strings,
 *       greedy; the defaults are the demo's near-greedy top_p 0.01), stop on {@code ###} or EOS, {@code maxNewTokens}
 *       from the text options. At most one media per modality and answer (the demo's {@code max_num_*}); property
 *       {@code nextgpt.max_media_per_modality} changes it.</li>
 *   <li><b>Output</b>: a {@link TextPart} with the answer (signal tokens and the closing {@code ###} removed), then
 *       one part per signal span in answer order: the decoded media, or a {@link MediaRequestPart} with the
 *       conditioning when no decoder is configured for that modality.</li>
 *   <li><b>Streaming</b>: text deltas as tokens arrive, then per-media step progress, each part, completion (or
 *       the error).</li>
 *   <li><b>Concurrency</b>: calls on one instance are serialised with a lock; every call computes in a child
 *       manager closed at its end, so native memory does not grow across calls.</li>
 *   <li><b>Forced signals</b> (tests and demos of the random model): property {@code nextgpt.force_signals}, e.g.
 *       {@code image,audio}, makes the answer a few free tokens followed by those signal spans and {@code ###}.</li>
 * </ul>
 */
public final class DjlNextGpt implements NextGpt {
    /** Property: comma-separated modalities whose signal tokens are forced into every answer. */
    public static final String FORCE_SIGNALS = "nextgpt.force_signals";
    /** Property: maximum number of media per modality and answer (legacy demo: 1). */
    public static final String MAX_MEDIA = "nextgpt.max_media_per_modality";
    /** Free tokens generated before forced signals. */
    static final int FORCED_FREE_TOKENS = 3;

    private final LegacyNextGpt model;
    private final NextGptConfig config;
    private final NDManager base;
    private final ReentrantLock lock = new ReentrantLock();
    private final List<Modality> forced;
    private final int maxMedia;
    private volatile boolean closed;

    DjlNextGpt(LegacyNextGpt model, NextGptConfig config) {
        this.model = model;
        this.config = config;
        this.base = NDManager.newBaseManager();
        this.forced = parseForced(config.property(FORCE_SIGNALS).orElse(""));
        this.maxMedia = Integer.parseInt(config.property(MAX_MEDIA).orElse("1"));
    }

    /** Loads the model the configuration describes. */
    public static DjlNextGpt create(NextGptConfig config) {
        if (config.version() != ModelVersion.LEGACY) {
            throw new UnsupportedConfigurationException("this runtime implements the legacy NExT-GPT (7b_tiva_v0); "
                    + "version " + config.version() + " is not supported");
        }
        if (!config.device().isCpu()) {
            throw new UnsupportedConfigurationException("device " + config.device() + ": this runtime build runs "
                    + "NExT-GPT on the CPU only");
        }
        if (config.dtype() != ComputeDtype.FLOAT32) {
            throw new UnsupportedConfigurationException("compute dtype " + config.dtype() + ": only FLOAT32 is "
                    + "supported by the legacy pipeline");
        }
        LegacyNextGpt m;
        if (config.demoModel()) {
            m = DemoModel.build(Long.parseLong(config.property("nextgpt.demo_seed").orElse("0")));
        } else {
            LegacyNextGpt.Components parts = components(config);
            if (config.imageDecoder() != null) {
                parts = parts.withImageDecoder(config.imageDecoder());
            }
            if (config.videoDecoder() != null) {
                parts = parts.withVideoDecoder(config.videoDecoder());
            }
            if (config.audioDecoder() != null) {
                parts = parts.withAudioDecoder(config.audioDecoder());
            }
            m = LegacyNextGpt.load(parts, LegacyNextGpt.LoadOptions.defaults()
                    .withAllowRandomInit(config.allowRandomInit()));
        }
        return new DjlNextGpt(m, config);
    }

    /** Property: a {@code nextgpt_config.json}-style settings file for a system given by separate component paths. */
    public static final String LEGACY_SETTINGS = "nextgpt.legacy_settings";

    /**
     * The legacy parts: the system folder's, each replaced by a separately given path (ImageBind, language model,
     * checkpoint), or all three separate paths without a folder.
     */
    private static LegacyNextGpt.Components components(NextGptConfig config) {
        Path settings = config.property(LEGACY_SETTINGS).map(Path::of).orElse(null);
        if (config.systemLayout() != null) {
            LegacyNextGpt.Components c = LegacyNextGpt.Components.of(
                    dev.nextgpt.runtime.nextgpt.LegacySystemLayout.inspect(config.systemLayout()));
            return new LegacyNextGpt.Components(settings != null ? settings : c.settings(),
                    config.languageModel() != null ? config.languageModel() : c.vicuna(),
                    config.checkpoint() != null ? config.checkpoint() : c.delta(),
                    config.imageBind() != null ? config.imageBind() : c.imagebind(),
                    c.imageDecoder(), c.videoDecoder(), c.audioDecoder());
        }
        List<String> missing = new ArrayList<>();
        if (config.languageModel() == null) {
            missing.add("withLanguageModel/withVicuna7b");
        }
        if (config.checkpoint() == null) {
            missing.add("withCheckpoint");
        }
        if (config.imageBind() == null) {
            missing.add("withImageBind");
        }
        if (!missing.isEmpty()) {
            throw new UnsupportedConfigurationException("the legacy pipeline needs a system folder (withSystemLayout) "
                    + "or all three component paths; missing: " + String.join(", ", missing));
        }
        return new LegacyNextGpt.Components(settings, config.languageModel(), config.checkpoint(), config.imageBind(),
                null, null, null);
    }

    static List<Modality> parseForced(String s) {
        List<Modality> out = new ArrayList<>();
        for (String t : s.split(",")) {
            String v = t.strip().toUpperCase(java.util.Locale.ROOT);
            if (!v.isEmpty()) {
                try {
                    out.add(Modality.valueOf(v));
                } catch (IllegalArgumentException e) {
                    throw new InvalidInputException(FORCE_SIGNALS + ": unknown modality '" + t + "' (image, video, "
                            + "audio)");
                }
            }
        }
        return List.copyOf(out);
    }

    /** The underlying legacy pipeline. */
    public LegacyNextGpt pipeline() {
        return model;
    }

    /** Number of arrays held by this instance's own manager (constant across calls; used by leak tests). */
    public int openArrays() {
        return base.getManagedArrays().size();
    }

    @Override
    public ChatResponse chat(ChatRequest request, ChatListener listener) {
        return ChatCalls.serialised(lock, closed, listener, l -> chatLocked(request, l));
    }

    private ChatResponse chatLocked(ChatRequest request, ChatListener l) {
        long t0 = System.nanoTime();
        GenerationOptions opts = request.optionsOr(config.defaultOptions());
        List<Path> temps = new ArrayList<>();
        try (NDManager call = base.newSubManager()) {
            List<LegacyPromptBuilder.Turn> history = new ArrayList<>();
            for (Turn t : request.history()) {
                history.add(new LegacyPromptBuilder.Turn(LegacyPromptBuilder.humanMessage(media(t.user(), temps),
                        textOf(t.user())), t.assistantText()));
            }
            String prompt = LegacyPromptBuilder.demoPrompt(history, media(request.parts(), temps),
                    textOf(request.parts()));
            if (request.systemPrompt() != null && !request.systemPrompt().isEmpty()) {
                prompt = request.systemPrompt() + "\n" + prompt;
            }
            // polled by the generator before every step; the streamer (called after every token) mirrors the token
            AtomicBoolean cancel = new AtomicBoolean(request.cancellation().isCancelled());
            int maxNew = opts.text().maxNewTokens();
            if (!forced.isEmpty()) {
                // room for the free tokens, every forced span and the closing ###
                int need = FORCED_FREE_TOKENS + 1;
                for (Modality m : forced) {
                    need += model.signalTokens().count(m);
                }
                maxNew = Math.max(maxNew, need);
            }
            LegacyNextGpt.Request lr = LegacyNextGpt.Request.of(prompt, null)
                    .withMaxNewTokens(maxNew)
                    .withMaxPerModality(Map.of(Modality.IMAGE, maxMedia, Modality.VIDEO, maxMedia, Modality.AUDIO,
                            maxMedia))
                    .withTextStreamer(d -> {
                        l.onTextDelta(d);
                        if (request.cancellation().isCancelled()) {
                            cancel.set(true);
                        }
                    })
                    .withCancel(cancel)
                    .withSampling(sampling(opts.text()));
            if (!forced.isEmpty()) {
                lr = lr.withLogitsProcessor(forcing());
            }
            LegacyNextGpt.Result r = model.generate(lr, call);
            FinishReason finish = finish(r.finishReason());
            String text = model.displayText(r);
            List<Part> parts = new ArrayList<>();
            parts.add(TextPart.of(text));
            if (finish != FinishReason.CANCELLED) {
                List<LegacyNextGpt.Signal> signals = new ArrayList<>(r.signals());
                signals.sort(java.util.Comparator.comparingInt(s -> s.span().start()));
                for (LegacyNextGpt.Signal s : signals) {
                    Part p = decode(s, opts, request, l);
                    if (p == null) {
                        finish = FinishReason.CANCELLED;
                        break;
                    }
                    l.onPart(p);
                    parts.add(p);
                }
            }
            int promptRows = (int) r.inputsEmbeds().getShape().get(0);
            return new ChatResponse(parts, text, finish, promptRows, r.generatedIds().length,
                    Duration.ofNanos(System.nanoTime() - t0));
        } finally {
            ChatCalls.deleteTemps(temps);
        }
    }

    private Part decode(LegacyNextGpt.Signal s, GenerationOptions opts, ChatRequest request, ChatListener l) {
        Modality m = s.span().modality();
        dev.nextgpt.Modality api = api(m);
        var decoder = model.decoder(m);
        NDArray cond = s.conditioning();
        if (decoder.isEmpty()) {
            return ChatCalls.mediaRequest(api, cond,
                    (m == Modality.IMAGE ? "Stable Diffusion" : m == Modality.VIDEO ? "Zeroscope" : "AudioLDM")
                            + " pipeline");
        }
        ModalityDecoder.Options o = decoderOptions(m, opts);
        return ChatCalls.decodeOrNull(api, request, l, (progress, cancelled) -> decoder.get().decode(cond, o,
                progress, cancelled));
    }

    /**
     * The API's text options as the generator's: greedy when asked, otherwise seeded sampling (a random seed when
     * none is given). The legacy defaults (temperature 1, top-p 0.01) sample from the top token only.
     */
    static LegacyNextGpt.Sampling sampling(TextGenerationOptions t) {
        long seed = t.seed() != null ? t.seed() : new java.security.SecureRandom().nextLong();
        return new LegacyNextGpt.Sampling(t.greedy(), t.temperature(), t.topP(), t.topK(), t.repetitionPenalty(),
                seed, t.stopStrings());
    }

    /** The API's per-modality generation options as decoder options. */
    static ModalityDecoder.Options decoderOptions(Modality m, GenerationOptions opts) {
        ModalityDecoder.Options o = ModalityDecoder.Options.defaults();
        switch (m) {
            case IMAGE -> {
                ImageGenerationOptions io = opts.image();
                o = o.withSteps(io.steps()).withGuidanceScale(io.guidanceScale()).withSeed(io.seed())
                        .withSize(io.height(), io.width()).withNegativePrompt(io.negativePrompt());
            }
            case VIDEO -> {
                VideoGenerationOptions vo = opts.video();
                o = o.withSteps(vo.steps()).withGuidanceScale(vo.guidanceScale()).withSeed(vo.seed())
                        .withSize(vo.height(), vo.width()).withFrames(vo.frames()).withFps(vo.fps())
                        .withNegativePrompt(vo.negativePrompt());
            }
            case AUDIO -> {
                AudioGenerationOptions ao = opts.audio();
                o = o.withSteps(ao.steps()).withGuidanceScale(ao.guidanceScale()).withSeed(ao.seed())
                        .withSeconds(ao.seconds()).withNegativePrompt(ao.negativePrompt());
            }
            default -> throw new IllegalStateException(m.name());
        }
        return o;
    }

    private LogitsProcessor forcing() {
        List<Long> script = new ArrayList<>();
        for (Modality m : forced) {
            for (long id : model.signalTokens().ids(m)) {
                script.add(id);
            }
        }
        long stop = model.tokenizer().encode("###")[0];
        script.add(stop);
        return (row, seq, logits) -> {
            int k = seq.length - FORCED_FREE_TOKENS;
            if (k < 0) {
                // free tokens: anything but a stop, EOS or signal token
                logits[Math.toIntExact(stop)] = Float.NEGATIVE_INFINITY;
                logits[Math.toIntExact(model.tokenizer().eosId())] = Float.NEGATIVE_INFINITY;
                for (Modality m : Modality.values()) {
                    for (long id : model.signalTokens().ids(m)) {
                        logits[Math.toIntExact(id)] = Float.NEGATIVE_INFINITY;
                    }
                }
                return;
            }
            long want = k < script.size() ? script.get(k) : stop;
            Arrays.fill(logits, Float.NEGATIVE_INFINITY);
            logits[Math.toIntExact(want)] = 0f;
        };
    }

    static FinishReason finish(LlamaGenerator.FinishReason r) {
        return switch (r) {
            case EOS -> FinishReason.EOS;
            case STOP_IDS, STOP_STRING -> FinishReason.STOP_STRING;
            case LENGTH -> FinishReason.MAX_TOKENS;
            case CANCELLED -> FinishReason.CANCELLED;
        };
    }

    static dev.nextgpt.Modality api(Modality m) {
        return switch (m) {
            case IMAGE -> dev.nextgpt.Modality.IMAGE;
            case VIDEO -> dev.nextgpt.Modality.VIDEO;
            case AUDIO -> dev.nextgpt.Modality.AUDIO;
        };
    }

    static String textOf(List<Part> parts) {
        StringBuilder sb = new StringBuilder();
        for (Part p : parts) {
            if (p instanceof TextPart t) {
                if (sb.length() > 0) {
                    sb.append(' ');
                }
                sb.append(t.text());
            }
        }
        return sb.toString();
    }

    /** Files of the media parts (temporary ones for in-memory media), by modality in the demo's tag order. */
    private static LegacyPromptBuilder.MediaPaths media(List<Part> parts, List<Path> temps) {
        List<String> images = new ArrayList<>();
        List<String> audios = new ArrayList<>();
        List<String> videos = new ArrayList<>();
        for (Part p : parts) {
            try {
                if (p instanceof ImagePart i) {
                    images.add(fileOf(i.source().path(), () -> i.toPngBytes(), ".png", temps));
                } else if (p instanceof AudioPart a) {
                    audios.add(fileOf(a.source().path(), a::toWavBytes, ".wav", temps));
                } else if (p instanceof VideoPart v) {
                    videos.add(fileOf(v.source().path(), v::toGifBytes, ".gif", temps));
                }
            } catch (IOException e) {
                throw new RuntimeFailureException("cannot write a temporary media file: " + e.getMessage(), e);
            }
        }
        return new LegacyPromptBuilder.MediaPaths(images, audios, videos);
    }

    static String fileOf(Path path, java.util.function.Supplier<byte[]> bytes, String suffix,
                                 List<Path> temps) throws IOException {
        if (path != null && Files.isRegularFile(path)) {
            return path.toAbsolutePath().toString();
        }
        Path t = Files.createTempFile("nextgpt-input", suffix);
        temps.add(t);
        Files.write(t, bytes.get());
        return t.toAbsolutePath().toString();
    }

    @Override
    public ModelInfo info() {
        Set<dev.nextgpt.Modality> in = EnumSet.of(dev.nextgpt.Modality.TEXT, dev.nextgpt.Modality.IMAGE,
                dev.nextgpt.Modality.AUDIO, dev.nextgpt.Modality.VIDEO);
        Set<dev.nextgpt.Modality> out = EnumSet.of(dev.nextgpt.Modality.TEXT);
        Map<String, String> components = new LinkedHashMap<>();
        components.put(NextGptConfig.LANGUAGE_MODEL, config.demoModel() ? "demo (random)"
                : String.valueOf(model.llm().source()));
        for (Modality m : Modality.values()) {
            model.decoder(m).ifPresent(d -> {
                out.add(api(m));
                components.put(m.name().toLowerCase() + "_decoder", d.getClass().getSimpleName());
            });
        }
        List<String> random = new ArrayList<>(model.randomInitParts());
        if (config.demoModel()) {
            random.add(NextGptConfig.ALL);
        }
        return new ModelInfo(DjlNextGptProvider.NAME, ModelVersion.LEGACY, config.device(), config.dtype(), in, out,
                components, random);
    }

    @Override
    public void close() {
        lock.lock();
        try {
            if (!closed) {
                closed = true;
                model.close();
                base.close();
            }
        } finally {
            lock.unlock();
        }
    }
}
