package dev.nextgpt.runtime.chat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.AudioPart;
import dev.nextgpt.ChatListener;
import dev.nextgpt.ChatRequest;
import dev.nextgpt.ChatResponse;
import dev.nextgpt.FinishReason;
import dev.nextgpt.GenerationOptions;
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
import dev.nextgpt.runtime.media.AudioPreprocessor;
import dev.nextgpt.runtime.media.ImagePreprocessor;
import dev.nextgpt.runtime.media.VideoPreprocessor;
import dev.nextgpt.runtime.nextgpt.Modality;
import dev.nextgpt.runtime.nextgpt.ModalityDecoder;
import dev.nextgpt.runtime.nextgpt.current.CurrentNextGpt;
import dev.nextgpt.runtime.nextgpt.current.CurrentPromptBuilder;
import dev.nextgpt.runtime.nextgpt.current.CurrentSignalTokens;
import dev.nextgpt.runtime.nextgpt.current.CurrentSystemLoader;
import dev.nextgpt.runtime.nextgpt.LlamaTextTokenizer;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;

/**
 * {@link NextGpt} over the current-version (C) pipeline {@link CurrentNextGpt}, chosen by the provider for a system
 * folder whose {@code config.json} says {@code model_type: nextgpt_llama} (or {@code withVersion(CURRENT)}).
 * <ul>
 *   <li><b>Prompt</b>: {@code conv_vicuna_v1} ("curious user", the training template); a request's system prompt, or
 *       property {@value #SYSTEM_PROMPT}, replaces the system text. Each user message is its media placeholders
 *       ({@code <image>\n}, {@code <video>\n}, {@code <audio>\n} in part order) then the text; history turns are
 *       replayed with their media.</li>
 *   <li><b>Inputs</b>: images ({@code [1, 3, S, S]}), audio (mel clips) and videos (ImageBind's 5 clips × 3 crops of
 *       2 frames, {@code [1, 15, 3, 2, S, S]}, from decoded frames, a GIF or an MP4 file) at the ImageBind image size
 *       {@code S}; each is encoded by {@link CurrentNextGpt#encodeMedia} (video: vision patch tokens averaged over
 *       the clips) and spliced at its placeholder.</li>
 *   <li><b>Output</b>: per signal span in answer order, the text before it (the C returned id piece, clipped so that
 *       no text is repeated across modalities, decoded without special tokens) and the media (from the decoder, or a
 *       {@link MediaRequestPart} with the conditioning); then the text after the last span.</li>
 *   <li>Forced signals ({@link DjlNextGpt#FORCE_SIGNALS}) as in {@link DjlNextGpt}: three free tokens, the spans with
 *       their separators, EOS.</li>
 * </ul>
 */
final class DjlCurrentNextGpt implements NextGpt {
    /** Property: the system text of the v1 template. */
    public static final String SYSTEM_PROMPT = "nextgpt.system_prompt";

    private final CurrentNextGpt model;
    private final NextGptConfig config;
    private final NDManager base = NDManager.newBaseManager();
    private final ReentrantLock lock = new ReentrantLock();
    private final List<Modality> forced;
    private final int maxMedia;
    private final ImagePreprocessor images;
    private final AudioPreprocessor audios = new AudioPreprocessor();
    private final VideoPreprocessor videos;
    private volatile boolean closed;

    private DjlCurrentNextGpt(CurrentNextGpt model, NextGptConfig config) {
        this.model = model;
        this.config = config;
        this.forced = DjlNextGpt.parseForced(config.property(DjlNextGpt.FORCE_SIGNALS).orElse(""));
        this.maxMedia = Integer.parseInt(config.property(DjlNextGpt.MAX_MEDIA).orElse("5"));
        int size = model.imagebind().map(i -> i.config().imageSize()).orElse(224);
        this.images = new ImagePreprocessor(size, false);
        VideoPreprocessor.Options vo = VideoPreprocessor.Options.defaults();
        this.videos = new VideoPreprocessor(new VideoPreprocessor.Options(vo.clipDuration(), vo.clipsPerVideo(),
                vo.framesPerClip(), size));
    }

    /** Whether {@code config} describes a current-version system. */
    static boolean handles(NextGptConfig config) {
        return config.version() == ModelVersion.CURRENT || (config.systemLayout() != null && !config.demoModel()
                && CurrentSystemLoader.isCurrentSystem(config.systemLayout()));
    }

    static DjlCurrentNextGpt create(NextGptConfig config) {
        if (config.systemLayout() == null) {
            throw new UnsupportedConfigurationException("the current NExT-GPT pipeline loads a system folder "
                    + "(withSystemLayout: a nextgpt_llama folder, adapter files or a LoRA run)");
        }
        if (!config.device().isCpu()) {
            throw new UnsupportedConfigurationException("device " + config.device() + ": this runtime build runs "
                    + "NExT-GPT on the CPU only");
        }
        CurrentSystemLoader.LoadOptions o = CurrentSystemLoader.LoadOptions.defaults()
                .withAllowRandomInit(config.allowRandomInit());
        if (config.languageModel() != null) {
            o = o.withBaseModel(config.languageModel());
        }
        if (config.imageBind() != null) {
            o = o.withImageBind(config.imageBind());
        }
        return new DjlCurrentNextGpt(CurrentNextGpt.load(config.systemLayout(), o), config);
    }

