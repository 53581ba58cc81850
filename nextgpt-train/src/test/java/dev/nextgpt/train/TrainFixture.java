package dev.nextgpt.train;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.reflect.TypeToken;
import dev.nextgpt.train.data.LegacyTokenizer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/** Access to the copied {@code nextgpt-train} golden fixture. */
public final class TrainFixture {
    public static final Path DIR = Path.of("src/test/resources/golden/nextgpt-train");
    public static final Path TOKENIZER_JSON = Path.of("src/test/resources/golden/nextgpt-train-extra/tokenizer.json");

    private TrainFixture() {
    }

    public static JsonObject cases() {
        try {
            return JsonParser.parseString(Files.readString(DIR.resolve("cases.json"))).getAsJsonObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static JsonObject trainingConfig() {
        try {
            return JsonParser.parseString(Files.readString(DIR.resolve("training_config.json"))).getAsJsonObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static JsonObject caseNamed(String name) {
        for (JsonElement c : cases().getAsJsonArray("cases")) {
            if (c.getAsJsonObject().get("name").getAsString().equals(name)) {
                return c.getAsJsonObject();
            }
        }
        throw new IllegalArgumentException(name);
    }

    public static Map<String, Integer> addedTokens() {
        try {
            return new Gson().fromJson(Files.readString(DIR.resolve("tokenizer/added_tokens.json")),
                    new TypeToken<Map<String, Integer>>() { }.getType());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static LegacyTokenizer tokenizer() {
        return LegacyTokenizer.load(TOKENIZER_JSON, addedTokens());
    }

    public static long[][] longMatrix(JsonArray a) {
        long[][] out = new long[a.size()][];
        for (int i = 0; i < out.length; i++) {
            JsonArray row = a.get(i).getAsJsonArray();
            out[i] = new long[row.size()];
            for (int j = 0; j < out[i].length; j++) {
                out[i][j] = row.get(j).getAsLong();
            }
        }
        return out;
    }

    public static long[] longs(JsonArray a) {
        long[] out = new long[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).getAsLong();
        }
        return out;
    }
}
