package dev.nextgpt.runtime.llm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.InvalidInputException;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Autoregressive generation with a KV cache: one prefill over the (left-padded) prompts, then one token per step.
 * Token selection happens in Java on the final logits row (repetition penalty, logits processor, temperature, top-k,
 * top-p, seeded multinomial), so sampling is platform independent. Finished rows are filled with the pad id, as HF
 * {@code generate} does.
 */
public final class LlamaGenerator {

    /** Why a row stopped. */
    public enum FinishReason { EOS, STOP_IDS, STOP_STRING, LENGTH, CANCELLED }

    /**
     * The outcome.
     *
     * @param sequences       per row: the prompt ids (left-padded to the longest prompt; none when generating from
     *                        embeddings) followed by the new ids
     * @param newTokens       per row: the generated ids, rows that finished early padded with the pad id
     * @param finishReasons   per row
     * @param hiddenStates    if collected: {@code [row][j][H]} = last-layer post-norm hidden state computed while
     *                        feeding generated token {@code j} (float32), else null
     * @param stepLogits      if collected: {@code [step][row][V]} raw logits that chose new token {@code step}
     */
    public record Result(long[][] sequences, long[][] newTokens, FinishReason[] finishReasons,
                         float[][][] hiddenStates, float[][][] stepLogits) {

        /** Row {@code row}'s hidden states as a {@code [N, H]} FLOAT32 array in {@code manager}. */
        public NDArray hiddenStates(NDManager manager, int row) {
            if (hiddenStates == null) {
                throw new InvalidInputException("hidden states were not collected (collectHiddenStates(true))");
            }
            float[][] h = hiddenStates[row];
            int n = h.length;
            int d = n == 0 ? 0 : h[0].length;
            float[] flat = new float[n * d];
            for (int j = 0; j < n; j++) {
                System.arraycopy(h[j], 0, flat, j * d, d);
            }
            return manager.create(flat, new Shape(n, d));
        }
    }

    private final LlamaModel model;

    public LlamaGenerator(LlamaModel model) {
        this.model = model;
    }

    /** Generates from token-id prompts of any lengths (left-padded internally). */
    public Result generate(long[][] prompts, GenerationOptions options) {
        if (prompts.length == 0) {
            throw new InvalidInputException("no prompts");
        }
        int tmax = 0;
        for (long[] p : prompts) {
            if (p.length == 0) {
                throw new InvalidInputException("an empty prompt (at least one token, e.g. BOS, is needed)");
            }
            tmax = Math.max(tmax, p.length);
        }
        int b = prompts.length;
        long pad = padId(options);
        long[] flat = new long[b * tmax];
        long[][] mask = new long[b][tmax];
        long[][] padded = new long[b][tmax];
        for (int r = 0; r < b; r++) {
            int off = tmax - prompts[r].length;
            Arrays.fill(padded[r], 0, off, pad);
            System.arraycopy(prompts[r], 0, padded[r], off, prompts[r].length);
            Arrays.fill(mask[r], off, tmax, 1L);
            System.arraycopy(padded[r], 0, flat, r * tmax, tmax);
        }
        try (NDManager scope = NDManager.newBaseManager(model.device())) {
            NDArray embeds = model.embed(scope, padded);
            return loop(scope, embeds, mask, padded, options);
        }
    }

    /**
     * Generates from prompt embeddings {@code inputsEmbeds [B, T, H]} (e.g. text with spliced media features) with an
     * optional {@code attentionMask [B][T]} (left padding). Sequences then hold only the new ids.
     */
    public Result generateFromEmbeds(NDArray inputsEmbeds, long[][] attentionMask, GenerationOptions options) {
        Shape s = inputsEmbeds.getShape();
        if (s.dimension() != 3) {
            throw new InvalidInputException("inputs_embeds must be [B, T, H] but is " + s);
        }
        int b = (int) s.get(0);
        int t = (int) s.get(1);
        long[][] mask = attentionMask;
        if (mask == null) {
            mask = new long[b][t];
            for (long[] row : mask) {
                Arrays.fill(row, 1L);
            }
        } else if (mask.length != b || mask[0].length != t) {
            throw new InvalidInputException("attention mask must be [" + b + ", " + t + "]");
        }
        try (NDManager scope = NDManager.newBaseManager(model.device())) {
            return loop(scope, inputsEmbeds, copy(mask), new long[b][0], options);
        }
    }

