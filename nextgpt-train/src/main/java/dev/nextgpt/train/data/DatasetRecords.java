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
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Readers for the original NExT-GPT dataset JSON files: T-X pairs (cc3m {@code image_name}, webvid
 * {@code video_name}, audiocap {@code audio_name}), the legacy T-T+X / T+X-T instruction files and the current
 * LLaVA-style files, and raw MosIT files. Media and caption-embedding paths are resolved against root folders. A malformed record fails
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

    /** One media output of a MosIT GPT turn: its file name, caption and caption-embedding path. */
    public record MediaOutput(int turn, Modality modality, String name, String caption, Path embedding) {
    }

    /**
     * A MosIT dialogue: text-only human turns, GPT turns whose media tags are removed from the text and whose
     * {@link Turn#outputModality()} is the modality of their (first) output, and every output in order.
     */
    public record MositDialogue(List<Turn> turns, List<MediaOutput> outputs) {
        /**
         * The dialogue as a legacy stage-3 sample. The legacy loss aligns one signal span per sample, so the
         * dialogue is cut after the first GPT turn that outputs media, and that turn's first output is the
         * target (caption and embedding); a dialogue without outputs is a text-only sample.
         */
        public Dialogue legacy() {
            if (outputs.isEmpty()) {
                return new Dialogue(turns, Modality.TEXT, null, Modality.TEXT, null, null);
            }
            MediaOutput first = outputs.get(0);
            return new Dialogue(List.copyOf(turns.subList(0, first.turn() + 1)), Modality.TEXT, null,
                    first.modality(), first.caption(), first.embedding());
        }
    }

    private static final Pattern MOSIT_TAG = Pattern.compile("<(Image|Video|Audio)>(.*?)</\\1>", Pattern.DOTALL);
    private static final Pattern MOSIT_TAG_PART = Pattern.compile("</?(Image|Video|Audio)>");

    /**
     * Reads a raw MosIT file: records with {@code image_list} / {@code video_list} / {@code audio_list}
     * ({@code image_name} / {@code video_name} / {@code audio_name}, {@code caption}) and {@code conversation}
     * ({@code from}, {@code value}). GPT turns name their outputs as {@code <Image>name</Image>},
     * {@code <Video>…</Video>}, {@code <Audio>…</Audio>}: the tags are removed from the text (the stage-3 builder
     * appends the modality's signal tokens to the turn) and each output gets its caption from the list and the
     * embedding {@code <embedRoot>/<name>.npy}. Tags in human turns are deleted (MosIT inputs are text only, as the
     * original converter). {@code mediaRoot} is unused (no input media) and may be null.
     */
    public static Result<MositDialogue> readMosit(Path json, Path mediaRoot, Path embedRoot, boolean skipMalformed) {
        JsonArray arr = readArray(json);
        List<MositDialogue> out = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        for (int i = 0; i < arr.size(); i++) {
            try {
                out.add(mositRecord(json, i, object(json, i, arr.get(i)), embedRoot));
            } catch (InvalidInputException e) {
                if (!skipMalformed) {
                    throw e;
                }
                problems.add(e.getMessage());
            }
        }
        return new Result<>(out, problems.size(), problems);
    }

    private static MositDialogue mositRecord(Path json, int i, JsonObject o, Path embedRoot) {
        Map<Modality, Map<String, String>> captions = new java.util.EnumMap<>(Modality.class);
        for (Modality m : List.of(Modality.IMAGE, Modality.VIDEO, Modality.AUDIO)) {
            String kind = m.name().toLowerCase(Locale.ROOT);
            String listKey = kind + "_list";
            Map<String, String> byName = new java.util.HashMap<>();
            JsonElement list = o.get(listKey);
            if (list != null && !list.isJsonNull()) {
                if (!list.isJsonArray()) {
                    throw bad(json, i, listKey, "is not a list");
                }
                for (int k = 0; k < list.getAsJsonArray().size(); k++) {
                    JsonElement item = list.getAsJsonArray().get(k);
                    if (!item.isJsonObject()) {
                        throw bad(json, i, listKey + "[" + k + "]", "is not an object");
                    }
                    byName.put(string(json, i, item.getAsJsonObject(), listKey + "[" + k + "]." + kind + "_name",
                                    kind + "_name"),
                            string(json, i, item.getAsJsonObject(), listKey + "[" + k + "].caption", "caption"));
                }
            }
            captions.put(m, byName);
        }
        JsonElement conv = o.get("conversation");
        if (conv == null || !conv.isJsonArray() || conv.getAsJsonArray().isEmpty()) {
            throw bad(json, i, "conversation", "is missing, not a list or empty");
        }
        List<Turn> turns = new ArrayList<>();
        List<MediaOutput> outputs = new ArrayList<>();
        for (int t = 0; t < conv.getAsJsonArray().size(); t++) {
            String field = "conversation[" + t + "]";
            JsonElement el = conv.getAsJsonArray().get(t);
            if (!el.isJsonObject()) {
                throw bad(json, i, field, "is not an object");
            }
            String from = string(json, i, el.getAsJsonObject(), field + ".from", "from");
            String value = string(json, i, el.getAsJsonObject(), field + ".value", "value");
            boolean gpt = from.equals("gpt");
            if (!gpt && !from.equals("human")) {
                throw bad(json, i, field + ".from", "must be 'human' or 'gpt', not '" + from + "'");
            }
            if ((t % 2 == 0) == gpt) {
                throw bad(json, i, field + ".from", "must alternate human / gpt starting with human");
            }
            StringBuilder text = new StringBuilder();
            Matcher mt = MOSIT_TAG.matcher(value);
            int pos = 0;
            Modality turnOutput = null;
            boolean tagged = false;
            while (mt.find()) {
                tagged = true;
                appendJoined(text, value.substring(pos, mt.start()));
                pos = mt.end();
                if (!gpt) {
                    continue;
                }
                Modality m = Modality.valueOf(mt.group(1).toUpperCase(Locale.ROOT));
                String name = mt.group(2).trim();
                String caption = captions.get(m).get(name);
                if (caption == null) {
                    throw bad(json, i, m.name().toLowerCase(Locale.ROOT) + "_list", "has no entry for '" + name
                            + "' (output of " + field + ")");
                }
                if (turnOutput == null) {
                    turnOutput = m;
                }
                outputs.add(new MediaOutput(t, m, name, caption,
                        embedRoot == null ? null : embedRoot.resolve(name + ".npy")));
            }
            appendJoined(text, value.substring(pos));
            if (MOSIT_TAG_PART.matcher(text).find()) {
                throw bad(json, i, field + ".value", "has an unbalanced <Image>/<Video>/<Audio> tag");
            }
            turns.add(new Turn(from, tagged ? text.toString().strip() : value, Modality.TEXT, gpt ? turnOutput : null));
        }
        return new MositDialogue(turns, outputs);
    }

    /** Appends a text piece, joining it to what precedes a removed tag with exactly one space. */
    private static void appendJoined(StringBuilder sb, String piece) {
        if (sb.length() > 0 && !piece.isBlank()) {
            while (sb.length() > 0 && sb.charAt(sb.length() - 1) == ' ') {
                sb.setLength(sb.length() - 1);
            }
            sb.append(' ').append(piece.stripLeading());
        } else if (!piece.isBlank() || sb.length() == 0) {
            sb.append(piece);
        }
    }

    private static String string(Path json, int i, JsonObject o, String fieldName, String key) {
        JsonElement el = o.get(key);
        if (el == null || el.isJsonNull()) {
            throw bad(json, i, fieldName, "is missing");
        }
        if (!el.isJsonPrimitive()) {
            throw bad(json, i, fieldName, "is not a string");
        }
        return el.getAsString();
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
