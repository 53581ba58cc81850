package dev.nextgpt.runtime.component;

import ai.djl.ndarray.NDArray;
import dev.nextgpt.InvalidInputException;

import java.nio.file.Path;
import java.util.Collections;
import java.util.Map;
import java.util.Optional;

/**
 * What a {@link ComponentRunner} is asked to do: the model path, the named input tensors and the scalar options
 * ({@code --option k=v}), plus optional extra paths such as {@code --lora DIR}.
 */
public record ComponentRequest(Path model, Map<String, NDArray> inputs, Map<String, String> options,
                               Map<String, Path> extraPaths) {

    public ComponentRequest {
        inputs = Collections.unmodifiableMap(inputs);
        options = Collections.unmodifiableMap(options);
        extraPaths = Collections.unmodifiableMap(extraPaths);
    }

    /** A required input tensor; a clear error naming the missing tensor otherwise. */
    public NDArray input(String name) {
        NDArray a = inputs.get(name);
        if (a == null) {
            throw new InvalidInputException("input tensor '" + name + "' is required; inputs file holds "
                    + inputs.keySet());
        }
        return a;
    }

    public Optional<NDArray> optionalInput(String name) {
        return Optional.ofNullable(inputs.get(name));
    }

    public Optional<String> option(String key) {
        return Optional.ofNullable(options.get(key));
    }

    public String option(String key, String fallback) {
        return options.getOrDefault(key, fallback);
    }

    public int intOption(String key, int fallback) {
        String v = options.get(key);
        if (v == null) {
            return fallback;
        }
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new InvalidInputException("option " + key + "=" + v + " is not an integer");
        }
    }

    public long longOption(String key, long fallback) {
        String v = options.get(key);
        if (v == null) {
            return fallback;
        }
        try {
            return Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new InvalidInputException("option " + key + "=" + v + " is not an integer");
        }
    }

    /** A boolean option: {@code true} (any case) is true, any other value false; {@code fallback} when absent. */
    public boolean booleanOption(String key, boolean fallback) {
        String v = options.get(key);
        return v == null ? fallback : Boolean.parseBoolean(v);
    }

    public double doubleOption(String key, double fallback) {
        String v = options.get(key);
        if (v == null) {
            return fallback;
        }
        try {
            return Double.parseDouble(v.trim());
        } catch (NumberFormatException e) {
            throw new InvalidInputException("option " + key + "=" + v + " is not a number");
        }
    }

    public Optional<Path> path(String key) {
        return Optional.ofNullable(extraPaths.get(key));
    }
}