    private static long[][] copy(long[][] a) {
        long[][] c = new long[a.length][];
        for (int i = 0; i < a.length; i++) {
            c[i] = a[i].clone();
        }
        return c;
    }

    private long padId(GenerationOptions o) {
        if (o.padTokenId >= 0) {
            return o.padTokenId;
        }
        if (model.config().padTokenId() >= 0) {
            return model.config().padTokenId();
        }
        int[] eos = eosIds(o);
        return eos.length > 0 ? eos[0] : 0;
    }

    private int[] eosIds(GenerationOptions o) {
        return o.eosTokenIds != null ? o.eosTokenIds : model.config().eosTokenIds();
    }

    private Result loop(NDManager scope, NDArray promptEmbeds, long[][] mask, long[][] promptIds,
                        GenerationOptions o) {
        if ((o.streamer != null || !o.stopStrings.isEmpty()) && o.tokenizer == null) {
            throw new InvalidInputException("stop strings and streaming need a tokenizer (GenerationOptions.tokenizer)");
        }
        int b = mask.length;
        int promptLen = mask[0].length;
        long pad = padId(o);
        int[] eos = eosIds(o);
        int maxNew = o.maxNewTokens;
        SplittableRandom rng = new SplittableRandom(o.seed);
        List<long[]> generated = new ArrayList<>();
        FinishReason[] reasons = new FinishReason[b];
        boolean[] done = new boolean[b];
        List<float[][]> hidden = o.collectHiddenStates ? new ArrayList<>() : null;
        List<float[][]> logitsOut = o.collectLogits ? new ArrayList<>() : null;
        StreamDecoder[] streams = new StreamDecoder[b];
        if (o.streamer != null) {
            for (int r = 0; r < b; r++) {
                streams[r] = new StreamDecoder(o.tokenizer);
            }
        }
        int vocab = model.vocabSize();
        try (LlamaModel.KvCache cache = model.newCache(b, promptLen + maxNew + 1)) {
            LlamaModel.Output out = model.step(scope, promptEmbeds, mask, cache, LlamaModel.Logits.LAST, false);
            for (int step = 0; step < maxNew; step++) {
                if (o.cancel != null && o.cancel.get()) {
                    for (int r = 0; r < b; r++) {
                        if (!done[r]) {
                            done[r] = true;
                            reasons[r] = FinishReason.CANCELLED;
                        }
                    }
                    break;
                }
                float[] all = out.logits().toFloatArray();
                out.logits().close();
                out.lastHidden().close();
                long[] next = new long[b];
                float[][] raw = logitsOut != null ? new float[b][] : null;
                for (int r = 0; r < b; r++) {
                    float[] row = Arrays.copyOfRange(all, r * vocab, (r + 1) * vocab);
                    if (raw != null) {
                        raw[r] = row.clone();
                    }
                    if (done[r]) {
                        next[r] = pad;
                        continue;
                    }
                    long[] seq = sequence(promptIds[r], mask[r], generated, r);
                    next[r] = choose(r, row, seq, o, rng);
                }
                if (raw != null) {
                    logitsOut.add(raw);
                }
                generated.add(next);
                for (int r = 0; r < b; r++) {
                    if (done[r]) {
                        continue;
                    }
                    FinishReason why = finished(next[r], sequence(promptIds[r], mask[r], generated, r),
                            generatedOf(generated, r), eos, o);
                    if (streams[r] != null) {
                        streams[r].push(next[r], r, o.streamer);
                    }
                    if (why != null) {
                        done[r] = true;
                        reasons[r] = why;
                    }
                }
                boolean allDone = true;
                for (boolean d : done) {
                    allDone &= d;
                }
                boolean last = allDone || step == maxNew - 1;
                if (last && hidden == null) {
                    break;
                }
                // feed the new tokens (also when collecting the hidden state of the final token)
                long[][] grown = new long[b][];
                for (int r = 0; r < b; r++) {
                    grown[r] = Arrays.copyOf(mask[r], mask[r].length + 1);
                    grown[r][mask[r].length] = 1L;
                }
                mask = grown;
                try (NDManager stepScope = scope.newSubManager()) {
                    long[][] col = new long[b][1];
                    for (int r = 0; r < b; r++) {
                        col[r][0] = next[r];
                    }
                    NDArray x = model.embed(stepScope, col);
                    out = model.step(scope, x, mask, cache, LlamaModel.Logits.LAST, false);
                }
                if (hidden != null) {
                    float[] h = out.lastHidden().toType(DataType.FLOAT32, false).toFloatArray();
                    int d = model.hiddenSize();
                    float[][] rows = new float[b][];
                    for (int r = 0; r < b; r++) {
                        rows[r] = Arrays.copyOfRange(h, r * d, (r + 1) * d);
                    }
                    hidden.add(rows);
                }
                if (last) {
                    out.logits().close();
                    out.lastHidden().close();
                    break;
                }
            }
        }
        for (int r = 0; r < b; r++) {
            if (streams[r] != null) {
                streams[r].flush(r, o.streamer);
            }
            if (reasons[r] == null) {
                reasons[r] = FinishReason.LENGTH;
            }
        }
        int n = generated.size();
        long[][] newTokens = new long[b][n];
        long[][] sequences = new long[b][];
        for (int r = 0; r < b; r++) {
            for (int j = 0; j < n; j++) {
                newTokens[r][j] = generated.get(j)[r];
            }
            sequences[r] = Arrays.copyOf(promptIds[r], promptIds[r].length + n);
            System.arraycopy(newTokens[r], 0, sequences[r], promptIds[r].length, n);
        }
        float[][][] hs = null;
        if (hidden != null) {
            hs = new float[b][n][];
            for (int j = 0; j < n; j++) {
                for (int r = 0; r < b; r++) {
                    hs[r][j] = hidden.get(j)[r];
                }
            }
        }
        return new Result(sequences, newTokens, reasons, hs, logitsOut == null ? null
                : logitsOut.toArray(new float[0][][]));
    }

