package dev.nextgpt.runtime.config;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.nextgpt.ModelFormatException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * A parsed JSON config file (HF {@code config.json}, diffusers component {@code config.json},
 * {@code model_index.json}, {@code scheduler_config.json}, ...) with typed getters. Unknown keys are tolerated;
 * a missing or mistyped required key is reported with the file and key name. Network config records are built
 * from it.
 */
public final class JsonConfig {
    private final Path source;
    private final JsonObject root;

    public JsonConfig(Path source, JsonObject root) {
        this.source = source;
        this.root = root;
    }

    /** Reads and parses a JSON object file. */
    public static JsonConfig read(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new ModelFormatException("config file " + file + " does not exist");
        }
        try {
            JsonElement el = JsonParser.parseString(Files.readString(file));
            if (!el.isJsonObject()) {
                throw new ModelFormatException(file + " is not a JSON object");
            }
            return new JsonConfig(file, el.getAsJsonObject());
        } catch (IOException | com.google.gson.JsonParseException e) {
            throw new ModelFormatException("cannot parse config " + file + ": " + e.getMessage(), e);
        }
    }

    public Path source() {
        return source;
    }

    public JsonObject json() {
        return root;
    }

    public boolean has(String key) {
        return root.has(key) && !root.get(key).isJsonNull();
    }

    private JsonElement required(String key) {
        if (!has(key)) {
            throw new ModelFormatException(source + ": required key '" + key + "' is missing");
        }
        return root.get(key);
    }

    private ModelFormatException mistyped(String key, String what) {
        return new ModelFormatException(source + ": key '" + key + "' should be " + what + " but is "
                + root.get(key));
    }

    /** Converts a required value, reporting a conversion failure as "key should be {@code what}". */
    private <T> T convert(String key, String what, Function<JsonElement, T> conversion) {
        JsonElement el = required(key);
        try {
            return conversion.apply(el);
        } catch (RuntimeException e) {
            throw mistyped(key, what);
        }
    }

    public int getInt(String key) {
        return convert(key, "an integer", JsonElement::getAsInt);
    }

    public int getInt(String key, int fallback) {
        return has(key) ? getInt(key) : fallback;
    }

    public long getLong(String key, long fallback) {
        return has(key) ? convert(key, "an integer", JsonElement::getAsLong) : fallback;
    }

    public double getDouble(String key) {
        return convert(key, "a number", JsonElement::getAsDouble);
    }

    public double getDouble(String key, double fallback) {
        return has(key) ? getDouble(key) : fallback;
    }

    public boolean getBoolean(String key, boolean fallback) {
        return has(key) ? convert(key, "a boolean", JsonElement::getAsBoolean) : fallback;
    }

    public String getString(String key) {
        JsonElement el = required(key);
        if (!el.isJsonPrimitive()) {
            throw mistyped(key, "a string");
        }
        return el.getAsString();
    }

    public String getString(String key, String fallback) {
        return has(key) ? getString(key) : fallback;
    }

    public Optional<String> optString(String key) {
        return has(key) ? Optional.of(getString(key)) : Optional.empty();
    }

    public Optional<JsonConfig> optObject(String key) {
        if (!has(key)) {
            return Optional.empty();
        }
        JsonElement el = root.get(key);
        if (!el.isJsonObject()) {
            throw mistyped(key, "an object");
        }
        return Optional.of(new JsonConfig(source, el.getAsJsonObject()));
    }

    public List<String> getStringList(String key, List<String> fallback) {
        if (!has(key)) {
            return fallback;
        }
        JsonElement el = root.get(key);
        if (!el.isJsonArray()) {
            throw mistyped(key, "a list of strings");
        }
        List<String> out = new ArrayList<>();
        for (JsonElement e : el.getAsJsonArray()) {
            out.add(e.getAsString());
        }
        return out;
    }

    public int[] getIntArray(String key, int[] fallback) {
        if (!has(key)) {
            return fallback;
        }
        JsonElement el = root.get(key);
        if (el.isJsonPrimitive()) {
            return new int[] {el.getAsInt()};
        }
        if (!el.isJsonArray()) {
            throw mistyped(key, "an integer or a list of integers");
        }
        JsonArray a = el.getAsJsonArray();
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).getAsInt();
        }
        return out;
    }

    public double[] getDoubleArray(String key, double[] fallback) {
        if (!has(key)) {
            return fallback;
        }
        JsonElement el = root.get(key);
        if (!el.isJsonArray()) {
            throw mistyped(key, "a list of numbers");
        }
        JsonArray a = el.getAsJsonArray();
        double[] out = new double[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).getAsDouble();
        }
        return out;
    }

    /** A short human summary: the config's model/class type keys if present. */
    public String summary() {
        for (String k : List.of("model_type", "_class_name", "architectures")) {
            if (has(k)) {
                return k + "=" + root.get(k);
            }
        }
        return root.size() + " keys";
    }
}
