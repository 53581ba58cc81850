package dev.nextgpt.runtime.llm;

import dev.nextgpt.InvalidInputException;

import java.util.List;

/**
 * Prompt formats of the two NExT-GPT versions (reference §2.4).
 * <ul>
 *   <li>{@link #LEGACY} (NExT-GPT legacy, Vicuna v0 without system prompt):
 *   {@code "### Human: q1\n### Assistant: a1\n### Human: q2\n### Assistant:"}; generation stops on {@code "###"}.</li>
 *   <li>{@link #VICUNA_V1} (current NExT-GPT, {@code conv_vicuna_v1}, separator style TWO):
 *   {@code system + " USER: q1 ASSISTANT: a1</s>USER: q2 ASSISTANT:"}; generation stops on EOS.</li>
 * </ul>
 */
public enum ConversationTemplate {
    LEGACY,
    VICUNA_V1;

    /** The system prompt of {@code conv_vicuna_v1}. */
    public static final String VICUNA_V1_SYSTEM = "A chat between a curious user and an artificial intelligence "
            + "assistant. The assistant gives helpful, detailed, and polite answers to the user's questions.";

    /** One exchange; {@code assistant == null} marks the open slot the model is to fill (last turn only). */
    public record Turn(String user, String assistant) {
        public Turn {
            if (user == null) {
                throw new InvalidInputException("a conversation turn needs a user message");
            }
        }

        public static Turn open(String user) {
            return new Turn(user, null);
        }
    }

    /** The full prompt text of {@code turns} (an open last turn ends the text with the assistant role). */
    public String prompt(List<Turn> turns) {
        if (turns.isEmpty()) {
            throw new InvalidInputException("a conversation needs at least one turn");
        }
        for (int i = 0; i < turns.size() - 1; i++) {
            if (turns.get(i).assistant() == null) {
                throw new InvalidInputException("only the last turn may lack an assistant answer (turn " + i + ")");
            }
        }
        StringBuilder sb = new StringBuilder();
        switch (this) {
            case LEGACY -> {
                sb.append("###");
                for (Turn t : turns) {
                    sb.append(" Human: ").append(t.user()).append("\n### Assistant:");
                    if (t.assistant() != null) {
                        sb.append(' ').append(t.assistant()).append("\n###");
                    }
                }
            }
            case VICUNA_V1 -> {
                sb.append(VICUNA_V1_SYSTEM).append(' ');
                for (Turn t : turns) {
                    sb.append("USER: ").append(t.user()).append(' ');
                    if (t.assistant() != null) {
                        sb.append("ASSISTANT: ").append(t.assistant()).append("</s>");
                    } else {
                        sb.append("ASSISTANT:");
                    }
                }
            }
            default -> throw new IllegalStateException();
        }
        return sb.toString();
    }

    /** The text that ends an assistant answer: {@code "###"} (legacy) or {@code "</s>"} (EOS, v1). */
    public String stopString() {
        return this == LEGACY ? "###" : "</s>";
    }
}
