package dev.nextgpt.runtime.nextgpt;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.nextgpt.runtime.io.SafetensorsFile;
import dev.nextgpt.runtime.io.TensorStore;

import java.io.IOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertNotNull;

/** Access to the copied {@code golden/nextgpt-e2e} files (legacy system: delta folder, cases). */
final class E2eGolden {
    private E2eGolden() {
    }

    static Path dir() {
        URL url = E2eGolden.class.getResource("/golden/nextgpt-e2e/cases.json");
        assertNotNull(url, "nextgpt-e2e fixture missing from test resources");
        try {
            return Path.of(url.toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static Path deltaDir() {
        return dir().resolve("system/ckpt/delta_ckpt/nextgpt/7b_tiva_v0");
    }

    static HfTextTokenizer tokenizer() {
        return HfTextTokenizer.open(deltaDir().resolve("tokenizer.json"));
    }

    static TensorStore delta() {
        return SafetensorsFile.open(deltaDir().resolve("pytorch_model.safetensors"));
    }

    static TensorStore caseTensors(String name) {
        return SafetensorsFile.open(dir().resolve("cases/" + name + ".safetensors"));
    }

    static JsonObject json(String file) {
        try {
            return JsonParser.parseString(Files.readString(dir().resolve(file))).getAsJsonObject();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static List<JsonObject> cases() {
        List<JsonObject> out = new ArrayList<>();
        for (JsonElement e : json("cases.json").getAsJsonArray("cases")) {
            out.add(e.getAsJsonObject());
        }
        return out;
    }

    static JsonObject caseNamed(String name) {
        return cases().stream().filter(c -> c.get("name").getAsString().equals(name)).findFirst().orElseThrow();
    }

    static long[] longs(JsonArray a) {
        long[] out = new long[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).getAsLong();
        }
        return out;
    }
}
