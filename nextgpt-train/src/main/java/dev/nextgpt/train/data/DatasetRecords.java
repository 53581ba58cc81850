package dev.nextgpt.train.data;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.train.data.LegacyBatchBuilder.Modality;
import dev.nextgpt.train.data.LegacyBatchBuilder.Turn;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Readers for the original NExT-GPT dataset JSON files: T-X pairs (cc3m {@code image_name}, webvid
 * {@code video_name}, audiocap {@code audio_name}), the legacy T-T+X / T+X-T instruction files and the current
 * LLaVA-style files. Media and caption-embedding paths are resolved against root folders. A malformed record fails
 * with the file, the record index and the field, or is skipped and counted when {@code skipMalformed} is set.
 */
public final class DatasetRecords {
    private DatasetRecords() {
    }

    /** One (media, caption) pair. {@code embedding} is {@code <embedRoot>/<media file name>.npy}. */
    public record Pair(Modality modality, String caption, Path media, Path embedding, String id) {
    }

    /** One instruction dialogue; {@code media} is the input media path (or null), {@code embedding} the target's. */
    public record Dialogue(List<Turn> turns, Modality inputModality, Path media, Modality outputModality,
                           String outputCaption, Path embedding) {
    }

    /** What a read produced: the records and how many malformed ones were skipped. */
    public record Result<T>(List<T> records, int skipped, List<String> problems) {
    }

    /** Reads a T-X pair file (cc3m / webvid / audiocap). */
    public static Result<Pair> readPairs(Path json, Path mediaRoot, Path embedRoot, boolean skipMalformed) {
        JsonArray arr = readArray(json);
        List<Pair> out = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        for (int i = 0; i < arr.size(); i++) {
            try {
                JsonObject o = object(json, i, arr.get(i));
                Modality m;
                String name;
                if (o.has("image_name")) {
                    m = Modality.IMAGE;
                    name = string(json, i, o, "image_name");
                } else if (o.has("video_name")) {
                    m = Modality.VIDEO;
                    name = string(json, i, o, "video_name");
                } else if (o.has("audio_name")) {
                    m = Modality.AUDIO;
                    name = string(json, i, o, "audio_name");
                } else {
                    throw bad(json, i, "image_name|video_name|audio_name", "is missing");
                }
                String caption = string(json, i, o, "caption");
                String id = o.has("id") ? o.get("id").getAsString()
                        : o.has("audio_id") ? o.get("audio_id").getAsString() : name;
                out.add(new Pair(m, caption, mediaRoot.resolve(name),
                        embedRoot == null ? null : embedRoot.resolve(name + ".npy"), id));
            } catch (InvalidInputException e) {
                if (!skipMalformed) {
                    throw e;
                }
                problems.add(e.getMessage());
            }
        }
        return new Result<>(out, problems.size(), problems);
    }

