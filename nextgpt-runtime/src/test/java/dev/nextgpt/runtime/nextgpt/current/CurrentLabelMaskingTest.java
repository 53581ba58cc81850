package dev.nextgpt.runtime.nextgpt.current;

import dev.nextgpt.runtime.nextgpt.LlamaTextTokenizer;

import dev.nextgpt.runtime.llm.LlamaTokenizer;
import dev.nextgpt.runtime.nextgpt.current.CurrentLabelMasking.Masked;
import dev.nextgpt.runtime.nextgpt.current.CurrentLabelMasking.Options;
import dev.nextgpt.runtime.nextgpt.current.CurrentPromptBuilder.Template;
import dev.nextgpt.runtime.nextgpt.current.CurrentPromptBuilder.Turn;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CurrentLabelMaskingTest {
    static LlamaTokenizer llama;
    static LlamaTextTokenizer tok;

    @BeforeAll
    static void load() {
        llama = CurrentFixtures.currentTokenizer();
        tok = new LlamaTextTokenizer(llama);
    }

    @AfterAll
    static void close() {
        llama.close();
    }

    /** The unmasked stretches of {@code labels} as separate id lists. */
    private static List<long[]> kept(long[] labels) {
        List<long[]> out = new ArrayList<>();
        List<Long> cur = new ArrayList<>();
        for (long l : labels) {
            if (l == -100) {
                if (!cur.isEmpty()) {
                    out.add(cur.stream().mapToLong(Long::longValue).toArray());
                    cur.clear();
                }
            } else {
                cur.add(l);
            }
        }
        if (!cur.isEmpty()) {
            out.add(cur.stream().mapToLong(Long::longValue).toArray());
        }
        return out;
    }

    @Test
    void twoRoundsKeepOnlyTheAnswersAndTheirEos() {
        List<Turn> turns = List.of(new Turn(CurrentPromptBuilder.userMessage(List.of(dev.nextgpt.runtime.nextgpt.Modality.IMAGE),
                "What is shown?"), "A dog."), new Turn("Make one.", "Sure <image_00> <image_01> <image_02> <image_03>"));
        Masked r = CurrentLabelMasking.preprocessV1(Template.VICUNA_V1, turns, tok, Options.defaults());
        assertFalse(r.mismatch(), "counted " + r.counted() + " vs total " + r.total());
        assertEquals(r.inputIds().length, r.total());
        assertEquals(r.total(), r.counted());
        assertEquals(-200, r.inputIds()[r.inputIds().length > 0 ? indexOf(r.inputIds(), -200) : 0]);
        List<long[]> kept = kept(r.labels());
        assertEquals(2, kept.size());
        // each kept stretch is the answer as tokenized on its own (the space after "ASSISTANT:" merges into the
        // answer's dummy prefix) followed by the closing </s>
        for (int i = 0; i < 2; i++) {
            long[] k = kept.get(i);
            assertEquals(2, k[k.length - 1], "the closing </s> is a target");
            assertArrayEquals(llama.encode(turns.get(i).assistant(), false), java.util.Arrays.copyOf(k, k.length - 1));
        }
        // the signal tokens (and ▁ separators) are ordinary targets: 7 = 2·4−1 ids in the second answer
        long[] second = kept.get(1);
        assertEquals(512, second[second.length - 8]);
        assertEquals(515, second[second.length - 2]);
        // BOS and the whole first instruction (system prompt, placeholder) are masked
        assertEquals(-100, r.labels()[0]);
        assertEquals(-100, r.labels()[indexOf(r.inputIds(), -200)]);
    }

    @Test
    void plainTokenizationPathGivesTheSameLabelsWithoutMedia() {
        List<Turn> turns = List.of(new Turn("hi", "hello there"), new Turn("and?", "more text"));
        Masked a = CurrentLabelMasking.preprocessV1(Template.VICUNA_V1, turns, tok, Options.defaults());
        Masked b = CurrentLabelMasking.preprocessV1(Template.VICUNA_V1, turns, tok,
                new Options(false, false, 2048, 0));
        assertArrayEquals(a.inputIds(), b.inputIds());
        assertArrayEquals(a.labels(), b.labels());
        assertFalse(a.mismatch());
    }

    @Test
    void nonLegacyAdjustmentOnALegacyTokenizerIsAMismatch() {
        List<Turn> turns = List.of(new Turn("hi", "hello there"), new Turn("and?", "more text"));
        Masked r = CurrentLabelMasking.preprocessV1(Template.VICUNA_V1, turns, tok,
                Options.defaults().withNonLegacyAdjust(true));
        // the legacy (prefix-space) tokenizer does not lose a token per later round: counted is one short
        assertTrue(r.mismatch());
        assertEquals(r.total() - 1, r.counted());
        for (long l : r.labels()) {
            assertEquals(-100, l);
        }
        // a single round is not affected by the flag
        Masked one = CurrentLabelMasking.preprocessV1(Template.VICUNA_V1, List.of(new Turn("hi", "yo")), tok,
                Options.defaults().withNonLegacyAdjust(true));
        assertFalse(one.mismatch());
    }

    @Test
    void truncatedSampleSkipsTheMismatchCheck() {
        List<Turn> turns = List.of(new Turn("hi", "hello there"));
        Masked full = CurrentLabelMasking.preprocessV1(Template.VICUNA_V1, turns, tok, Options.defaults());
        int max = full.inputIds().length - 3;
        Masked cut = CurrentLabelMasking.preprocessV1(Template.VICUNA_V1, turns, tok, new Options(false, false, max, 0));
        assertEquals(max, cut.inputIds().length);
        assertFalse(cut.mismatch(), "cur_len >= model_max_length: no mismatch check");
        assertArrayEquals(java.util.Arrays.copyOf(full.labels(), max), cut.labels());
    }

    private static int indexOf(long[] a, long v) {
        for (int i = 0; i < a.length; i++) {
            if (a[i] == v) {
                return i;
            }
        }
        return -1;
    }
}
