package dev.nextgpt.runtime.nextgpt;

import dev.nextgpt.InvalidInputException;
import dev.nextgpt.ModelFormatException;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/**
 * The generation signal tokens of one NExT-GPT version (reference §3.1):
 * <ul>
 *   <li>{@link Version#LEGACY}: {@code [IMG0..3]}, {@code [VID0..23]}, {@code [AUD0..7]} plus the input wrappers
 *       {@code <Img>}/{@code </Img>}; added as non-special tokens, whitespace around them is stripped, so a span is
 *       N contiguous ids;</li>
 *   <li>{@link Version#CURRENT}: {@code <image_00..03>}, {@code <video_00..23>}, {@code <audio_00..07>} added as special
 *       tokens; the space between two is its own {@code ▁} token, so a span is 2N−1 ids with separators.</li>
 * </ul>
 * Ids are computed from the tokenizer (never assumed), and checked to be single tokens.
 */
public final class SignalTokens {

    public enum Version { LEGACY, CURRENT }

    /** Default counts of both versions: 4 image, 24 video, 8 audio tokens. */
    public static final Map<Modality, Integer> DEFAULT_COUNTS = Map.of(Modality.IMAGE, 4, Modality.VIDEO, 24,
            Modality.AUDIO, 8);

    private final Version version;
    private final Map<Modality, List<String>> spellings;
    private final Map<Modality, long[]> ids;
    private final Long separatorId;
    private final long imgStartId;
    private final long imgEndId;

    private SignalTokens(Version version, Map<Modality, List<String>> spellings, Map<Modality, long[]> ids,
                         Long separatorId, long imgStartId, long imgEndId) {
        this.version = version;
        this.spellings = spellings;
        this.ids = ids;
        this.separatorId = separatorId;
        this.imgStartId = imgStartId;
        this.imgEndId = imgEndId;
    }

    /** Spellings of {@code count} signal tokens of {@code m} in {@code version}. */
    public static List<String> spellings(Version version, Modality m, int count) {
        List<String> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            out.add(version == Version.LEGACY ? m.legacySignalToken(i) : m.currentSignalToken(i));
        }
        return List.copyOf(out);
    }

    /** Legacy tokens with the default counts. */
    public static SignalTokens legacy(TextTokenizer tokenizer) {
        return of(Version.LEGACY, tokenizer, DEFAULT_COUNTS, null);
    }

    /**
     * Current tokens with the default counts; {@code separatorId} is the id of the SentencePiece {@code ▁} token
     * between two signal tokens (null: separators are not checked).
     */
    public static SignalTokens current(TextTokenizer tokenizer, Long separatorId) {
        return of(Version.CURRENT, tokenizer, DEFAULT_COUNTS, separatorId);
    }

    /** Tokens of {@code version} with explicit counts ({@code num_gen_img_tokens} / {@code n_img_tokens} etc.). */
    public static SignalTokens of(Version version, TextTokenizer tokenizer, Map<Modality, Integer> counts,
                                  Long separatorId) {
        Map<Modality, List<String>> sp = new EnumMap<>(Modality.class);
        Map<Modality, long[]> id = new EnumMap<>(Modality.class);
        for (Modality m : Modality.values()) {
            int n = counts.getOrDefault(m, 0);
            if (n <= 0) {
                throw new InvalidInputException("signal token count for " + m + " must be > 0, got " + n);
            }
            List<String> s = spellings(version, m, n);
            long[] v = new long[n];
            for (int i = 0; i < n; i++) {
                v[i] = requireSingle(tokenizer, s.get(i));
            }
            sp.put(m, s);
            id.put(m, v);
        }
        long start = -1;
        long end = -1;
        if (version == Version.LEGACY) {
            start = requireSingle(tokenizer, "<Img>");
            end = requireSingle(tokenizer, "</Img>");
        }
        return new SignalTokens(version, sp, id, separatorId, start, end);
    }

    private static long requireSingle(TextTokenizer tokenizer, String token) {
        OptionalInt id = tokenizer.singleTokenId(token);
        if (id.isEmpty()) {
            throw new ModelFormatException("the tokenizer has no single token for '" + token + "' (it encodes to "
                    + Arrays.toString(tokenizer.encode(token)) + "); the NExT-GPT signal tokens were not added");
        }
        return id.getAsInt();
    }

    public Version version() {
        return version;
    }

    /** Number N of signal tokens of {@code m}. */
    public int count(Modality m) {
        return ids.get(m).length;
    }

    public List<String> spellings(Modality m) {
        return spellings.get(m);
    }

    /** The N signal ids of {@code m} (without separators). */
    public long[] ids(Modality m) {
        return ids.get(m).clone();
    }

    /** The first signal id of {@code m}: its occurrence in generated ids starts a request. */
    public long firstId(Modality m) {
        return ids.get(m)[0];
    }

    /** Length of one span in generated ids: N (legacy) or 2N−1 (current). */
    public int spanLength(Modality m) {
        int n = count(m);
        return version == Version.LEGACY ? n : 2 * n - 1;
    }

    /** The separator id between current signal tokens, if known. */
    public java.util.Optional<Long> separatorId() {
        return java.util.Optional.ofNullable(separatorId);
    }

    /**
     * The signal string of {@code m}, space separated: {@code "[IMG0] [IMG1] [IMG2] [IMG3]"} (the legacy
     * {@code gen_prefix}) or {@code "<image_00> <image_01> …"}.
     */
    public String signalString(Modality m) {
        return String.join(" ", spellings.get(m));
    }

    /** Legacy input wrapper {@code <Img>} id (all modalities use it). */
    public long imgStartId() {
        requireLegacy("<Img>");
        return imgStartId;
    }

    /** Legacy input wrapper {@code </Img>} id. */
    public long imgEndId() {
        requireLegacy("</Img>");
        return imgEndId;
    }

    private void requireLegacy(String what) {
        if (version != Version.LEGACY) {
            throw new InvalidInputException(what + " exists only in the legacy NExT-GPT vocabulary");
        }
    }

    /**
     * Checks the legacy id layout documented for {@code 7b_tiva_v0}: {@code <Img>}, {@code </Img>}, IMG, VID, AUD
     * contiguous from {@code baseVocab} (32000 for the real model). Returns the problems found (empty if none).
     */
    public List<String> checkLegacyContiguousLayout(long baseVocab) {
        requireLegacy("the <Img>.. contiguous layout check");
        List<String> problems = new ArrayList<>();
        long next = baseVocab;
        if (imgStartId != next++) {
            problems.add("<Img> has id " + imgStartId + ", expected " + (next - 1));
        }
        if (imgEndId != next++) {
            problems.add("</Img> has id " + imgEndId + ", expected " + (next - 1));
        }
        for (Modality m : Modality.values()) {
            long[] v = ids.get(m);
            for (int i = 0; i < v.length; i++) {
                if (v[i] != next) {
                    problems.add(spellings.get(m).get(i) + " has id " + v[i] + ", expected " + next);
                }
                next++;
            }
        }
        return problems;
    }
}
