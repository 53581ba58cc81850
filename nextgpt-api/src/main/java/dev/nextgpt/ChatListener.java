package dev.nextgpt;

/**
 * Receives progress of a streaming {@link NextGpt#chat(ChatRequest, ChatListener)} call. All methods default to
 * no-ops; they are called on the thread running the chat, in order. An exception thrown by a listener aborts the
 * call and is rethrown to the caller.
 */
public interface ChatListener {

    /** A listener that ignores everything. */
    ChatListener NONE = new ChatListener() {
    };

    /** Newly generated text (signal tokens are not reported as text). */
    default void onTextDelta(String delta) {
    }

    /**
     * One diffusion step of a media decoder finished.
     *
     * @param modality   the modality being decoded
     * @param step       steps done so far, 1-based
     * @param totalSteps steps planned
     */
    default void onMediaProgress(Modality modality, int step, int totalSteps) {
    }

    /** An output part is complete (a text segment, a generated medium or a {@link MediaRequestPart}). */
    default void onPart(Part part) {
    }

    /** The call finished (also after cancellation, with {@link FinishReason#CANCELLED}). */
    default void onComplete(ChatResponse response) {
    }

    /** The call failed; the same exception is then thrown to the caller. */
    default void onError(Throwable error) {
    }
}
