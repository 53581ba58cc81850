package dev.nextgpt.runtime.nextgpt.current;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.runtime.nextgpt.EmbeddingLookup;
import dev.nextgpt.runtime.nextgpt.Modality;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * The current version's splice of media features into the LLM input ({@code prepare_inputs_labels_for_multimodal},
 * reference §2.3): per sample, padding is removed with the attention mask, the ids are cut at the placeholders
 * (−200/−300/−400), text pieces go through {@code embed_tokens}, and at each placeholder the <em>next</em> feature of
 * that modality (counted over the whole batch, in batch order) is inserted ({@code [8, H]} for the group projector,
 * {@code [T, H]} for linear). Labels are −100 at inserted positions; sequences are truncated to
 * {@code tokenizer_model_max_length}, padded with zero vectors (attention 0, label −100; right padding unless
 * {@code tokenizer_padding_side == "left"}), and position ids restart at 0 for every sample.
 */
public final class CurrentSplice {

    public enum PaddingSide { RIGHT, LEFT }

    /** Where one feature went: sample, modality, index in that modality's list, first position, length. */
    public record Placement(int sample, Modality modality, int featureIndex, int start, int length) {
    }

    /**
     * The spliced batch. {@code inputsEmbeds [B, L, H]} (in the requested manager); {@code labels} null when none
     * were given; {@code lengths} = real (unpadded) length per sample; placements in sequence order per sample
     * (positions after truncation; a feature cut by truncation keeps its clipped length, one cut away entirely is
     * not listed).
     */
    public record Result(NDArray inputsEmbeds, long[][] attentionMask, long[][] labels, long[][] positionIds,
                         int[] lengths, List<Placement> placements, Map<Modality, Integer> featuresUsed) {
    }

    private CurrentSplice() {
    }

