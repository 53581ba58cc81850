package dev.nextgpt.runtime.nextgpt;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.InvalidInputException;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The legacy NExT-GPT inference prompt (reference §2.3, {@code demo_app.predict} and
 * {@code prepare_generation_embedding}):
 * <ol>
 *   <li>prompt string: {@code "### Human: " + media tags + " " + text} (first turn) or with history;</li>
 *   <li>{@code text = prompt + "\n### Assistant:"}, split with the regex {@code ' <|> '};</li>
 *   <li>a piece starting with {@code Image>}/{@code Audio>}/{@code Video>} becomes {@code [E(<Img>), Σ features,
 *       E(</Img>)]} (all modalities use {@code <Img>}); every other piece becomes {@code [E(BOS)] + E(tokens)}, each
 *       piece tokenized on its own without special tokens.</li>
 * </ol>
 * The splitting reproduces the original exactly, including its quirks (user text containing {@code " <"} or
 * {@code "> "} is split too; a second tag directly after a first one is not recognised as media).
 */
public final class LegacyPromptBuilder {

    /** Regex the original splits on. */
    public static final Pattern SPLIT = Pattern.compile(" <|> ");
    /** Suffix appended to the prompt before splitting. */
    public static final String ASSISTANT_SUFFIX = "\n### Assistant:";

    /** One finished turn of the history: the human message (with its media tags) and the assistant answer. */
    public record Turn(String human, String assistant) {
    }

    /** Media files attached to one message, per modality (order: image, audio, video tags as in the demo). */
    public record MediaPaths(List<String> images, List<String> audios, List<String> videos) {
        public static MediaPaths none() {
            return new MediaPaths(List.of(), List.of(), List.of());
        }

        public static MediaPaths image(String path) {
            return new MediaPaths(List.of(path), List.of(), List.of());
        }

        public static MediaPaths audio(String path) {
            return new MediaPaths(List.of(), List.of(path), List.of());
        }

        public static MediaPaths video(String path) {
            return new MediaPaths(List.of(), List.of(), List.of(path));
        }
    }

    /** A piece of the split prompt: text (with its ids) or media (with its paths). */
    public record Piece(String text, Modality media, List<String> paths, long[] ids) {
        public boolean isMedia() {
            return media != null;
        }
    }

    /** One segment of the input-embedding sequence: kind (BOS, text, {@code <Img>}, feature, {@code </Img>}) and length. */
    public record Segment(String kind, int length) {
    }

    private final TextTokenizer tokenizer;
    private final SignalTokens tokens;

    public LegacyPromptBuilder(TextTokenizer tokenizer, SignalTokens tokens) {
        if (tokens.version() != SignalTokens.Version.LEGACY) {
            throw new InvalidInputException("LegacyPromptBuilder needs the legacy signal tokens");
        }
        this.tokenizer = tokenizer;
        this.tokens = tokens;
    }

    /** The demo's media tags: {@code "<Image>p</Image> "} for each image, then audios, then videos. */
    public static String mediaTags(MediaPaths media) {
        StringBuilder sb = new StringBuilder();
        media.images().forEach(p -> sb.append("<Image>").append(p).append("</Image> "));
        media.audios().forEach(p -> sb.append("<Audio>").append(p).append("</Audio> "));
        media.videos().forEach(p -> sb.append("<Video>").append(p).append("</Video> "));
        return sb.toString();
    }

    /** The human message as stored in the history: media tags + {@code " "} + text (note the double space). */
    public static String humanMessage(MediaPaths media, String userText) {
        return mediaTags(media) + " " + userText;
    }

    /**
     * The demo prompt: {@code "### Human: " + msg} on the first turn; with history
     * {@code "### Human: q1\n### Assistant: a1\n###" + " Human: q2\n### Assistant: a2\n###" + … + " Human: " + msg}.
     */
    public static String demoPrompt(List<Turn> history, MediaPaths media, String userText) {
        StringBuilder sb = new StringBuilder("### Human: ");
        for (int i = 0; i < history.size(); i++) {
            Turn t = history.get(i);
            if (i > 0) {
                sb.append(" Human: ");
            }
            sb.append(t.human()).append("\n### Assistant: ").append(t.assistant()).append("\n###");
        }
        if (!history.isEmpty()) {
            sb.append(" Human: ");
        }
        sb.append(humanMessage(media, userText));
        return sb.toString();
    }

    /** {@code prompt + "\n### Assistant:"} split like {@code re.split(' <|> ', text)} (empty pieces kept). */
    public static List<String> splitPieces(String prompt) {
        String text = prompt + ASSISTANT_SUFFIX;
        return List.of(SPLIT.split(text, -1));
    }

