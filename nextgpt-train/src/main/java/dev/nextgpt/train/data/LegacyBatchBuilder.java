package dev.nextgpt.train.data;

import dev.nextgpt.InvalidInputException;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Builds the token layout of the legacy NExT-GPT training stages exactly as the original
 * ({@code build_one_instance_stage_1/2/3}, {@code process_batch_stage_*}, {@code prompt_wrap}): piecewise
 * tokenization, label masking with {@link #IGNORE_INDEX}, right padding with the pad id (EOS), truncation to
 * {@code maxLength}, and the wrapped prefix {@code [BOS] + "### Human: <Img>" + feature} (with media) or
 * {@code [BOS] + "### Human: "} (text only).
 */
public final class LegacyBatchBuilder {
    /** The label value ignored by the cross-entropy. */
    public static final long IGNORE_INDEX = -100;

    /** The media kinds of the legacy datasets. */
    public enum Modality { TEXT, IMAGE, VIDEO, AUDIO }

    /** One conversation turn of a stage-3 sample. */
    public record Turn(String from, String value, Modality inputModality, Modality outputModality) {
    }

    /** Ids, labels and mask of one instance before wrapping. */
    public record Instance(long[] inputIds, long[] targetIds) {
    }

    /**
     * A collated batch: {@code inputIds/targetIds/attentionMask} as {@code process_batch_*} returns them, and the
     * wrapped targets / mask that enter the LLM after {@code prompt_wrap}. {@code prefixIds} are the ids embedded
     * before the batch's ids ({@code [BOS] + tok(p_before)}); when {@code withMedia} one feature row follows them.
     */
    public record Batch(long[][] inputIds, long[][] targetIds, long[][] attentionMask, long[] prefixIds,
                        boolean withMedia, long[][] wrappedTargets, long[][] wrappedAttentionMask) {
        public int batchSize() {
            return inputIds.length;
        }

        /** Length of the wrapped sequence. */
        public int wrappedLength() {
            return wrappedTargets[0].length;
        }

        /** Index of the feature row in the wrapped sequence (only with media). */
        public int featurePosition() {
            return prefixIds.length;
        }
    }

    private final LegacyTokenizer tokenizer;
    private final long bosId;
    private final long padId;
    private final int maxLength;
    private final Map<Modality, Integer> signalCounts;

    /**
     * @param signalCounts number of signal tokens per output modality (legacy: image 4, video 24, audio 8)
     */
    public LegacyBatchBuilder(LegacyTokenizer tokenizer, long bosId, long padId, int maxLength,
                              Map<Modality, Integer> signalCounts) {
        this.tokenizer = tokenizer;
        this.bosId = bosId;
        this.padId = padId;
        this.maxLength = maxLength;
        this.signalCounts = signalCounts;
    }

    /** The legacy signal string, e.g. {@code "[IMG0] [IMG1] [IMG2] [IMG3]"}. */
    public String signalString(Modality m) {
        String prefix = switch (m) {
            case IMAGE -> "IMG";
            case VIDEO -> "VID";
            case AUDIO -> "AUD";
            case TEXT -> throw new InvalidInputException("text has no signal tokens");
        };
        int n = signalCounts.getOrDefault(m, 0);
        List<String> parts = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            parts.add("[" + prefix + i + "]");
        }
        return String.join(" ", parts);
    }

    /** The ids of the modality's signal tokens, in order. */
    public long[] signalIds(Modality m) {
        return tokenizer.encode(signalString(m));
    }

    /** Stage 1: {@code "</Img> " + prompt + "\n### Assistant: "} masked, {@code caption + "\n###"} as target. */
    public Instance stage1(String caption, String prompt) {
        return join(List.of(piece("</Img> " + prompt + "\n### Assistant: ", false),
                piece(caption + "\n###", true)));
    }

    /** Stage 2: caption repeated, then the modality's signal tokens. */
    public Instance stage2(String caption, Modality output) {
        return join(List.of(piece(caption + "\n### Assistant: ", false),
                piece(caption + signalString(output) + "\n###", true)));
    }

    /** Stage 3: a dialogue; human turns masked, assistant turns (with signal tokens when they output media) targets. */
    public Instance stage3(List<Turn> conversation) {
        if (conversation.isEmpty() || !"human".equals(conversation.get(0).from())) {
            throw new InvalidInputException("a stage-3 conversation must start with a human turn");
        }
        List<long[][]> pieces = new ArrayList<>();
        for (int i = 0; i < conversation.size(); i++) {
            Turn t = conversation.get(i);
            if (i == 0) {
                String prefix = t.inputModality() != Modality.TEXT ? "</Img> " : "";
                pieces.add(piece(prefix + t.value() + "\n### Assistant: ", false));
            } else if ("human".equals(t.from())) {
                pieces.add(piece("Human: " + t.value() + "\n### Assistant: ", false));
            } else if ("gpt".equals(t.from())) {
                String signal = t.outputModality() == null || t.outputModality() == Modality.TEXT
                        ? "" : signalString(t.outputModality());
                pieces.add(piece(t.value() + signal + "\n###", true));
            } else {
                throw new InvalidInputException("turn " + i + " has unknown role '" + t.from() + "'");
            }
        }
        return join(pieces);
    }

    private long[][] piece(String text, boolean target) {
        long[] ids = tokenizer.encode(text);
        long[] tgt = target ? ids.clone() : filled(ids.length, IGNORE_INDEX);
        return new long[][] {ids, tgt};
    }

    private Instance join(List<long[][]> pieces) {
        int n = pieces.stream().mapToInt(p -> p[0].length).sum();
        long[] ids = new long[n];
        long[] tgt = new long[n];
        int pos = 0;
        for (long[][] p : pieces) {
            System.arraycopy(p[0], 0, ids, pos, p[0].length);
            System.arraycopy(p[1], 0, tgt, pos, p[1].length);
            pos += p[0].length;
        }
        int len = Math.min(n, maxLength);
        return new Instance(Arrays.copyOf(ids, len), Arrays.copyOf(tgt, len));
    }

    /** Pads, masks and wraps a batch of instances ({@code process_batch_*} then {@code prompt_wrap}). */
    public Batch collate(List<Instance> instances, boolean withMedia) {
        if (instances.isEmpty()) {
            throw new InvalidInputException("cannot collate an empty batch");
        }
        int b = instances.size();
        int len = instances.stream().mapToInt(i -> i.inputIds().length).max().orElse(0);
        long[][] ids = new long[b][len];
        long[][] tgt = new long[b][len];
        long[][] mask = new long[b][len];
        for (int r = 0; r < b; r++) {
            Instance in = instances.get(r);
            Arrays.fill(ids[r], padId);
            Arrays.fill(tgt[r], IGNORE_INDEX);
            System.arraycopy(in.inputIds(), 0, ids[r], 0, in.inputIds().length);
            System.arraycopy(in.targetIds(), 0, tgt[r], 0, in.targetIds().length);
            for (int c = 0; c < len; c++) {
                mask[r][c] = ids[r][c] != padId ? 1 : 0;
            }
        }
        long[] before = tokenizer.encode(withMedia ? "### Human: <Img>" : "### Human: ");
        long[] prefix = new long[before.length + 1];
        prefix[0] = bosId;
        System.arraycopy(before, 0, prefix, 1, before.length);
        int prefixRows = prefix.length + (withMedia ? 1 : 0);
        long[][] wTgt = new long[b][prefixRows + len];
        long[][] wMask = new long[b][prefixRows + len];
        for (int r = 0; r < b; r++) {
            Arrays.fill(wTgt[r], 0, prefixRows, IGNORE_INDEX);
            Arrays.fill(wMask[r], 0, prefixRows, 1);
            System.arraycopy(tgt[r], 0, wTgt[r], prefixRows, len);
            System.arraycopy(mask[r], 0, wMask[r], prefixRows, len);
        }
        return new Batch(ids, tgt, mask, prefix, withMedia, wTgt, wMask);
    }

    /** Positions {@code [s, e]} of the first and last signal token of {@code m} in a wrapped target row. */
    public int[] signalSpan(long[] wrappedTargets, Modality m) {
        long[] sig = signalIds(m);
        int s = -1;
        int e = -1;
        for (int i = 0; i < wrappedTargets.length; i++) {
            if (s < 0 && wrappedTargets[i] == sig[0]) {
                s = i;
            }
            if (wrappedTargets[i] == sig[sig.length - 1]) {
                e = i;
            }
        }
        if (s < 0 || e < s || e - s + 1 != sig.length) {
            throw new InvalidInputException("targets do not hold the " + sig.length + " contiguous " + m
                    + " signal tokens (found first at " + s + ", last at " + e + ")");
        }
        return new int[] {s, e};
    }

    private static long[] filled(int n, long v) {
        long[] a = new long[n];
        Arrays.fill(a, v);
        return a;
    }
}
