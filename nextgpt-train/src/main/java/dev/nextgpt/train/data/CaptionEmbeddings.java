package dev.nextgpt.train.data;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.runtime.audioldm.ClapTextModel;
import dev.nextgpt.runtime.audioldm.RobertaBpeTokenizer;
import dev.nextgpt.runtime.clip.ClipBpeTokenizer;
import dev.nextgpt.runtime.cliptext.ClipTextModel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Precomputed caption embeddings, the targets of the caption-alignment loss (reference §6.4, the original
 * {@code process_embeddings.py} / {@code preprocess_embeddings.py}): for each caption the text encoder output of the
 * target decoder, saved as float16 {@code <media file name>.npy}.
 * <ul>
 *   <li>{@link Kind#SD}: CLIP {@code last_hidden_state} {@code [77, D]} of the raw caption padded to 77. A caption of
 *       more than 77 tokens (with SOT/EOT) is cut as the legacy {@code custom_sd._encode_prompt} does: the 77 ids
 *       before EOS are decoded to text, which is tokenised again with normal right truncation.</li>
 *   <li>{@link Kind#ZEROSCOPE}: the same with normal right truncation ({@code [SOT] + ids[:75] + [EOT]}).</li>
 *   <li>{@link Kind#AUDIOLDM}: CLAP {@code text_embeds} L2-normalised {@code [P]} (P = projection dim, 512), from
 *       the caption padded to the tokenizer's {@code model_max_length} with its attention mask.</li>
 * </ul>
 * Every caption is encoded as if alone; the original encodes batches of 128 and its left truncation pads the batch
 * to the longest caption first, so in a batch holding a caption of more than 77 tokens the other captions are cut
 * from the padded row (and mostly lost). That batch-dependent behaviour is not reproduced.
 */
public final class CaptionEmbeddings implements AutoCloseable {

    /** Which decoder's text encoder to use. */
    public enum Kind {
        SD("image_name"), ZEROSCOPE("video_name"), AUDIOLDM("audio_name");

        private final String defaultMediaKey;

        Kind(String defaultMediaKey) {
            this.defaultMediaKey = defaultMediaKey;
        }

        /** The T-X pair field naming the media file (cc3m / webvid / audiocap). */
        public String defaultMediaKey() {
            return defaultMediaKey;
        }

        /** Parses {@code sd}, {@code zeroscope} or {@code audioldm} (case-insensitive). */
        public static Kind parse(String s) {
            for (Kind k : values()) {
                if (k.name().equalsIgnoreCase(s)) {
                    return k;
                }
            }
            throw new InvalidInputException("unknown embedding kind '" + s + "' (expected sd, zeroscope or audioldm)");
        }
    }

    /** What {@link #precompute} did. */
    public record Summary(int written, long[] shape, Path outDir) {
    }

    private final Kind kind;
    private final NDManager manager;
    private final ClipBpeTokenizer clipTokenizer;
    private final ClipTextModel clipText;
    private final RobertaBpeTokenizer robertaTokenizer;
    private final ClapTextModel clapText;

    private CaptionEmbeddings(Kind kind, NDManager manager, ClipBpeTokenizer clipTokenizer, ClipTextModel clipText,
                              RobertaBpeTokenizer robertaTokenizer, ClapTextModel clapText) {
        this.kind = kind;
        this.manager = manager;
        this.clipTokenizer = clipTokenizer;
        this.clipText = clipText;
        this.robertaTokenizer = robertaTokenizer;
        this.clapText = clapText;
    }

    /**
     * Loads the tokenizer and text encoder of a diffusers pipeline folder ({@code tokenizer/}, {@code text_encoder/}).
     */
    public static CaptionEmbeddings load(Path decoderDir, Kind kind) {
        Path tok = decoderDir.resolve("tokenizer");
        Path enc = decoderDir.resolve("text_encoder");
        for (Path p : new Path[] {tok, enc}) {
            if (!Files.isDirectory(p)) {
                throw new InvalidInputException("decoder folder " + decoderDir + " has no " + p.getFileName()
                        + "/ sub-folder (expected a diffusers pipeline layout)");
            }
        }
        NDManager manager = NDManager.newBaseManager();
        try {
            if (kind == Kind.AUDIOLDM) {
                ClapTextModel clap = ClapTextModel.load(enc, manager);
                if (!clap.hasProjection()) {
                    throw new InvalidInputException(enc + " has no text_projection: AudioLDM caption embeddings are "
                            + "the projected CLAP text_embeds");
                }
                return new CaptionEmbeddings(kind, manager, null, null, RobertaBpeTokenizer.fromFolder(tok), clap);
            }
            ClipTextModel clip = ClipTextModel.load(enc, manager.newSubManager());
            return new CaptionEmbeddings(kind, manager, ClipBpeTokenizer.fromFolder(tok), clip, null, null);
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    public Kind kind() {
        return kind;
    }

    /**
     * CLIP token ids of a caption, padded to the context length (SD: legacy left truncation; Zeroscope: right
     * truncation). AudioLDM has no CLIP ids.
     */
    public long[] clipTokenIds(String caption) {
        if (clipTokenizer == null) {
            throw new IllegalStateException("AudioLDM embeddings use the RoBERTa tokenizer, not CLIP");
        }
        return kind == Kind.SD ? leftTruncatedIds(clipTokenizer, caption) : clipTokenizer.encode(caption);
    }

    /**
     * The legacy {@code custom_sd._encode_prompt} ids: when {@code [SOT] + bpe + [EOT]} is longer than the context
     * length n, its n ids before the final EOT are decoded to text (an SOT among them stays a special token) and
     * that text is tokenised again with {@code padding="max_length", truncation=True}.
     */
    static long[] leftTruncatedIds(ClipBpeTokenizer tokenizer, String caption) {
        int n = tokenizer.contextLength();
        int[] bpe = tokenizer.tokenize(caption);
        int full = bpe.length + 2;
        if (full <= n) {
            return tokenizer.encode(caption);
        }
        // full ids = [SOT] + bpe + [EOT]; keep positions [full-1-n, full-1)
        int start = full - 1 - n;
        boolean keepsSot = start == 0;
        int[] kept = Arrays.copyOfRange(bpe, keepsSot ? 0 : start - 1, bpe.length);
        int[] again = tokenizer.tokenize(tokenizer.decode(kept));
        int[] seq = keepsSot ? prepend(tokenizer.startOfTextId(), again) : again;
        long[] out = new long[n];
        Arrays.fill(out, tokenizer.padId());
        out[0] = tokenizer.startOfTextId();
        int m = Math.min(seq.length, n - 2);
        for (int i = 0; i < m; i++) {
            out[1 + i] = seq[i];
        }
        out[1 + m] = tokenizer.endOfTextId();
        return out;
    }

    private static int[] prepend(int first, int[] rest) {
        int[] r = new int[rest.length + 1];
        r[0] = first;
        System.arraycopy(rest, 0, r, 1, rest.length);
        return r;
    }

    /** The shape of one saved embedding ({@code [77, D]} or {@code [P]}). */
    public long[] embeddingShape() {
        if (clapText != null) {
            return new long[] {clapText.config().projectionDim()};
        }
        return new long[] {clipTokenizer.contextLength(), clipText.config().hiddenSize()};
    }

    /** Float32 embeddings of a batch of raw captions, one flat array per caption (row-major {@link #embeddingShape}). */
    public List<float[]> embed(List<String> captions) {
        List<float[]> out = new ArrayList<>(captions.size());
        if (captions.isEmpty()) {
            return out;
        }
        try (NDManager scope = manager.newSubManager()) {
            NDArray result;
            if (clapText != null) {
                RobertaBpeTokenizer.Encoding enc = robertaTokenizer.encodeBatch(captions);
                NDArray ids = scope.create(enc.inputIds());
                NDArray mask = scope.create(enc.attentionMask());
                result = clapText.forward(ids, mask).promptEmbeds();
            } else {
                long[][] ids = new long[captions.size()][];
                for (int i = 0; i < ids.length; i++) {
                    ids[i] = clipTokenIds(captions.get(i));
                }
                result = clipText.forward(scope.create(ids)).lastHiddenState();
            }
            float[] all = result.toFloatArray();
            int per = all.length / captions.size();
            for (int i = 0; i < captions.size(); i++) {
                out.add(Arrays.copyOfRange(all, i * per, (i + 1) * per));
            }
        }
        return out;
    }

    /**
     * Reads a JSON list of records ({@code captionKey}, {@code mediaKey}), embeds the raw captions in batches and
     * writes {@code <outDir>/<media file name>.npy} (float16).
     */
    public Summary precompute(Path dataJson, String mediaKey, String captionKey, Path outDir, int batchSize) {
        if (batchSize < 1) {
            throw new InvalidInputException("batch size must be at least 1, got " + batchSize);
        }
        String key = mediaKey != null ? mediaKey : kind.defaultMediaKey();
        List<String[]> items = readItems(dataJson, key, captionKey);
        long[] shape = embeddingShape();
        int written = 0;
        for (int from = 0; from < items.size(); from += batchSize) {
            List<String[]> batch = items.subList(from, Math.min(items.size(), from + batchSize));
            List<String> captions = batch.stream().map(x -> x[1]).toList();
            List<float[]> embs = embed(captions);
            for (int i = 0; i < batch.size(); i++) {
                new NpyArray(shape, embs.get(i)).writeFloat16(outDir.resolve(batch.get(i)[0] + ".npy"));
                written++;
            }
        }
        return new Summary(written, shape, outDir);
    }

    /** (media file name, caption) of every record. */
    static List<String[]> readItems(Path json, String mediaKey, String captionKey) {
        JsonElement root;
        try {
            root = JsonParser.parseString(Files.readString(json));
        } catch (IOException | RuntimeException e) {
            throw new InvalidInputException("cannot read data file " + json + ": " + e.getMessage(), e);
        }
        if (!root.isJsonArray()) {
            throw new InvalidInputException(json + " must hold a JSON list of records");
        }
        JsonArray arr = root.getAsJsonArray();
        List<String[]> out = new ArrayList<>(arr.size());
        for (int i = 0; i < arr.size(); i++) {
            if (!arr.get(i).isJsonObject()) {
                throw new InvalidInputException(json + " record " + i + " is not a JSON object");
            }
            JsonObject o = arr.get(i).getAsJsonObject();
            String media = field(json, i, o, mediaKey);
            String caption = field(json, i, o, captionKey);
            Path name = Path.of(media).getFileName();
            if (name == null) {
                throw new InvalidInputException(json + " record " + i + ": '" + mediaKey + "' is empty");
            }
            out.add(new String[] {name.toString(), caption});
        }
        return out;
    }

    private static String field(Path json, int i, JsonObject o, String key) {
        JsonElement e = o.get(key);
        if (e == null || e.isJsonNull() || !e.isJsonPrimitive()) {
            throw new InvalidInputException(String.format(Locale.ROOT, "%s record %d has no string field '%s' (keys: %s)",
                    json, i, key, o.keySet()));
        }
        return e.getAsString();
    }

    @Override
    public void close() {
        if (clipText != null) {
            clipText.close();
        }
        if (clapText != null) {
            clapText.close();
        }
        manager.close();
    }
}
