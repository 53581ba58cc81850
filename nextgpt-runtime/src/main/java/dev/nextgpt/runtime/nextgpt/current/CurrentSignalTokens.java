package dev.nextgpt.runtime.nextgpt.current;

import dev.nextgpt.runtime.nextgpt.InMemoryTensorStore;

import dev.nextgpt.InvalidInputException;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.io.TensorInfo;
import dev.nextgpt.runtime.io.TensorStore;
import dev.nextgpt.runtime.nextgpt.Modality;
import dev.nextgpt.runtime.nextgpt.SignalTokens;
import dev.nextgpt.runtime.nextgpt.TextTokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * Current-version signal token helpers (reference §3.1, §3.2) on top of {@link SignalTokens}:
 * <ul>
 *   <li>the added token list in the order {@code initialize_vision_tokenizer} adds it (image, video, audio);</li>
 *   <li>ids as the original reads them ({@code tokenizer("<image_00>").input_ids[1]}) and the {@code ▁} separator id
 *       between two special tokens;</li>
 *   <li>embedding resizing for a model built from a base Vicuna: every new row of {@code embed_tokens} and
 *       {@code lm_head} is the mean of all pre-existing rows; rows from an adapter file's
 *       {@code model.embed_tokens.weight} then overwrite the new input rows (full-size tensor: its last N rows; an
 *       N-row tensor: all of it).</li>
 * </ul>
 */
public final class CurrentSignalTokens {

    /** Default counts {@code n_img_tokens 4, n_vid_tokens 24, n_aud_tokens 8}. */
    public static final Map<Modality, Integer> DEFAULT_COUNTS = SignalTokens.DEFAULT_COUNTS;

    private CurrentSignalTokens() {
    }

    /** {@code <image_00>…, <video_00>…, <audio_00>…} in the order they are added. */
    public static List<String> addedTokens(Map<Modality, Integer> counts) {
        List<String> out = new ArrayList<>();
        for (Modality m : Modality.values()) {
            out.addAll(SignalTokens.spellings(SignalTokens.Version.CURRENT, m, counts.getOrDefault(m, 0)));
        }
        return out;
    }

    /**
     * The ids the original uses: element 1 of {@code tokenizer(token).input_ids} (BOS + token). Fails if the token
     * does not tokenize to exactly {@code [BOS, id]} (the tokens were not added as special tokens).
     */
    public static long[] signalIds(TextTokenizer tokenizer, Modality m, int count) {
        long[] ids = new long[count];
        List<String> sp = SignalTokens.spellings(SignalTokens.Version.CURRENT, m, count);
        for (int i = 0; i < count; i++) {
            long[] enc = CurrentPromptBuilder.withBos(sp.get(i), tokenizer);
            if (enc.length != 2) {
                throw new ModelFormatException("signal token '" + sp.get(i) + "' tokenizes to " + Arrays.toString(enc)
                        + " instead of [BOS, id]; add the current signal tokens as special tokens first");
            }
            ids[i] = enc[1];
        }
        return ids;
    }

    /** The id of the {@code ▁} between two signal tokens ({@code "<image_00> <image_01>"} → {@code [a, ▁, b]}). */
    public static long separatorId(TextTokenizer tokenizer) {
        String a = Modality.IMAGE.currentSignalToken(0);
        String b = Modality.IMAGE.currentSignalToken(1);
        long[] enc = tokenizer.encode(a + " " + b);
        if (enc.length != 3) {
            throw new ModelFormatException("'" + a + " " + b + "' tokenizes to " + Arrays.toString(enc)
                    + "; expected three ids (signal, separator, signal)");
        }
        return enc[1];
    }

    /** {@link SignalTokens} of the current version with its separator id, for the given counts. */
    public static SignalTokens of(TextTokenizer tokenizer, Map<Modality, Integer> counts) {
        return SignalTokens.of(SignalTokens.Version.CURRENT, tokenizer, counts, separatorId(tokenizer));
    }

    /**
     * Checks the documented id layout: image, video, audio tokens contiguous from {@code baseVocab} (32000 for
     * Vicuna v1.5). Returns the problems (empty when fine).
     */
    public static List<String> checkContiguousLayout(SignalTokens tokens, long baseVocab) {
        List<String> problems = new ArrayList<>();
        long next = baseVocab;
        for (Modality m : Modality.values()) {
            long[] ids = tokens.ids(m);
            for (int i = 0; i < ids.length; i++, next++) {
                if (ids[i] != next) {
                    problems.add(tokens.spellings(m).get(i) + " has id " + ids[i] + ", expected " + next);
                }
            }
        }
        return problems;
    }

