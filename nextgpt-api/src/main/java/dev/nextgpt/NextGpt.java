package dev.nextgpt;

/**
 * A loaded NExT-GPT model: any mix of text, image, audio and video in; text plus generated images, audio and video
 * out.
 *
 * <pre>{@code
 * try (NextGpt gpt = NextGpt.builder().withSystemLayout(Path.of("/models/nextgpt")).build()) {
 *     ChatResponse r = gpt.chat(Part.text("Show me a cat in the snow."));
 *     r.firstImage().ifPresent(img -> img.writePng(Path.of("cat.png")));
 * }
 * }</pre>
 *
 * <p><b>Thread-safety:</b> an instance may be shared between threads. Concurrent {@code chat} calls are allowed
 * and are serialised per instance by the runtime (one generation at a time; later calls wait). Use
 * {@link CancellationToken} to stop a running call. {@link #close()} releases native memory; calls after close fail.
 *
 * <p>Implementations come from a runtime found with {@link java.util.ServiceLoader} (see
 * {@link dev.nextgpt.spi.NextGptProvider}); add {@code dev.nextgpt:nextgpt-runtime} to the class path.
 */
public interface NextGpt extends AutoCloseable {

    /** A builder that configures the weights and finds the runtime. */
    static NextGptBuilder builder() {
        return new NextGptBuilder();
    }

    /** Answers one request without streaming. */
    default ChatResponse chat(ChatRequest request) {
        return chat(request, ChatListener.NONE);
    }

    /** Answers a single message made of these parts. */
    default ChatResponse chat(Part... parts) {
        return chat(ChatRequest.of(parts));
    }

    /**
     * Answers one request, reporting text deltas, diffusion progress, finished parts and completion to
     * {@code listener} as they happen. Blocks until done and returns the same response passed to
     * {@link ChatListener#onComplete(ChatResponse)}.
     *
     * @throws InvalidInputException     for an unusable part (e.g. an unreadable video)
     * @throws RuntimeFailureException   if the engine fails
     */
    ChatResponse chat(ChatRequest request, ChatListener listener);

    /** Starts a multi-turn conversation with the template's default system prompt. */
    default Conversation newConversation() {
        return new Conversation(this, null);
    }

    /** Starts a multi-turn conversation with the given system prompt. */
    default Conversation newConversation(String systemPrompt) {
        return new Conversation(this, systemPrompt);
    }

    /** Describes what is loaded: version, device, dtype, components and the modalities in and out. */
    ModelInfo info();

    /** Releases the model's native resources; idempotent. */
    @Override
    void close();
}
