package dev.nextgpt.runtime.nextgpt.current;

import dev.nextgpt.runtime.nextgpt.LlamaTextTokenizer;

import dev.nextgpt.runtime.llm.LlamaTokenizer;
import dev.nextgpt.runtime.nextgpt.Modality;
import dev.nextgpt.runtime.nextgpt.current.CurrentPromptBuilder.Template;
import dev.nextgpt.runtime.nextgpt.current.CurrentPromptBuilder.Turn;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.stream.LongStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CurrentPromptBuilderTest {
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

    private static long[] cat(long[]... parts) {
        return java.util.Arrays.stream(parts).flatMapToLong(LongStream::of).toArray();
    }

    private static long[] enc(String s) {
        return llama.encode(s, false);
    }

    @Test
    void templatesMatchTheOriginalStrings() {
        String p = Template.VICUNA_V1.prompt(List.of(new Turn("q1", "a1"), Turn.open("q2")));
        assertEquals("A chat between a curious user and an artificial intelligence assistant. The assistant gives "
                + "helpful, detailed, and polite answers to the user's questions. USER: q1 ASSISTANT: a1</s>"
                + "USER: q2 ASSISTANT:", p);
        String h = CurrentPromptBuilder.inferencePrompt(Template.LLAVA_V1, List.of(Modality.IMAGE), "describe");
        assertEquals("A chat between a curious human and an artificial intelligence assistant. The assistant gives "
                + "helpful, detailed, and polite answers to the human's questions. USER: <image>\ndescribe "
                + "ASSISTANT:", h);
        assertThrows(dev.nextgpt.InvalidInputException.class,
                () -> Template.VICUNA_V1.prompt(List.of(Turn.open("a"), Turn.open("b"))));
    }

    @Test
    void imageSplitKeepsOneBos() {
        long[] ids = CurrentPromptBuilder.tokenizerMultipleToken("ab<image>\ncd", tok);
        long[] expected = cat(new long[] {1}, enc("ab"), new long[] {-200}, enc("\ncd"));
        assertArrayEquals(expected, ids);
        // the chunk after the placeholder carries its own dummy-prefix piece before the newline byte
        assertEquals("▁", llama.pieces("\ncd").get(0));
        assertEquals(-200, ids[1 + enc("ab").length]);
    }

    @Test
    void videoAndAudioSplitsAddAnExtraBos() {
        long[] v = CurrentPromptBuilder.tokenizerMultipleToken("ab<video>\ncd", tok);
        assertArrayEquals(cat(new long[] {1}, enc("ab"), new long[] {-300, 1}, enc("\ncd")), v);
        long[] a = CurrentPromptBuilder.tokenizerMultipleToken("ab<audio>\ncd", tok);
        assertArrayEquals(cat(new long[] {1}, enc("ab"), new long[] {-400, 1}, enc("\ncd")), a);
    }

    @Test
    void mixedPlaceholdersInAnyOrder() {
        // split order: <video> first, then <audio>, then <image>
        String p = "x<image>y<audio>z<video><image>w";
        long[] ids = CurrentPromptBuilder.tokenizerMultipleToken(p, tok);
        long[] expected = cat(new long[] {1}, enc("x"), new long[] {-200}, enc("y"), new long[] {-400, 1}, enc("z"),
                new long[] {-300, 1}, enc(""), new long[] {-200}, enc("w"));
        assertArrayEquals(expected, ids);
        assertArrayEquals(new int[] {2, 1, 1}, CurrentPromptBuilder.countPlaceholders(ids));
        // a prompt without placeholders is tokenizer(prompt).input_ids
        assertArrayEquals(cat(new long[] {1}, enc("plain text")),
                CurrentPromptBuilder.tokenizerMultipleToken("plain text", tok));
        // leading placeholder: the empty first chunk still yields the BOS
        long[] lead = CurrentPromptBuilder.tokenizerMultipleToken("<image>\nhi", tok);
        assertArrayEquals(cat(new long[] {1, -200}, enc("\nhi")), lead);
    }

    @Test
    void fullInferencePromptWithSignalTokensAndEos() {
        String prompt = Template.VICUNA_V1.prompt(List.of(new Turn(CurrentPromptBuilder.userMessage(
                List.of(Modality.AUDIO), "sound?"), "yes <image_00> <image_01></s>"), Turn.open("more")));
        long[] ids = CurrentPromptBuilder.tokenizerMultipleToken(prompt, tok);
        int audio = indexOf(ids, -400);
        assertTrue(audio > 0);
        assertEquals(1, ids[audio + 1], "extra BOS after <audio>");
        assertTrue(indexOf(ids, 512) > audio, "<image_00> is one special token id 512");
        assertTrue(indexOf(ids, 2) > indexOf(ids, 513), "</s> is the EOS id");
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
