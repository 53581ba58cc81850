package dev.nextgpt.runtime.nextgpt.current;

import dev.nextgpt.InvalidInputException;
import dev.nextgpt.runtime.nextgpt.TextTokenizer;
import dev.nextgpt.runtime.nextgpt.current.CurrentPromptBuilder.Template;

import java.util.Arrays;
import java.util.List;

/**
 * Training labels of the current version ({@code nextgpt/dataset/dataset_utils.py preprocess_v1}, reference §2.4):
 * the conversation text is split into rounds on {@code "</s>"} and each round on {@code " ASSISTANT: "}; BOS and
 * the instruction part of every round ({@code len(tok(instruction)) − 2} tokens) are masked with −100, the answer and
 * its closing {@code </s>} stay. With a non-legacy tokenizer on tokenizers ≥ 0.14 both lengths are one smaller for
 * rounds after the first. If the counted length differs from the real (non-pad) length, the whole sample is masked
 * ("tokenization mismatch").
 */
public final class CurrentLabelMasking {

    /** The separator between instruction and answer: {@code sep + roles[1] + ": "}. */
    public static final String ROUND_SEP = Template.SEP + Template.ASSISTANT + ": ";

    /**
     * Result for one conversation.
     *
     * @param inputIds  the ids (placeholders kept as −200/−300/−400 when tokenized with media)
     * @param labels    the targets
     * @param counted   {@code cur_len} after the last round
     * @param total     non-pad tokens ({@code ids != pad_token_id})
     * @param mismatch  whether the whole sample was masked
     */
    public record Masked(long[] inputIds, long[] labels, int counted, int total, boolean mismatch) {
    }

    /**
     * Options.
     *
     * @param hasOtherModality  tokenize with {@code tokenizer_multiple_token} (the training default, True) instead
     *                          of a plain {@code tokenizer(text)} with truncation
     * @param nonLegacyAdjust   {@code not tokenizer.legacy and tokenizers >= 0.14}: both lengths −1 for rounds after
     *                          the first
     * @param modelMaxLength    {@code tokenizer.model_max_length} (truncation of the plain path; the mismatch check
     *                          only runs when {@code cur_len < modelMaxLength})
     * @param padId             {@code tokenizer.pad_token_id} (unk, 0, for v1)
     */
    public record Options(boolean hasOtherModality, boolean nonLegacyAdjust, int modelMaxLength, long padId) {
        /** Training defaults: media-aware tokenization, legacy tokenizer, 2048, pad 0. */
        public static Options defaults() {
            return new Options(true, false, 2048, 0);
        }

        public Options withNonLegacyAdjust(boolean on) {
            return new Options(hasOtherModality, on, modelMaxLength, padId);
        }
    }

    private CurrentLabelMasking() {
    }

    /** Builds the conversation text with {@code template} (all turns answered) and masks it. */
    public static Masked preprocessV1(Template template, List<CurrentPromptBuilder.Turn> turns, TextTokenizer tokenizer,
                                      Options options) {
        for (CurrentPromptBuilder.Turn t : turns) {
            if (t.assistant() == null) {
                throw new InvalidInputException("training conversations need an answer for every turn");
            }
        }
        return preprocessV1(template.prompt(turns), tokenizer, options);
    }

    /** Masks an already formatted conversation text ({@code conv.get_prompt()}). */
    public static Masked preprocessV1(String conversation, TextTokenizer tokenizer, Options options) {
        long[] ids = tokenize(conversation, tokenizer, options, true);
        long[] target = ids.clone();
        int total = 0;
        for (long id : ids) {
            total += id != options.padId() ? 1 : 0;
        }
        int cur = 1;
        fill(target, 0, cur);
        String[] rounds = CurrentPromptBuilder.split(conversation, Template.SEP2);
        for (int i = 0; i < rounds.length; i++) {
            String rou = rounds[i];
            if (rou.isEmpty()) {
                break;
            }
            String[] parts = CurrentPromptBuilder.split(rou, ROUND_SEP);
            if (parts.length != 2) {
                break;
            }
            String instruction = parts[0] + ROUND_SEP;
            int roundLen = tokenize(rou, tokenizer, options, false).length;
            int instructionLen = tokenize(instruction, tokenizer, options, false).length - 2;
            if (i != 0 && options.nonLegacyAdjust()) {
                roundLen -= 1;
                instructionLen -= 1;
            }
            fill(target, cur, cur + instructionLen);
            cur += roundLen;
        }
        fill(target, cur, target.length);
        boolean mismatch = false;
        if (cur < options.modelMaxLength() && cur != total) {
            Arrays.fill(target, CurrentPromptBuilder.IGNORE_INDEX);
            mismatch = true;
        }
        return new Masked(ids, target, cur, total, mismatch);
    }

    private static long[] tokenize(String text, TextTokenizer tokenizer, Options o, boolean truncate) {
        if (o.hasOtherModality()) {
            return CurrentPromptBuilder.tokenizerMultipleToken(text, tokenizer);
        }
        long[] ids = CurrentPromptBuilder.withBos(text, tokenizer);
        return truncate && ids.length > o.modelMaxLength() ? Arrays.copyOf(ids, o.modelMaxLength()) : ids;
    }

    /** Python {@code target[from:to] = IGNORE} (clamped; empty when {@code to <= from}). */
    private static void fill(long[] target, int from, int to) {
        int a = Math.max(0, Math.min(from, target.length));
        int b = Math.max(0, Math.min(to, target.length));
        if (b > a) {
            Arrays.fill(target, a, b, CurrentPromptBuilder.IGNORE_INDEX);
        }
    }
}
