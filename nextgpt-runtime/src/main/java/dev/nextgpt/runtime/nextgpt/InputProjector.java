package dev.nextgpt.runtime.nextgpt;

import ai.djl.ndarray.NDArray;

/**
 * Maps multimodal encoder features (ImageBind width) to LLM input embeddings (LLM hidden size): legacy
 * {@code llama_proj}, current {@code mm_input_projector} of type {@code linear}, {@code mlp}, {@code group} or
 * {@code identity} (reference §2.2). Results belong to the input's manager.
 */
public interface InputProjector extends AutoCloseable {

    /** The projector type name as in {@code mm_input_projector_type} ({@code llama_proj} for the legacy one). */
    String type();

    /** Feature width expected on the last axis of the input. */
    int inDim();

    /** Width of the output's last axis (the LLM hidden size). */
    int outDim();

    /** {@code [.., inDim]} → {@code [.., outDim]}; the group projector maps {@code [B, T, inDim]} to {@code [B, 8, outDim]}. */
    NDArray forward(NDArray x);

    @Override
    void close();
}
