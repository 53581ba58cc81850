package dev.nextgpt.runtime.diffusion;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.nextgpt.ModelFormatException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Turns a prompt into the CLIP token ids the text encoder reads ({@code padding="max_length"}, truncation to
 * {@code model_max_length}: {@code [bos] + ids[:max-2] + [eos] + pads}). The full BPE tokenizer is
 * {@code dev.nextgpt.runtime.clip.ClipBpeTokenizer}; {@link #emptyPromptOnly(Path)} needs no BPE and handles the
 * only prompt the pipeline encodes itself, the empty negative prompt.
 */
@FunctionalInterface
public interface PromptTokenizer {

    /** Token ids of {@code text}, padded/truncated to the model length. */
    long[] encode(String text);

    /**
     * A tokenizer for {@code ""} only, read from a CLIP tokenizer folder ({@code vocab.json} and
     * {@code tokenizer_config.json} / {@code special_tokens_map.json}): {@code [bos, eos, pad...]}, where the pad
     * token is the configured {@code pad_token} (SD-2 style {@code "!"}) or, when absent, {@code <|endoftext|>}
     * (SD-1.x style).
     */
    static PromptTokenizer emptyPromptOnly(Path tokenizerDir) {
        JsonObject vocab = readJson(tokenizerDir.resolve("vocab.json"));
        JsonObject cfg = Files.isRegularFile(tokenizerDir.resolve("tokenizer_config.json"))
                ? readJson(tokenizerDir.resolve("tokenizer_config.json")) : new JsonObject();
        JsonObject special = Files.isRegularFile(tokenizerDir.resolve("special_tokens_map.json"))
                ? readJson(tokenizerDir.resolve("special_tokens_map.json")) : new JsonObject();
        String bos = token(special, cfg, "bos_token", "<|startoftext|>");
        String eos = token(special, cfg, "eos_token", "<|endoftext|>");
        String pad = token(special, cfg, "pad_token", "<|endoftext|>");
        int max = cfg.has("model_max_length") && cfg.get("model_max_length").getAsDouble() < 100_000
                ? cfg.get("model_max_length").getAsInt() : 77;
        long bosId = id(vocab, bos, tokenizerDir);
        long eosId = id(vocab, eos, tokenizerDir);
        long padId = id(vocab, pad, tokenizerDir);
        return text -> {
            if (!text.isEmpty()) {
                throw new UnsupportedOperationException("this tokenizer only encodes the empty prompt; use the CLIP"
                        + " BPE tokenizer for \"" + text + "\"");
            }
            long[] ids = new long[max];
            Arrays.fill(ids, padId);
            ids[0] = bosId;
            ids[1] = eosId;
            return ids;
        };
    }

    private static String token(JsonObject special, JsonObject cfg, String key, String fallback) {
        for (JsonObject o : new JsonObject[] {special, cfg}) {
            if (o.has(key) && !o.get(key).isJsonNull()) {
                JsonElement e = o.get(key);
                return e.isJsonObject() ? e.getAsJsonObject().get("content").getAsString() : e.getAsString();
            }
        }
        return fallback;
    }

    private static long id(JsonObject vocab, String token, Path dir) {
        if (!vocab.has(token)) {
            throw new ModelFormatException(dir.resolve("vocab.json") + " has no entry for token '" + token + "'");
        }
        return vocab.get(token).getAsLong();
    }

    private static JsonObject readJson(Path p) {
        try {
            return JsonParser.parseString(Files.readString(p)).getAsJsonObject();
        } catch (IOException | RuntimeException e) {
            throw new ModelFormatException("cannot read " + p + ": " + e.getMessage(), e);
        }
    }
}
