package dev.nextgpt;

import java.util.List;

/**
 * One exchange of a conversation: what the user sent and what the model answered.
 *
 * @param user     the user's parts (immutable)
 * @param response the model's response
 */
public record Turn(List<Part> user, ChatResponse response) {

    /** Validates and copies. */
    public Turn {
        Checks.notNull("Turn.user", user);
        user = List.copyOf(user);
        Checks.notNull("Turn.response", response);
    }

    /** The user's text parts joined by newlines. */
    public String userText() {
        StringBuilder sb = new StringBuilder();
        for (Part p : user) {
            if (p instanceof TextPart t) {
                if (sb.length() > 0) {
                    sb.append('\n');
                }
                sb.append(t.text());
            }
        }
        return sb.toString();
    }

    /** The model's full text. */
    public String assistantText() {
        return response.text();
    }
}
