package dev.nextgpt.runtime.nextgpt;

import ai.djl.ndarray.NDArray;
import dev.nextgpt.InvalidInputException;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * Finds the generation requests in generated ids (reference §3.4): every occurrence of the first signal id of a
 * modality starts one span (at most {@code maxPerModality} per modality), and the following ids must be the full
 * signal sequence (contiguous in the legacy version; every second id, with separators between, in the current one).
 * A malformed span is an {@link InvalidInputException}. Also builds the text returned around the spans (§3.6).
 */
public final class SignalSpanDetector {

    /**
     * One signal span: {@code start} is the index (in the scanned id array) of the first signal id, {@code end} is
     * exclusive; {@code ids} are the span's ids (with separators in the current version).
     */
    public record SignalSpan(Modality modality, int occurrence, int start, int end, long[] ids) {
        public int length() {
            return end - start;
        }
    }

    private final SignalTokens tokens;
    private final Map<Modality, Integer> maxPerModality;

    /** {@code maxPerModality}: {@code max_num_imgs/vids/auds} (legacy demo: 1 each; current default: 5). */
    public SignalSpanDetector(SignalTokens tokens, Map<Modality, Integer> maxPerModality) {
        this.tokens = tokens;
        this.maxPerModality = new EnumMap<>(Modality.class);
        for (Modality m : Modality.values()) {
            this.maxPerModality.put(m, maxPerModality.getOrDefault(m, 0));
        }
    }

    /** Detector with the same cap for every modality. */
    public SignalSpanDetector(SignalTokens tokens, int maxPerModality) {
        this(tokens, Map.of(Modality.IMAGE, maxPerModality, Modality.VIDEO, maxPerModality, Modality.AUDIO,
                maxPerModality));
    }

    /** All spans, validated, in the order they appear in {@code ids}. */
    public List<SignalSpan> detect(long[] ids) {
        List<SignalSpan> spans = new ArrayList<>();
        for (Modality m : Modality.values()) {
            spans.addAll(detect(ids, m));
        }
        spans.sort(Comparator.comparingInt(SignalSpan::start));
        return spans;
    }

    /** The validated spans of one modality, in order (at most the cap). */
    public List<SignalSpan> detect(long[] ids, Modality m) {
        long first = tokens.firstId(m);
        int cap = maxPerModality.get(m);
        List<SignalSpan> out = new ArrayList<>();
        for (int i = 0; i < ids.length && out.size() < cap; i++) {
            if (ids[i] == first) {
                out.add(validate(ids, m, i, out.size()));
            }
        }
        return out;
    }

    private SignalSpan validate(long[] ids, Modality m, int start, int occurrence) {
        long[] expected = tokens.ids(m);
        int len = tokens.spanLength(m);
        int end = start + len;
        boolean legacy = tokens.version() == SignalTokens.Version.LEGACY;
        if (end > ids.length) {
            throw new InvalidInputException("malformed " + m + " signal span at position " + start + ": expected "
                    + len + " ids (" + tokens.signalString(m) + (legacy ? "" : " with separators")
                    + ") but only " + (ids.length - start) + " remain: "
                    + Arrays.toString(Arrays.copyOfRange(ids, start, ids.length)));
        }
        for (int k = 0; k < expected.length; k++) {
            int pos = legacy ? start + k : start + 2 * k;
            if (ids[pos] != expected[k]) {
                throw new InvalidInputException("malformed " + m + " signal span at position " + start
                        + ": position " + pos + " holds id " + ids[pos] + " but " + tokens.spellings(m).get(k)
                        + " (id " + expected[k] + ") is required; span ids "
                        + Arrays.toString(Arrays.copyOfRange(ids, start, end)));
            }
            if (!legacy && k > 0 && tokens.separatorId().isPresent() && ids[pos - 1] != tokens.separatorId().get()) {
                throw new InvalidInputException("malformed " + m + " signal span at position " + start
                        + ": position " + (pos - 1) + " holds id " + ids[pos - 1] + " but the separator id "
                        + tokens.separatorId().get() + " is required between signal tokens");
            }
        }
        return new SignalSpan(m, occurrence, start, end, Arrays.copyOfRange(ids, start, end));
    }

    /**
     * Legacy returned text for each span of one modality ({@code generate_images/videos/audios}):
     * {@code decode(ids[last : start], skip_special) + " " + signalString}, then {@code last = start + 1} (the
     * original's quirk: not the span end). {@code ids} are the scanned ids (in the original the returned
     * {@code sequences}, with the leading BOS that decoding skips).
     */
    public List<String> legacyReturnedTexts(long[] ids, List<SignalSpan> spansOfOneModality, TextTokenizer tokenizer) {
        List<String> out = new ArrayList<>();
        int last = 0;
        for (SignalSpan s : spansOfOneModality) {
            String text = tokenizer.decode(Arrays.copyOfRange(ids, last, s.start()), true);
            out.add(text + " " + tokens.signalString(s.modality()));
            last = s.start() + 1;
        }
        return out;
    }

    /**
     * Current returned id pieces for each span of one modality: {@code ids[last : end]} (text up to and including the
     * span), then {@code last = end}. The caller decodes.
     */
    public List<long[]> currentReturnedIdPieces(long[] ids, List<SignalSpan> spansOfOneModality) {
        List<long[]> out = new ArrayList<>();
        int last = 0;
        for (SignalSpan s : spansOfOneModality) {
            out.add(Arrays.copyOfRange(ids, last, s.end()));
            last = s.end();
        }
        return out;
    }

    /**
     * The hidden states fed to the output projector (reference §3.5): the last-layer (post-norm) rows computed while
     * the span's tokens were the <em>input</em>. {@code perStepHidden} is {@code [steps, H]} with row j computed while
     * feeding generated token j; {@code generatedOffset} is the index of generated token 0 in the scanned ids (1 when
     * scanning the legacy {@code sequences} with their leading BOS, 0 for generated-only ids). Generation must have
     * continued at least one token past the span.
     */
    public static NDArray signalHidden(NDArray perStepHidden, SignalSpan span, int generatedOffset) {
        int first = span.start() - generatedOffset;
        int end = span.end() - generatedOffset;
        long steps = perStepHidden.getShape().get(0);
        if (first < 0 || end > steps) {
            throw new InvalidInputException(span.modality() + " signal span covers generated tokens [" + first + ", "
                    + end + ") but hidden states exist for " + steps + " fed tokens; generation must continue at "
                    + "least one token past the last signal token");
        }
        return perStepHidden.get(first + ":" + end);
    }

    /** Text-only answer (no span found): {@code decode(all ids, skip_special)}. */
    public static String textOnly(long[] ids, TextTokenizer tokenizer) {
        return tokenizer.decode(ids, true);
    }
}
