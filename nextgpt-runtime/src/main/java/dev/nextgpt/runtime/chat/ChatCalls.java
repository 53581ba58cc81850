package dev.nextgpt.runtime.chat;

import ai.djl.ndarray.NDArray;
import dev.nextgpt.ChatListener;
import dev.nextgpt.ChatRequest;
import dev.nextgpt.ChatResponse;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.MediaRequestPart;
import dev.nextgpt.NextGptException;
import dev.nextgpt.Part;
import dev.nextgpt.RuntimeFailureException;
import dev.nextgpt.runtime.nextgpt.ModalityDecoder;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;
import java.util.function.Function;

/** Request/response plumbing shared by the {@code NextGpt} implementations of this package. */
final class ChatCalls {
    private ChatCalls() {
    }

    /** One decoder call with the call's progress and cancellation hooks. */
    interface DecoderCall {
        ModalityDecoder.Output decode(ModalityDecoder.Progress progress, BooleanSupplier cancelled);
    }

    /**
     * Runs one chat call serialised on {@code lock}: the listener (none when null) gets the completion or the error;
     * errors that are not {@link NextGptException}s are wrapped in a {@link RuntimeFailureException}.
     */
    static ChatResponse serialised(ReentrantLock lock, boolean closed, ChatListener listener,
                                   Function<ChatListener, ChatResponse> call) {
        ChatListener l = listener == null ? ChatListener.NONE : listener;
        if (closed) {
            throw new InvalidInputException("this NextGpt instance is closed");
        }
        lock.lock();
        try {
            ChatResponse r = call.apply(l);
            l.onComplete(r);
            return r;
        } catch (RuntimeException e) {
            l.onError(e);
            throw e instanceof NextGptException ? e : new RuntimeFailureException("NExT-GPT chat failed: " + e, e);
        } finally {
            lock.unlock();
        }
    }

    /** Deletes the call's temporary media files (best effort). */
    static void deleteTemps(List<Path> temps) {
        for (Path p : temps) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException ignored) {
                // temp file
            }
        }
    }

    /** The conditioning as a {@link MediaRequestPart}, for a modality without a decoder. */
    static MediaRequestPart mediaRequest(dev.nextgpt.Modality api, NDArray cond, String receiver) {
        int[] shape = Arrays.stream(cond.getShape().getShape()).mapToInt(Math::toIntExact).toArray();
        return new MediaRequestPart(api, cond.toFloatArray(), shape, "no " + api.name().toLowerCase()
                + " decoder is configured; this is the conditioning (prompt_embeds) the " + receiver
                + " would receive");
    }

    /**
     * Runs a decoder, reporting its steps as media progress and polling the request's cancellation; null when it
     * was cancelled.
     */
    static Part decodeOrNull(dev.nextgpt.Modality api, ChatRequest request, ChatListener l, DecoderCall call) {
        try {
            return call.decode((step, total) -> l.onMediaProgress(api, step, total),
                    () -> request.cancellation().isCancelled()).part();
        } catch (CancellationException e) {
            return null;
        }
    }
}
