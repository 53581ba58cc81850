package dev.nextgpt.runtime.component;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import java.util.Map;

/**
 * Runs one network on named tensors and returns named tensors: the engine behind
 * {@code nextgpt component <kind> --model DIR --inputs IN.safetensors --output OUT.safetensors}. Input and output
 * names follow the original Python forward arguments and outputs. Implementations are found through
 * {@link java.util.ServiceLoader} (register the class in
 * {@code META-INF/services/dev.nextgpt.runtime.component.ComponentRunner}).
 */
public interface ComponentRunner {

    /** The kind name used on the command line, e.g. {@code llama} or {@code unet2d}. */
    String kind();

    /** One line describing inputs, options and outputs, shown by {@code nextgpt component --list}. */
    String description();

    /**
     * Runs the component. Inputs were read from the inputs file (floating point as FLOAT32, integers as stored);
     * returned arrays are written to the output file in iteration order and must belong to {@code manager}.
     */
    Map<String, NDArray> run(ComponentRequest request, NDManager manager);
}
