package dev.nextgpt.runtime.nextgpt;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

/**
 * Encodes one media file into the LLM-space feature of the legacy model: ImageBind (CLS head, L2-normalised,
 * clip-averaged) followed by {@code llama_proj}. Implemented by the pipeline once ImageBind and preprocessing land.
 */
@FunctionalInterface
public interface MediaFeatureEncoder {

    /** The projected feature {@code [hidden]} (or {@code [1, hidden]}) of the file at {@code path}. */
    NDArray encode(Modality modality, String path, NDManager manager);
}
