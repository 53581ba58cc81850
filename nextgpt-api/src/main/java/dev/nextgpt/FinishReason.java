package dev.nextgpt;

/** Why text generation stopped. */
public enum FinishReason {
    /** The model emitted its end-of-sequence token (or the template's turn separator). */
    EOS,
    /** A caller-supplied stop string appeared in the output (the stop string is not included). */
    STOP_STRING,
    /** {@link TextGenerationOptions#maxNewTokens()} tokens were generated. */
    MAX_TOKENS,
    /** The request's {@link CancellationToken} was cancelled; the response holds what was produced so far. */
    CANCELLED
}
