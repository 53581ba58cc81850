package dev.nextgpt;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A multi-turn chat with one {@link NextGpt}: each {@code send} passes the earlier turns as the request's history
 * and, on success, appends the new turn. Created by {@link NextGpt#newConversation()}.
 *
 * <p>Thread-safe: sends on one conversation are serialised, so turns are recorded in order. A failed call (an
 * exception) and a cancelled call ({@link FinishReason#CANCELLED}) leave the history unchanged.
 */
public final class Conversation {
    private final NextGpt model;
    private final String systemPrompt;
    private final List<Turn> turns = new ArrayList<>();

    /**
     * A conversation with {@code model}.
     *
     * @param model        the model to talk to
     * @param systemPrompt the system prompt for every turn, or null for the template's default
     */
    public Conversation(NextGpt model, String systemPrompt) {
        this.model = Objects.requireNonNull(model, "model");
        this.systemPrompt = systemPrompt;
    }

    /** Sends the parts as the next user message. */
    public ChatResponse send(Part... parts) {
        return send(ChatRequest.of(parts));
    }

    /** Sends a request as the next user message. */
    public ChatResponse send(ChatRequest request) {
        return send(request, ChatListener.NONE);
    }

    /**
     * Sends a request as the next user message, streaming progress to {@code listener}. The conversation's history
     * is supplied as the request's history, and the conversation's system prompt is used unless the request sets
     * its own.
     *
     * @throws InvalidInputException if the request already carries history of its own
     */
    public synchronized ChatResponse send(ChatRequest request, ChatListener listener) {
        Checks.notNull("request", request);
        if (!request.history().isEmpty()) {
            throw new InvalidInputException("a request sent through a Conversation must not carry its own history "
                    + "(it has " + request.history().size() + " turns); the conversation supplies it");
        }
        ChatRequest full = request.withHistory(turns);
        if (full.systemPrompt() == null && systemPrompt != null) {
            full = full.withSystemPrompt(systemPrompt);
        }
        ChatResponse response = model.chat(full, listener == null ? ChatListener.NONE : listener);
        if (response == null) {
            throw new RuntimeFailureException("the NExT-GPT runtime returned no response");
        }
        if (response.finishReason() != FinishReason.CANCELLED) {
            turns.add(new Turn(request.parts(), response));
        }
        return response;
    }

    /** The turns so far, oldest first (an immutable snapshot). */
    public synchronized List<Turn> history() {
        return List.copyOf(turns);
    }

    /** Number of recorded turns. */
    public synchronized int size() {
        return turns.size();
    }

    /** Forgets all turns; the system prompt stays. */
    public synchronized void clear() {
        turns.clear();
    }

    /** The conversation's system prompt, or null for the template's default. */
    public String systemPrompt() {
        return systemPrompt;
    }

    /** The model this conversation talks to. */
    public NextGpt model() {
        return model;
    }
}
