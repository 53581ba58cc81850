package dev.nextgpt.runtime.llm;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.ModelFormatException;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The LLaMA / Vicuna tokenizer (SentencePiece BPE with byte fallback, legacy prefix-space behaviour) run by DJL's
 * {@link HuggingFaceTokenizer} from {@code tokenizer.json}. Encodes with or without BOS, decodes with or without
 * special tokens, and can add tokens the way the NExT-GPT versions do ({@link #withLegacySignalTokens()},
 * {@link #withCurrentSignalTokens()}).
 */
public final class LlamaTokenizer implements AutoCloseable {
    /** NExT-GPT legacy (7b_tiva_v0) added tokens, in the order the original adds them (ids 32000.. on Vicuna). */
    public static final List<String> LEGACY_SIGNAL_TOKENS = legacyTokens();
    /** NExT-GPT current added (special) tokens: image, video, audio (ids 32000.. on Vicuna). */
    public static final List<String> CURRENT_SIGNAL_TOKENS = currentTokens();

    private final HuggingFaceTokenizer tokenizer;
    private final JsonObject json;
    private final Map<String, Integer> vocab;
    private final Set<Integer> specialIds;
    private final String where;
    private final int bosId;
    private final int eosId;
    private final int unkId;
    private final int padId;

    private LlamaTokenizer(JsonObject json, String where, String padToken) {
        this.json = json;
        this.where = where;
        this.vocab = new HashMap<>();
        this.specialIds = new HashSet<>();
        JsonObject model = json.has("model") && json.get("model").isJsonObject() ? json.getAsJsonObject("model")
                : null;
        if (model == null || !model.has("vocab") || !model.get("vocab").isJsonObject()) {
            throw new ModelFormatException(where + ": tokenizer.json has no model.vocab object");
        }
        for (Map.Entry<String, JsonElement> e : model.getAsJsonObject("vocab").entrySet()) {
            vocab.put(e.getKey(), e.getValue().getAsInt());
        }
        if (json.has("added_tokens") && json.get("added_tokens").isJsonArray()) {
            for (JsonElement e : json.getAsJsonArray("added_tokens")) {
                JsonObject t = e.getAsJsonObject();
                int id = t.get("id").getAsInt();
                vocab.put(t.get("content").getAsString(), id);
                if (t.has("special") && t.get("special").getAsBoolean()) {
                    specialIds.add(id);
                }
            }
        }
        this.bosId = vocab.getOrDefault("<s>", -1);
        this.eosId = vocab.getOrDefault("</s>", -1);
        this.unkId = vocab.getOrDefault("<unk>", -1);
        this.padId = padToken != null && vocab.containsKey(padToken) ? vocab.get(padToken) : unkId;
        try {
            Map<String, String> options = new HashMap<>();
            options.put("addSpecialTokens", "false");
            options.put("truncation", "false");
            options.put("padding", "false");
            options.put("maxLength", String.valueOf(Integer.MAX_VALUE / 2));
            this.tokenizer = HuggingFaceTokenizer.newInstance(
                    new ByteArrayInputStream(json.toString().getBytes(StandardCharsets.UTF_8)), options);
        } catch (IOException | RuntimeException e) {
            throw new ModelFormatException(where + ": the HF tokenizers library rejected tokenizer.json: "
                    + e.getMessage(), e);
        }
    }

    /**
     * Loads {@code dir/tokenizer.json} (plus the pad token of {@code tokenizer_config.json} if present). A folder
     * with only a SentencePiece {@code tokenizer.model} is reported with the command that converts it.
     */
    public static LlamaTokenizer load(Path dir) {
        Path file = Files.isDirectory(dir) ? dir.resolve("tokenizer.json") : dir;
        Path folder = Files.isDirectory(dir) ? dir : dir.getParent();
        if (!Files.isRegularFile(file)) {
            if (folder != null && Files.isRegularFile(folder.resolve("tokenizer.model"))) {
                throw new ModelFormatException(folder + " has only a SentencePiece tokenizer.model; a tokenizer.json "
                        + "is needed. Create it with: python -c \"from transformers import AutoTokenizer; "
                        + "AutoTokenizer.from_pretrained('" + folder + "').save_pretrained('" + folder + "')\"");
            }
            throw new ModelFormatException("no tokenizer.json in " + dir);
        }
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new ModelFormatException("cannot read " + file + ": " + e.getMessage(), e);
        }
        JsonObject root;
        try {
            root = JsonParser.parseString(text).getAsJsonObject();
        } catch (RuntimeException e) {
            throw new ModelFormatException(file + " is not a JSON object: " + e.getMessage(), e);
        }
        String pad = null;
        if (folder != null && Files.isRegularFile(folder.resolve("tokenizer_config.json"))) {
            try {
                JsonObject cfg = JsonParser.parseString(Files.readString(folder.resolve("tokenizer_config.json")))
                        .getAsJsonObject();
                JsonElement p = cfg.get("pad_token");
                if (p != null && p.isJsonPrimitive()) {
                    pad = p.getAsString();
                } else if (p != null && p.isJsonObject() && p.getAsJsonObject().has("content")) {
                    pad = p.getAsJsonObject().get("content").getAsString();
                }
            } catch (IOException | RuntimeException e) {
                throw new ModelFormatException("cannot parse " + folder.resolve("tokenizer_config.json") + ": "
                        + e.getMessage(), e);
            }
        }
        return new LlamaTokenizer(root, file.toString(), pad);
    }

    /** Token ids of {@code text}, with BOS first if {@code addBos}. No truncation. */
    public long[] encode(String text, boolean addBos) {
        long[] ids = tokenizer.encode(text, false, false).getIds();
        if (!addBos) {
            return ids;
        }
        if (bosId < 0) {
            throw new InvalidInputException(where + " has no <s> token to add as BOS");
        }
        long[] out = new long[ids.length + 1];
        out[0] = bosId;
        System.arraycopy(ids, 0, out, 1, ids.length);
        return out;
    }

    /** The token strings (pieces) of {@code text} without BOS. */
    public List<String> pieces(String text) {
        return List.of(tokenizer.encode(text, false, false).getTokens());
    }

    /** Text of {@code ids}; special tokens (BOS, EOS, UNK, special added tokens) are dropped if {@code skipSpecial}. */
    public String decode(long[] ids, boolean skipSpecial) {
        return tokenizer.decode(ids, skipSpecial);
    }

    /** The id of a token string (vocabulary or added token), or -1. */
    public int tokenId(String token) {
        return vocab.getOrDefault(token, -1);
    }

    /** Number of ids (largest id + 1, added tokens included). */
    public int vocabSize() {
        int max = -1;
        for (int id : vocab.values()) {
            max = Math.max(max, id);
        }
        return max + 1;
    }

    public boolean isSpecial(long id) {
        return specialIds.contains((int) id);
    }

    public int bosId() {
        return bosId;
    }

    public int eosId() {
        return eosId;
    }

    public int unkId() {
        return unkId;
    }

    /** Padding id (tokenizer_config's pad_token; {@code <unk>} = 0 for Vicuna otherwise). */
    public int padId() {
        return padId;
    }

    /**
     * A new tokenizer with {@code tokens} added after the current vocabulary (tokens that already exist keep their
     * id), as HF {@code add_tokens} does. {@code special = true} adds special tokens matched verbatim (the NExT-GPT
     * current version: no whitespace stripping, skipped by {@code decode(ids, true)}). {@code special = false} adds
     * normal tokens with the whitespace on both sides stripped, as the transformers 4.29 slow tokenizer of the
     * NExT-GPT legacy version does.
     */
    public LlamaTokenizer withAddedTokens(List<String> tokens, boolean special) {
        JsonObject copy = json.deepCopy();
        JsonArray added = copy.has("added_tokens") && copy.get("added_tokens").isJsonArray()
                ? copy.getAsJsonArray("added_tokens") : new JsonArray();
        copy.add("added_tokens", added);
        int next = vocabSize();
        Set<String> seen = new HashSet<>(vocab.keySet());
        for (String t : tokens) {
            if (t.isEmpty()) {
                throw new InvalidInputException("cannot add an empty token");
            }
            if (!seen.add(t)) {
                continue;
            }
            JsonObject o = new JsonObject();
            o.addProperty("id", next++);
            o.addProperty("content", t);
            o.addProperty("single_word", false);
            o.addProperty("lstrip", !special);
            o.addProperty("rstrip", !special);
            o.addProperty("normalized", false);
            o.addProperty("special", special);
            added.add(o);
        }
        String pad = padId >= 0 ? tokenById(padId) : null;
        LlamaTokenizer t = new LlamaTokenizer(copy, where + " (+" + tokens.size() + " added tokens)", pad);
        for (String s : tokens) {
            long[] ids = t.encode(s, false);
            if (ids.length != 1 || ids[0] != t.tokenId(s)) {
                t.close();
                throw new ModelFormatException("added token '" + s + "' does not encode to its id " + t.tokenId(s)
                        + " but to " + java.util.Arrays.toString(ids));
            }
        }
        return t;
    }

    private String tokenById(int id) {
        for (Map.Entry<String, Integer> e : vocab.entrySet()) {
            if (e.getValue() == id) {
                return e.getKey();
            }
        }
        return null;
    }

    /** NExT-GPT legacy tokens {@code <Img> </Img> [IMG0..3] [VID0..23] [AUD0..7]} as normal tokens. */
    public LlamaTokenizer withLegacySignalTokens() {
        return withAddedTokens(LEGACY_SIGNAL_TOKENS, false);
    }

    /** NExT-GPT current tokens {@code <image_00..03> <video_00..23> <audio_00..07>} as special tokens. */
    public LlamaTokenizer withCurrentSignalTokens() {
        return withAddedTokens(CURRENT_SIGNAL_TOKENS, true);
    }

    private static List<String> legacyTokens() {
        List<String> l = new ArrayList<>(List.of("<Img>", "</Img>"));
        for (int i = 0; i < 4; i++) {
            l.add("[IMG" + i + "]");
        }
        for (int i = 0; i < 24; i++) {
            l.add("[VID" + i + "]");
        }
        for (int i = 0; i < 8; i++) {
            l.add("[AUD" + i + "]");
        }
        return Collections.unmodifiableList(l);
    }

    private static List<String> currentTokens() {
        List<String> l = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            l.add(String.format("<image_%02d>", i));
        }
        for (int i = 0; i < 24; i++) {
            l.add(String.format("<video_%02d>", i));
        }
        for (int i = 0; i < 8; i++) {
            l.add(String.format("<audio_%02d>", i));
        }
        return Collections.unmodifiableList(l);
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