    /**
     * @param inputIds       {@code [B][T]} token ids with placeholders (rows of equal length)
     * @param attentionMask  {@code [B][T]} (null: all ones); positions with 0 are dropped before splicing
     * @param labels         {@code [B][T]} or null
     * @param features       per modality, the features in batch order, each {@code [n, H]} (or {@code [H]})
     * @param embeddings     {@code embed_tokens}
     * @param maxLength      {@code tokenizer_model_max_length}, or ≤ 0 for none
     * @param side           padding side
     * @param manager        manager of the result arrays
     */
    public static Result splice(long[][] inputIds, long[][] attentionMask, long[][] labels,
                                Map<Modality, List<NDArray>> features, EmbeddingLookup embeddings, int maxLength,
                                PaddingSide side, NDManager manager) {
        int b = inputIds.length;
        if (b == 0) {
            throw new InvalidInputException("splice needs at least one sample");
        }
        int t = inputIds[0].length;
        checkRect("input_ids", inputIds, b, t);
        if (attentionMask != null) {
            checkRect("attention_mask", attentionMask, b, t);
        }
        if (labels != null) {
            checkRect("labels", labels, b, t);
        }
        int hidden = embeddings.hiddenSize();
        Map<Modality, Integer> next = new EnumMap<>(Modality.class);
        for (Modality m : Modality.values()) {
            next.put(m, 0);
        }
        List<Placement> placements = new ArrayList<>();
        List<NDArray> rows = new ArrayList<>();
        List<long[]> rowLabels = new ArrayList<>();
        try (NDManager scope = manager.newSubManager()) {
            DataType dtype = null;
            for (int s = 0; s < b; s++) {
                List<NDArray> pieces = new ArrayList<>();
                List<Long> lab = new ArrayList<>();
                List<Long> text = new ArrayList<>();
                List<Long> textLab = new ArrayList<>();
                int pos = 0;
                for (int i = 0; i <= t; i++) {
                    boolean end = i == t;
                    if (!end && attentionMask != null && attentionMask[s][i] == 0) {
                        continue;
                    }
                    Modality m = end ? null : CurrentPromptBuilder.modalityOfPlaceholder(inputIds[s][i]);
                    if (!end && m == null) {
                        long id = inputIds[s][i];
                        if (id < 0) {
                            throw new InvalidInputException("sample " + s + " position " + i + " holds id " + id
                                    + ", which is neither a token id nor a placeholder (−200/−300/−400)");
                        }
                        text.add(id);
                        textLab.add(labels == null ? CurrentPromptBuilder.IGNORE_INDEX : labels[s][i]);
                        continue;
                    }
                    if (!text.isEmpty()) {
                        NDArray e = embeddings.rows(scope, text.stream().mapToLong(Long::longValue).toArray());
                        dtype = dtype == null ? e.getDataType() : dtype;
                        pieces.add(e);
                        lab.addAll(textLab);
                        pos += text.size();
                        text.clear();
                        textLab.clear();
                    }
                    if (end) {
                        break;
                    }
                    List<NDArray> list = features.getOrDefault(m, List.of());
                    int k = next.get(m);
                    if (k >= list.size()) {
                        throw new InvalidInputException("sample " + s + " has a " + CurrentPromptBuilder.placeholder(m)
                                + " placeholder at position " + i + " but only " + list.size() + " " + m
                                + " feature(s) were given for the batch");
                    }
                    next.put(m, k + 1);
                    NDArray f = list.get(k);
                    if (f.getShape().dimension() == 1) {
                        f = f.expandDims(0);
                    }
                    if (f.getShape().dimension() != 2 || f.getShape().get(1) != hidden) {
                        throw new InvalidInputException(m + " feature " + k + " has shape " + f.getShape()
                                + "; expected [n, " + hidden + "] (the LLM hidden size)");
                    }
                    int n = (int) f.getShape().get(0);
                    NDArray fc = f.toDevice(scope.getDevice(), true);
                    fc.attach(scope);
                    pieces.add(fc);
                    placements.add(new Placement(s, m, k, pos, n));
                    for (int j = 0; j < n; j++) {
                        lab.add(CurrentPromptBuilder.IGNORE_INDEX);
                    }
                    pos += n;
                }
                if (dtype == null && !pieces.isEmpty()) {
                    dtype = pieces.get(0).getDataType();
                }
                DataType dt = dtype == null ? DataType.FLOAT32 : dtype;
                NDArray row;
                if (pieces.isEmpty()) {
                    row = scope.zeros(new Shape(0, hidden), dt);
                } else {
                    NDList cast = new NDList();
                    for (NDArray p : pieces) {
                        cast.add(p.getDataType() == dt ? p : p.toType(dt, false));
                    }
                    row = cast.size() == 1 ? cast.get(0) : NDArrays.concat(cast, 0);
                }
                long[] l = lab.stream().mapToLong(Long::longValue).toArray();
                if (maxLength > 0 && l.length > maxLength) {
                    row = row.get("0:" + maxLength);
                    l = Arrays.copyOf(l, maxLength);
                }
                rows.add(row);
                rowLabels.add(l);
            }
            int maxLen = 0;
            for (long[] l : rowLabels) {
                maxLen = Math.max(maxLen, l.length);
            }
            DataType dt = rows.get(0).getDataType();
            long[][] mask = new long[b][maxLen];
            long[][] outLabels = new long[b][maxLen];
            long[][] positions = new long[b][maxLen];
            int[] lengths = new int[b];
            NDList padded = new NDList();
            for (int s = 0; s < b; s++) {
                NDArray row = rows.get(s).getDataType() == dt ? rows.get(s) : rows.get(s).toType(dt, false);
                int len = rowLabels.get(s).length;
                lengths[s] = len;
                int off = side == PaddingSide.LEFT ? maxLen - len : 0;
                Arrays.fill(outLabels[s], CurrentPromptBuilder.IGNORE_INDEX);
                for (int j = 0; j < len; j++) {
                    mask[s][off + j] = 1;
                    outLabels[s][off + j] = rowLabels.get(s)[j];
                    positions[s][off + j] = j;
                }
                if (len < maxLen) {
                    NDArray zeros = scope.zeros(new Shape(maxLen - len, hidden), dt);
                    row = side == PaddingSide.LEFT ? zeros.concat(row, 0) : row.concat(zeros, 0);
                }
                padded.add(row);
            }
            NDArray embeds = NDArrays.stack(padded, 0);
            embeds.attach(manager);
            List<Placement> clipped = new ArrayList<>();
            for (Placement p : placements) {
                int len = lengths[p.sample()];
                int off = side == PaddingSide.LEFT ? maxLen - len : 0;
                if (p.start() < len) {
                    clipped.add(new Placement(p.sample(), p.modality(), p.featureIndex(), off + p.start(),
                            Math.min(p.length(), len - p.start())));
                }
            }
            return new Result(embeds, mask, labels == null ? null : outLabels, positions, lengths,
                    List.copyOf(clipped), Map.copyOf(next));
        }
    }

    /** Splits a batched feature tensor {@code [N, n, H]} into N items {@code [n, H]} (views in its manager). */
    public static List<NDArray> items(NDArray batched) {
        if (batched.getShape().dimension() != 3) {
            throw new InvalidInputException("batched features must be [N, n, H], got " + batched.getShape());
        }
        List<NDArray> out = new ArrayList<>();
        for (int i = 0; i < batched.getShape().get(0); i++) {
            out.add(batched.get(i));
        }
        return out;
    }

    private static void checkRect(String what, long[][] a, int b, int t) {
        if (a.length != b) {
            throw new InvalidInputException(what + " has " + a.length + " rows, expected " + b);
        }
        for (int i = 0; i < b; i++) {
            if (a[i].length != t) {
                throw new InvalidInputException(what + " row " + i + " has length " + a[i].length + ", expected " + t
                        + " (rows must be padded to one length)");
            }
        }
    }
}
