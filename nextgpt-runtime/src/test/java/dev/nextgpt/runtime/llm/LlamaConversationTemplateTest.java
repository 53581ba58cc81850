package dev.nextgpt.runtime.llm;

import dev.nextgpt.InvalidInputException;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class LlamaConversationTemplateTest {
    @Test
    void legacyMatchesDemoStrings() {
        assertEquals("### Human: <Image>p.jpg</Image>  describe it\n### Assistant:", ConversationTemplate.LEGACY
                .prompt(List.of(ConversationTemplate.Turn.open("<Image>p.jpg</Image>  describe it"))));
        assertEquals("### Human: q1\n### Assistant: a1\n### Human: q2\n### Assistant: a2\n### Human: q3\n### Assistant:",
                ConversationTemplate.LEGACY.prompt(List.of(new ConversationTemplate.Turn("q1", "a1"),
                        new ConversationTemplate.Turn("q2", "a2"), ConversationTemplate.Turn.open("q3"))));
    }

    @Test
    void vicunaV1MatchesConvVicunaV1() {
        String sys = "A chat between a curious user and an artificial intelligence assistant. The assistant gives "
                + "helpful, detailed, and polite answers to the user's questions.";
        assertEquals(sys + " USER: m1 ASSISTANT: a1</s>USER: m2 ASSISTANT:", ConversationTemplate.VICUNA_V1.prompt(
                List.of(new ConversationTemplate.Turn("m1", "a1"), ConversationTemplate.Turn.open("m2"))));
        assertEquals(sys + " USER: <image>\nWhat is this? ASSISTANT:", ConversationTemplate.VICUNA_V1.prompt(
                List.of(ConversationTemplate.Turn.open("<image>\nWhat is this?"))));
    }

    @Test
    void openTurnOnlyLast() {
        assertThrows(InvalidInputException.class, () -> ConversationTemplate.VICUNA_V1.prompt(List.of(
                ConversationTemplate.Turn.open("a"), ConversationTemplate.Turn.open("b"))));
    }
}
