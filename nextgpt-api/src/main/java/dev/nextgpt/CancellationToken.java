package dev.nextgpt;

/**
 * Lets a caller stop a running {@link NextGpt#chat(ChatRequest, ChatListener)} from any thread. The runtime checks it
 * between generated tokens and between diffusion steps; a cancelled call returns the partial response with
 * {@link FinishReason#CANCELLED} rather than throwing. Thread-safe; once cancelled it stays cancelled.
 */
public final class CancellationToken {
    private volatile boolean cancelled;

    /** A fresh, not yet cancelled token. */
    public CancellationToken() {
    }

    /** Requests cancellation; idempotent. */
    public void cancel() {
        cancelled = true;
    }

    /** Whether {@link #cancel()} has been called. */
    public boolean isCancelled() {
        return cancelled;
    }

    @Override
    public String toString() {
        return "CancellationToken[cancelled=" + cancelled + "]";
    }
}