    /**
     * Reads a legacy instruction file: records with {@code conversation} (turns with {@code from}, {@code value},
     * {@code input_modality} on the first, {@code output_modality} / {@code caption} on assistant turns), and
     * {@code image_name} / {@code mm_name} naming the input media or the target embedding.
     */
    public static Result<Dialogue> readLegacyInstructions(Path json, Path mediaRoot, Path embedRoot,
                                                          boolean skipMalformed) {
        JsonArray arr = readArray(json);
        List<Dialogue> out = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        for (int i = 0; i < arr.size(); i++) {
            try {
                JsonObject o = object(json, i, arr.get(i));
                String convKey = o.has("conversation") ? "conversation" : "conversations";
                if (!o.has(convKey) || !o.get(convKey).isJsonArray()) {
                    throw bad(json, i, "conversation", "is missing or not a list");
                }
                List<Turn> turns = new ArrayList<>();
                Modality in = Modality.TEXT;
                Modality outM = Modality.TEXT;
                String outCaption = null;
                JsonArray conv = o.getAsJsonArray(convKey);
                for (int t = 0; t < conv.size(); t++) {
                    JsonObject turn = object(json, i, conv.get(t));
                    String from = string(json, i, turn, "from");
                    String value = string(json, i, turn, "value");
                    Modality tin = turn.has("input_modality") ? modality(json, i, turn, "input_modality") : null;
                    Modality tout = turn.has("output_modality") ? modality(json, i, turn, "output_modality") : null;
                    if (t == 0 && tin != null) {
                        in = tin;
                    }
                    if (tout != null && tout != Modality.TEXT) {
                        outM = tout;
                        outCaption = turn.has("caption") ? turn.get("caption").getAsString() : null;
                    }
                    turns.add(new Turn(from, value, tin == null ? Modality.TEXT : tin, tout));
                }
                if (turns.isEmpty() || !turns.get(0).from().equals("human")) {
                    throw bad(json, i, convKey + "[0].from", "must be 'human'");
                }
                Path media = null;
                if (in != Modality.TEXT) {
                    String key = o.has("image_name") ? "image_name"
                            : "input_" + in.name().toLowerCase(Locale.ROOT);
                    if (!o.has(key)) {
                        throw bad(json, i, "image_name|" + key, "is required for a " + in + " input");
                    }
                    media = mediaRoot.resolve(firstString(json, i, o, key));
                }
                Path emb = null;
                if (outM != Modality.TEXT) {
                    String key = outM.name().toLowerCase(Locale.ROOT) + "_caption_embeddings";
                    if (o.has("mm_name")) {
                        emb = embedRoot.resolve(o.get("mm_name").getAsString() + ".npy");
                    } else if (o.has(key)) {
                        emb = embedRoot.resolve(firstString(json, i, o, key));
                    } else {
                        throw bad(json, i, "mm_name|" + key, "is required for a " + outM
                                + " output (the caption-embedding file)");
                    }
                }
                out.add(new Dialogue(turns, in, media, outM, outCaption, emb));
            } catch (InvalidInputException e) {
                if (!skipMalformed) {
                    throw e;
                }
                problems.add(e.getMessage());
            }
        }
        return new Result<>(out, problems.size(), problems);
    }

    private static JsonArray readArray(Path json) {
        try {
            JsonElement el = JsonParser.parseString(Files.readString(json));
            if (!el.isJsonArray()) {
                throw new InvalidInputException(json + ": expected a JSON list of records");
            }
            return el.getAsJsonArray();
        } catch (IOException | com.google.gson.JsonParseException e) {
            throw new InvalidInputException("cannot read dataset " + json + ": " + e.getMessage(), e);
        }
    }

    private static JsonObject object(Path json, int i, JsonElement el) {
        if (!el.isJsonObject()) {
            throw new InvalidInputException(json + ": record " + i + " is not a JSON object");
        }
        return el.getAsJsonObject();
    }

    private static String string(Path json, int i, JsonObject o, String field) {
        JsonElement el = o.get(field);
        if (el == null || el.isJsonNull()) {
            throw bad(json, i, field, "is missing");
        }
        if (!el.isJsonPrimitive()) {
            throw bad(json, i, field, "is not a string");
        }
        return el.getAsString();
    }

    private static String firstString(Path json, int i, JsonObject o, String field) {
        JsonElement el = o.get(field);
        if (el != null && el.isJsonArray()) {
            if (el.getAsJsonArray().isEmpty()) {
                throw bad(json, i, field, "is an empty list");
            }
            el = el.getAsJsonArray().get(0);
        }
        if (el == null || !el.isJsonPrimitive()) {
            throw bad(json, i, field, "is missing or not a string");
        }
        return el.getAsString();
    }

    private static Modality modality(Path json, int i, JsonObject o, String field) {
        String v = string(json, i, o, field);
        try {
            return Modality.valueOf(v.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw bad(json, i, field, "has unknown modality '" + v + "'");
        }
    }

    private static InvalidInputException bad(Path json, int i, String field, String what) {
        return new InvalidInputException(json + ": record " + i + ": field '" + field + "' " + what);
    }
}