    /**
     * {@code [rows + numNew, hidden]} (row-major) from a {@code [rows, hidden]} matrix: the first rows copied, every
     * new row the float32 mean of all old rows (accumulated in double).
     */
    public static float[] resizeWithMeanRows(float[] table, int rows, int hidden, int numNew) {
        if ((long) rows * hidden != table.length) {
            throw new InvalidInputException("table has " + table.length + " values, not " + rows + "x" + hidden);
        }
        if (numNew < 0) {
            throw new InvalidInputException("number of new rows must be >= 0, got " + numNew);
        }
        float[] out = Arrays.copyOf(table, (rows + numNew) * hidden);
        if (numNew == 0) {
            return out;
        }
        if (rows == 0) {
            throw new InvalidInputException("cannot average an empty embedding table");
        }
        double[] sum = new double[hidden];
        for (int r = 0; r < rows; r++) {
            for (int d = 0; d < hidden; d++) {
                sum[d] += table[r * hidden + d];
            }
        }
        for (int d = 0; d < hidden; d++) {
            float mean = (float) (sum[d] / rows);
            for (int r = rows; r < rows + numNew; r++) {
                out[r * hidden + d] = mean;
            }
        }
        return out;
    }

    /**
     * The adapter-file rule of {@code initialize_vision_tokenizer}: overwrites the last {@code numNew} rows of
     * {@code resized [total, hidden]} with {@code adapter}'s rows: its last {@code numNew} rows when it has the same
     * shape as {@code resized}, all of it when it has exactly {@code numNew} rows; anything else is an error.
     */
    public static void overwriteNewRows(float[] resized, int totalRows, int hidden, int numNew, float[] adapter,
                                        long[] adapterShape, String source) {
        if (adapterShape.length != 2 || adapterShape[1] != hidden) {
            throw new ModelFormatException("model.embed_tokens.weight in " + source + " has shape "
                    + Arrays.toString(adapterShape) + "; expected [" + totalRows + ", " + hidden + "] or [" + numNew
                    + ", " + hidden + "]");
        }
        int from;
        if (adapterShape[0] == totalRows) {
            from = totalRows - numNew;
        } else if (adapterShape[0] == numNew) {
            from = 0;
        } else {
            throw new ModelFormatException("Unexpected embed_tokens_weight shape in " + source + ": pretrained "
                    + Arrays.toString(adapterShape) + ", current [" + totalRows + ", " + hidden + "], number of new "
                    + "tokens " + numNew);
        }
        System.arraycopy(adapter, from * hidden, resized, (totalRows - numNew) * hidden, numNew * hidden);
    }

    /**
     * The resized {@code model.embed_tokens.weight} and {@code lm_head.weight} of a base LLaMA checkpoint (HF names),
     * as an in-memory store (float32) to lay over the base with
     * {@link dev.nextgpt.runtime.io.CompositeTensorStore#overriding}. {@code adapterEmbeddings} (nullable) is a store
     * holding an adapter file's {@code model.embed_tokens.weight}, applied to the input rows only. A tied model
     * (no {@code lm_head.weight}) gets only the input matrix.
     */
    public static InMemoryTensorStore resizedEmbeddings(TensorStore base, int numNew, TensorStore adapterEmbeddings) {
        String emb = "model.embed_tokens.weight";
        String head = "lm_head.weight";
        InMemoryTensorStore out = new InMemoryTensorStore("resized embeddings of " + base.source());
        TensorInfo ei = base.info(emb);
        int rows = Math.toIntExact(ei.dim(0));
        int hidden = Math.toIntExact(ei.dim(1));
        float[] e = resizeWithMeanRows(base.readFloats(emb), rows, hidden, numNew);
        if (adapterEmbeddings != null) {
            if (!adapterEmbeddings.contains(emb)) {
                throw new ModelFormatException("adapter file " + adapterEmbeddings.source() + " has no '" + emb + "'");
            }
            overwriteNewRows(e, rows + numNew, hidden, numNew, adapterEmbeddings.readFloats(emb),
                    adapterEmbeddings.info(emb).shape(), String.valueOf(adapterEmbeddings.source()));
        }
        out.put(emb, new long[] {rows + numNew, hidden}, e);
        if (base.contains(head)) {
            TensorInfo hi = base.info(head);
            int hr = Math.toIntExact(hi.dim(0));
            out.put(head, new long[] {hr + numNew, hidden},
                    resizeWithMeanRows(base.readFloats(head), hr, hidden, numNew));
        }
        return out;
    }

    /** Signal ids per modality (convenience for building a detector). */
    public static Map<Modality, long[]> allSignalIds(TextTokenizer tokenizer, Map<Modality, Integer> counts) {
        Map<Modality, long[]> out = new EnumMap<>(Modality.class);
        for (Modality m : Modality.values()) {
            out.put(m, signalIds(tokenizer, m, counts.getOrDefault(m, 0)));
        }
        return out;
    }
}