    private static long[] generatedOf(List<long[]> generated, int r) {
        long[] g = new long[generated.size()];
        for (int j = 0; j < g.length; j++) {
            g[j] = generated.get(j)[r];
        }
        return g;
    }

    /** Prompt ids (non-pad positions) followed by the generated ids of row {@code r}. */
    private static long[] sequence(long[] prompt, long[] mask, List<long[]> generated, int r) {
        int real = 0;
        for (int i = 0; i < prompt.length; i++) {
            real += mask[i] != 0 ? 1 : 0;
        }
        long[] seq = new long[real + generated.size()];
        int k = 0;
        for (int i = 0; i < prompt.length; i++) {
            if (mask[i] != 0) {
                seq[k++] = prompt[i];
            }
        }
        for (long[] g : generated) {
            seq[k++] = g[r];
        }
        return seq;
    }

    private static FinishReason finished(long token, long[] seq, long[] gen, int[] eos, GenerationOptions o) {
        for (int e : eos) {
            if (token == e) {
                return FinishReason.EOS;
            }
        }
        for (long[] stop : o.stopIdSequences) {
            if (seq.length >= stop.length && Arrays.equals(seq, seq.length - stop.length, seq.length, stop, 0,
                    stop.length)) {
                return FinishReason.STOP_IDS;
            }
        }
        if (!o.stopStrings.isEmpty()) {
            String text = o.tokenizer.decode(gen, true);
            for (String s : o.stopStrings) {
                if (text.contains(s)) {
                    return FinishReason.STOP_STRING;
                }
            }
        }
        return null;
    }

    private static long choose(int row, float[] logits, long[] seq, GenerationOptions o, SplittableRandom rng) {
        if (o.repetitionPenalty != 1.0) {
            applyRepetitionPenalty(logits, seq, (float) o.repetitionPenalty);
        }
        if (o.logitsProcessor != null) {
            o.logitsProcessor.process(row, seq, logits);
        }
        if (!o.doSample) {
            return argmax(logits);
        }
        return sample(logits, o.temperature, o.topK, o.topP, rng);
    }