    /** Splits and classifies the prompt; text pieces carry their ids. */
    public List<Piece> pieces(String prompt) {
        List<Piece> out = new ArrayList<>();
        for (String p : splitPieces(prompt)) {
            Modality media = null;
            for (Modality m : Modality.values()) {
                if (p.startsWith(m.legacyTag() + ">")) {
                    media = m;
                    break;
                }
            }
            if (media == null) {
                out.add(new Piece(p, null, List.of(), tokenizer.encode(p)));
            } else {
                Matcher mt = Pattern.compile(media.legacyTag() + ">(.*?)</" + media.legacyTag()).matcher(p);
                List<String> paths = new ArrayList<>();
                while (mt.find()) {
                    paths.add(mt.group(1));
                }
                out.add(new Piece(p, media, List.copyOf(paths), null));
            }
        }
        return out;
    }

    /** The segment layout of the input embeddings ({@code inputs_embeds_layout} of the e2e fixture). */
    public List<Segment> layout(List<Piece> pieces) {
        List<Segment> out = new ArrayList<>();
        for (Piece p : pieces) {
            if (p.isMedia()) {
                out.add(new Segment("<Img>", 1));
                out.add(new Segment("feature", 1));
                out.add(new Segment("</Img>", 1));
            } else {
                out.add(new Segment("BOS", 1));
                if (p.ids().length > 0) {
                    out.add(new Segment("text", p.ids().length));
                }
            }
        }
        return out;
    }

    /**
     * Builds the input embeddings {@code [L, hidden]}: text pieces as {@code [E(BOS)] + E(ids)}, media pieces as
     * {@code [E(<Img>), Σ encoder(path), E(</Img>)]}. A media piece without any path is an error (the original
     * would fail summing an empty list).
     */
    public NDArray inputEmbeddings(List<Piece> pieces, EmbeddingLookup embeddings, MediaFeatureEncoder encoder,
                                   NDManager manager) {
        NDList parts = new NDList();
        int hidden = embeddings.hiddenSize();
        for (Piece p : pieces) {
            if (p.isMedia()) {
                if (p.paths().isEmpty()) {
                    throw new InvalidInputException("media piece '" + p.text() + "' names no file (expected "
                            + p.media().legacyTag() + ">path</" + p.media().legacyTag() + ")");
                }
                if (encoder == null) {
                    throw new InvalidInputException("the prompt holds " + p.media() + " input " + p.paths()
                            + " but no media encoder was given");
                }
                NDArray sum = null;
                for (String path : p.paths()) {
                    NDArray f = encoder.encode(p.media(), path, manager).reshape(1, hidden);
                    sum = sum == null ? f : sum.add(f);
                }
                parts.add(embeddings.rows(manager, new long[] {tokens.imgStartId()}));
                parts.add(sum);
                parts.add(embeddings.rows(manager, new long[] {tokens.imgEndId()}));
            } else {
                long[] ids = new long[p.ids().length + 1];
                ids[0] = tokenizer.bosId();
                System.arraycopy(p.ids(), 0, ids, 1, p.ids().length);
                parts.add(embeddings.rows(manager, ids));
            }
        }
        return NDArrays.concat(parts, 0);
    }

    /** Convenience: prompt string → input embeddings. */
    public NDArray inputEmbeddings(String prompt, EmbeddingLookup embeddings, MediaFeatureEncoder encoder,
                                   NDManager manager) {
        return inputEmbeddings(pieces(prompt), embeddings, encoder, manager);
    }

    /**
     * Stop ids of the legacy model: {@code "###"} as a standalone piece ({@code ▁###}; 835 in LLaMA), {@code "###"}
     * after a newline (the last id of {@code "\n###"}; 29937 in LLaMA), then EOS. Distinct ids only.
     */
    public static List<Long> legacyStopIds(TextTokenizer tokenizer) {
        List<Long> out = new ArrayList<>();
        long[] standalone = tokenizer.encode("###");
        long[] afterNewline = tokenizer.encode("\n###");
        if (standalone.length == 1) {
            out.add(standalone[0]);
        }
        if (afterNewline.length > 0 && !out.contains(afterNewline[afterNewline.length - 1])) {
            out.add(afterNewline[afterNewline.length - 1]);
        }
        if (!out.contains(tokenizer.eosId())) {
            out.add(tokenizer.eosId());
        }
        return List.copyOf(out);
    }
}