    public CurrentNextGpt pipeline() {
        return model;
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
            List<CurrentNextGpt.MediaInput> media = new ArrayList<>();
            List<CurrentPromptBuilder.Turn> turns = new ArrayList<>();
            for (Turn t : request.history()) {
                turns.add(new CurrentPromptBuilder.Turn(userMessage(t.user(), media, temps, call), t.assistantText()));
            }
            turns.add(CurrentPromptBuilder.Turn.open(userMessage(request.parts(), media, temps, call)));
            String system = request.systemPrompt() != null && !request.systemPrompt().isEmpty()
                    ? request.systemPrompt()
                    : config.property(SYSTEM_PROMPT).orElse(CurrentPromptBuilder.Template.VICUNA_V1.system());
            String prompt = CurrentPromptBuilder.Template.conversation(system, turns);
            AtomicBoolean cancel = new AtomicBoolean(request.cancellation().isCancelled());
            var go = generation(opts.text()).cancelFlag(cancel).tokenizer(model.tokenizer())
                    .streamer((row, delta) -> {
                        l.onTextDelta(delta);
                        if (request.cancellation().isCancelled()) {
                            cancel.set(true);
                        }
                    });
            int maxNew = opts.text().maxNewTokens();
            if (!forced.isEmpty()) {
                long[] script = forcedScript();
                maxNew = Math.max(maxNew, DjlNextGpt.FORCED_FREE_TOKENS + script.length + 1);
                go.logitsProcessor(forcing(script));
            }
            go.maxNewTokens(maxNew);
            CurrentNextGpt.Output out = model.generateFromPrompt(prompt, media, go, call);
            FinishReason finish = DjlNextGpt.finish(out.finishReason());
            List<Part> parts = new ArrayList<>();
            long[] gen = out.generatedIds();
            int last = 0;
            if (finish != FinishReason.CANCELLED) {
                for (CurrentNextGpt.Request r : out.requestsInOrder()) {
                    if (r.span().occurrence() >= maxMedia) {
                        continue;
                    }
                    // the C piece ids[last_ret_idx : end], clipped to start after the previous span
                    int from = Math.max(last, r.span().end() - r.idPiece().length);
                    addText(parts, Arrays.copyOfRange(gen, from, r.span().start()), l);
                    Part p = decode(r, opts, request, l);
                    if (p == null) {
                        finish = FinishReason.CANCELLED;
                        break;
                    }
                    l.onPart(p);
                    parts.add(p);
                    last = r.span().end();
                }
            }
            addText(parts, Arrays.copyOfRange(gen, Math.min(last, gen.length), gen.length), l);
            return new ChatResponse(parts, out.text().strip(), finish, (int) out.splice().inputsEmbeds().getShape()
                    .get(1), gen.length, Duration.ofNanos(System.nanoTime() - t0));
        } finally {
            ChatCalls.deleteTemps(temps);
        }
    }

    private void addText(List<Part> parts, long[] ids, ChatListener l) {
        String text = model.tokenizer().decode(ids, true).strip();
        if (!text.isEmpty()) {
            TextPart p = TextPart.of(text);
            l.onPart(p);
            parts.add(p);
        }
    }

    private static dev.nextgpt.runtime.llm.GenerationOptions generation(TextGenerationOptions t) {
        var o = new dev.nextgpt.runtime.llm.GenerationOptions();
        if (t.greedy()) {
            o.greedy();
        } else {
            long seed = t.seed() != null ? t.seed() : new java.security.SecureRandom().nextLong();
            o.sample(t.temperature(), t.topK(), t.topP(), seed);
        }
        if (t.repetitionPenalty() != 1.0) {
            o.repetitionPenalty(t.repetitionPenalty());
        }
        t.stopStrings().forEach(o::stopString);
        return o;
    }

    private Part decode(CurrentNextGpt.Request r, GenerationOptions opts, ChatRequest request, ChatListener l) {
        Modality m = r.span().modality();
        dev.nextgpt.Modality api = DjlNextGpt.api(m);
        NDArray cond = r.conditioning();
        if (model.decoder(m).isEmpty()) {
            return ChatCalls.mediaRequest(api, cond, "decoder");
        }
        ModalityDecoder.Options o = DjlNextGpt.decoderOptions(m, opts);
        return ChatCalls.decodeOrNull(api, request, l, (progress, cancelled) -> model.decode(r, o, progress,
                cancelled));
    }

    /** The user message text with its placeholders; the media are preprocessed into {@code media} in order. */
    private String userMessage(List<Part> parts, List<CurrentNextGpt.MediaInput> media, List<Path> temps,
                               NDManager m) {
        List<Modality> order = new ArrayList<>();
        for (Part p : parts) {
            try {
                if (p instanceof ImagePart i) {
                    String f = DjlNextGpt.fileOf(i.source().path(), i::toPngBytes, ".png", temps);
                    int s = images.size();
                    media.add(new CurrentNextGpt.MediaInput(Modality.IMAGE, m.create(images.process(Path.of(f)),
                            new Shape(1, 3, s, s))));
                    order.add(Modality.IMAGE);
                } else if (p instanceof AudioPart a) {
                    Path f = Path.of(DjlNextGpt.fileOf(a.source().path(), a::toWavBytes, ".wav", temps));
                    AudioPreprocessor.Result r = audios.process(f);
                    media.add(new CurrentNextGpt.MediaInput(Modality.AUDIO, m.create(r.values(),
                            new Shape(withBatch(r.shape())))));
                    order.add(Modality.AUDIO);
                } else if (p instanceof VideoPart v) {
                    VideoPreprocessor.Result r = videoInput(v);
                    media.add(new CurrentNextGpt.MediaInput(Modality.VIDEO, m.create(r.values(),
                            new Shape(withBatch(r.shape())))));   // (1, clips·crops, 3, T, H, W)
                    order.add(Modality.VIDEO);
                }
            } catch (IOException e) {
                throw new RuntimeFailureException("cannot write a temporary media file: " + e.getMessage(), e);
            }
        }
        return CurrentPromptBuilder.userMessage(order, DjlNextGpt.textOf(parts));
    }

    private static long[] withBatch(long[] shape) {
        long[] out = new long[shape.length + 1];
        out[0] = 1;
        System.arraycopy(shape, 0, out, 1, shape.length);
        return out;
    }

    /**
     * ImageBind's {@code load_and_transform_video_data} (5 clips × 3 crops at the ImageBind image size) of decoded
     * frames, an animated GIF or an MP4 (H.264) file.
     */
    private VideoPreprocessor.Result videoInput(VideoPart v) {
        VideoPart decoded = v;
        if (!v.isDecoded()) {
            Path f = v.source().path();
            if (f == null) {
                throw new InvalidInputException("video part has neither frames nor a source file");
            }
            if (!f.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".gif")) {
                return videos.process(f);
            }
            decoded = VideoPart.readGif(f);
        }
        List<BufferedImage> frames = new ArrayList<>();
        for (ImagePart frame : decoded.frames()) {
            frames.add(frame.toBufferedImage());
        }
        return videos.process(frames, decoded.fps());
    }

    private long[] forcedScript() {
        long sep = CurrentSignalTokens.separatorId(new LlamaTextTokenizer(model.tokenizer()));
        List<Long> s = new ArrayList<>();
        for (Modality m : forced) {
            long[] ids = model.signalTokens().ids(m);
            for (int k = 0; k < ids.length; k++) {
                if (k > 0) {
                    s.add(sep);
                }
                s.add(ids[k]);
            }
        }
        s.add((long) model.tokenizer().eosId());
        return s.stream().mapToLong(Long::longValue).toArray();
    }

    private dev.nextgpt.runtime.llm.GenerationOptions.LogitsProcessor forcing(long[] script) {
        int eos = model.tokenizer().eosId();
        int vocab = model.tokenizer().vocabSize();
        return (row, seq, logits) -> {
            int k = seq.length - DjlNextGpt.FORCED_FREE_TOKENS;
            if (k < 0) {
                // free tokens: anything but EOS or an added (special) token
                logits[eos] = Float.NEGATIVE_INFINITY;
                for (int i = vocab - CurrentSignalTokens.addedTokens(model.settings().signalCounts()).size();
                     i < logits.length; i++) {
                    logits[i] = Float.NEGATIVE_INFINITY;
                }
                return;
            }
            Arrays.fill(logits, Float.NEGATIVE_INFINITY);
            logits[Math.toIntExact(script[Math.min(k, script.length - 1)])] = 0f;
        };
    }

    @Override
    public ModelInfo info() {
        Set<dev.nextgpt.Modality> in = EnumSet.of(dev.nextgpt.Modality.TEXT);
        if (model.imagebind().isPresent()) {
            in.add(dev.nextgpt.Modality.IMAGE);
            in.add(dev.nextgpt.Modality.AUDIO);
            in.add(dev.nextgpt.Modality.VIDEO);
        }
        Set<dev.nextgpt.Modality> out = EnumSet.of(dev.nextgpt.Modality.TEXT);
        Map<String, String> components = new LinkedHashMap<>();
        components.put(NextGptConfig.LANGUAGE_MODEL, String.valueOf(config.systemLayout()));
        for (Modality m : Modality.values()) {
            model.decoder(m).ifPresent(d -> {
                out.add(DjlNextGpt.api(m));
                components.put(m.name().toLowerCase() + "_decoder", d.getClass().getSimpleName());
            });
        }
        return new ModelInfo(DjlNextGptProvider.NAME, ModelVersion.CURRENT, config.device(), config.dtype(), in, out,
                components, new ArrayList<>(model.randomInitParts()));
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