    /** HF RepetitionPenaltyLogitsProcessor: for every seen token, score &lt; 0 ? score·p : score/p. */
    static void applyRepetitionPenalty(float[] logits, long[] seen, float penalty) {
        boolean[] hit = new boolean[logits.length];
        for (long t : seen) {
            if (t >= 0 && t < logits.length) {
                hit[(int) t] = true;
            }
        }
        for (int i = 0; i < logits.length; i++) {
            if (hit[i]) {
                logits[i] = logits[i] < 0 ? logits[i] * penalty : logits[i] / penalty;
            }
        }
    }

    /** First index of the maximum (torch.argmax). */
    static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        return best;
    }

    /**
     * Temperature, then top-k (ties with the k-th score kept), then top-p (HF: drop the tokens whose ascending
     * cumulative probability is at most {@code 1 - topP}, always keeping the most likely), then a multinomial draw.
     */
    static int sample(float[] logits, double temperature, int topK, double topP, SplittableRandom rng) {
        int v = logits.length;
        double[] s = new double[v];
        for (int i = 0; i < v; i++) {
            s[i] = (float) (logits[i] / temperature);
        }
        boolean[] keep = new boolean[v];
        Arrays.fill(keep, true);
        if (topK > 0 && topK < v) {
            double[] sorted = s.clone();
            Arrays.sort(sorted);
            double kth = sorted[v - topK];
            for (int i = 0; i < v; i++) {
                keep[i] = s[i] >= kth;
            }
        }
        if (topP < 1.0) {
            Integer[] order = new Integer[v];
            for (int i = 0; i < v; i++) {
                order[i] = i;
            }
            Arrays.sort(order, (a, c) -> Double.compare(s[a], s[c])); // ascending, stable
            double max = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < v; i++) {
                if (keep[i]) {
                    max = Math.max(max, s[i]);
                }
            }
            double z = 0;
            for (int i = 0; i < v; i++) {
                if (keep[i]) {
                    z += Math.exp(s[i] - max);
                }
            }
            double cum = 0;
            for (int k = 0; k < v - 1; k++) { // the last (most likely) token is always kept
                int i = order[k];
                if (!keep[i]) {
                    continue;
                }
                cum += Math.exp(s[i] - max) / z;
                if (cum <= 1 - topP) {
                    keep[i] = false;
                }
            }
        }
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < v; i++) {
            if (keep[i]) {
                max = Math.max(max, s[i]);
            }
        }
        double[] p = new double[v];
        double z = 0;
        for (int i = 0; i < v; i++) {
            if (keep[i]) {
                p[i] = Math.exp(s[i] - max);
                z += p[i];
            }
        }
        double u = rng.nextDouble() * z;
        double acc = 0;
        int lastKept = -1;
        for (int i = 0; i < v; i++) {
            if (keep[i]) {
                acc += p[i];
                lastKept = i;
                if (u < acc) {
                    return i;
                }
            }
        }
        return lastKept;
    }

    /**
     * Incremental detokenizer: re-decodes the generated ids and emits only text that is final, holding back a tail
     * of U+FFFD produced by an incomplete byte-fallback sequence (so a multi-byte character is never split).
     */
    static final class StreamDecoder {
        private final LlamaTokenizer tokenizer;
        private final List<Long> ids = new ArrayList<>();
        private String emitted = "";

        StreamDecoder(LlamaTokenizer tokenizer) {
            this.tokenizer = tokenizer;
        }

        void push(long id, int row, GenerationOptions.TextStreamer streamer) {
            ids.add(id);
            String text = decode();
            int end = text.length();
            while (end > 0 && text.charAt(end - 1) == '\uFFFD') {
                end--;
            }
            if (end > 0 && Character.isHighSurrogate(text.charAt(end - 1))) {
                end--;
            }
            emit(text.substring(0, end), row, streamer);
        }

        void flush(int row, GenerationOptions.TextStreamer streamer) {
            emit(decode(), row, streamer);
        }

        private void emit(String text, int row, GenerationOptions.TextStreamer streamer) {
            if (text.length() > emitted.length() && text.startsWith(emitted)) {
                streamer.onText(row, text.substring(emitted.length()));
                emitted = text;
            }
        }

        private String decode() {
            long[] a = new long[ids.size()];
            for (int i = 0; i < a.length; i++) {
                a[i] = ids.get(i);
            }
            return tokenizer.decode(a, true);
        }
    }
}
