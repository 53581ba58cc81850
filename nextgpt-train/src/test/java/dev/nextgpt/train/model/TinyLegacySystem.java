package dev.nextgpt.train.model;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.runtime.llm.LlamaConfig;
import dev.nextgpt.train.data.LegacyBatchBuilder;
import dev.nextgpt.train.data.LegacyBatchBuilder.Modality;

import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/** A tiny random legacy system (LLaMA with GQA + LoRA, llama_proj, one image projector) built in memory for tests. */
public final class TinyLegacySystem {
    static final int VOCAB = 24;
    static final int HIDDEN = 8;
    static final int FEATURE = 6;
    static final int WIDTH = 8;
    static final int QUERIES = 3;
    static final int OUT = 5;
    static final long[] SIGNAL = {20, 21, 22};

    public static LlamaConfig llamaConfig() {
        return new LlamaConfig(VOCAB, HIDDEN, 12, 2, 2, 1, 4, 64, 1e-6,
                new LlamaConfig.Rope("default", 10000, 1, 1, 1, 0), false, 1, new int[] {2}, 2, false, false);
    }

    static TrainingLlama.Lora lora() {
        return new TrainingLlama.Lora(2, 4, 0, Set.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj"), "default");
    }

    /** Random weights (N(0, 0.3²); norms 1 + 0.1·N) with stage-3 names. */
    public static ParameterStore randomWeights(NDManager m, DataType dt, long seed) {
        return randomWeights(m, dt, seed, 3);
    }

    /** Stage 1/2 names ({@code llama_model.}, no LoRA) or stage-3 names with LoRA. */
    public static ParameterStore randomWeights(NDManager m, DataType dt, long seed, int stage) {
        Random rnd = new Random(seed);
        ParameterStore s = new ParameterStore(m, dt);
        String p = LegacyTrainingModel.llmPrefix(stage);
        put(s, m, rnd, p + "model.embed_tokens.weight", 0.5, 0, VOCAB, HIDDEN);
        put(s, m, rnd, p + "lm_head.weight", 0.3, 0, VOCAB, HIDDEN);
        put(s, m, rnd, p + "model.norm.weight", 0.1, 1, HIDDEN);
        LlamaConfig c = llamaConfig();
        TrainingLlama llm = new TrainingLlama(c, p, lora());
        for (int l = 0; l < c.numLayers(); l++) {
            String lp = p + "model.layers." + l + ".";
            put(s, m, rnd, lp + "input_layernorm.weight", 0.1, 1, HIDDEN);
            put(s, m, rnd, lp + "post_attention_layernorm.weight", 0.1, 1, HIDDEN);
            put(s, m, rnd, lp + "self_attn.q_proj.weight", 0.3, 0, 8, HIDDEN);
            put(s, m, rnd, lp + "self_attn.k_proj.weight", 0.3, 0, 4, HIDDEN);
            put(s, m, rnd, lp + "self_attn.v_proj.weight", 0.3, 0, 4, HIDDEN);
            put(s, m, rnd, lp + "self_attn.o_proj.weight", 0.3, 0, HIDDEN, 8);
            put(s, m, rnd, lp + "mlp.gate_proj.weight", 0.3, 0, 12, HIDDEN);
            put(s, m, rnd, lp + "mlp.up_proj.weight", 0.3, 0, 12, HIDDEN);
            put(s, m, rnd, lp + "mlp.down_proj.weight", 0.3, 0, HIDDEN, 12);
            for (String proj : stage == 3 ? new String[] {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj"}
                    : new String[0]) {
                Shape w = s.peek(lp + (proj.equals("gate_proj") ? "mlp." : "self_attn.") + proj + ".weight").getShape();
                put(s, m, rnd, llm.loraName(l, proj, "A"), 0.3, 0, 2, w.get(1));
                put(s, m, rnd, llm.loraName(l, proj, "B"), 0.3, 0, w.get(0), 2);
            }
        }
        put(s, m, rnd, "llama_proj.weight", 0.3, 0, HIDDEN, FEATURE);
        put(s, m, rnd, "llama_proj.bias", 0.1, 0, HIDDEN);
        String q = LegacyTrainingModel.projectorPrefix(Modality.IMAGE);
        put(s, m, rnd, q + "query_embs", 1, 0, 1, QUERIES, WIDTH);
        put(s, m, rnd, q + "fc.weight", 0.3, 0, WIDTH, HIDDEN);
        put(s, m, rnd, q + "fc.bias", 0.1, 0, WIDTH);
        for (String l : new String[] {"tfm.encoder.layers.0.", "tfm.decoder.layers.0."}) {
            attention(s, m, rnd, q + l + "self_attn.");
            if (l.contains("decoder")) {
                attention(s, m, rnd, q + l + "multihead_attn.");
            }
            put(s, m, rnd, q + l + "linear1.weight", 0.3, 0, 16, WIDTH);
            put(s, m, rnd, q + l + "linear1.bias", 0.1, 0, 16);
            put(s, m, rnd, q + l + "linear2.weight", 0.3, 0, WIDTH, 16);
            put(s, m, rnd, q + l + "linear2.bias", 0.1, 0, WIDTH);
            for (String n : l.contains("decoder") ? new String[] {"norm1", "norm2", "norm3"}
                    : new String[] {"norm1", "norm2"}) {
                put(s, m, rnd, q + l + n + ".weight", 0.1, 1, WIDTH);
                put(s, m, rnd, q + l + n + ".bias", 0.1, 0, WIDTH);
            }
        }
        for (String n : new String[] {"tfm.encoder.norm", "tfm.decoder.norm"}) {
            put(s, m, rnd, q + n + ".weight", 0.1, 1, WIDTH);
            put(s, m, rnd, q + n + ".bias", 0.1, 0, WIDTH);
        }
        put(s, m, rnd, q + "model.weight", 0.3, 0, OUT, WIDTH);
        put(s, m, rnd, q + "model.bias", 0.1, 0, OUT);
        return s;
    }

    private static void attention(ParameterStore s, NDManager m, Random rnd, String p) {
        put(s, m, rnd, p + "in_proj_weight", 0.3, 0, 3 * WIDTH, WIDTH);
        put(s, m, rnd, p + "in_proj_bias", 0.1, 0, 3 * WIDTH);
        put(s, m, rnd, p + "out_proj.weight", 0.3, 0, WIDTH, WIDTH);
        put(s, m, rnd, p + "out_proj.bias", 0.1, 0, WIDTH);
    }

    private static void put(ParameterStore s, NDManager m, Random rnd, String name, double std, double mean,
                            long... shape) {
        Shape sh = new Shape(shape);
        double[] v = new double[(int) sh.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = mean + std * rnd.nextGaussian();
        }
        s.put(name, m.create(v, sh));
    }

    public static LegacyTrainingModel model(ParameterStore store, int stage) {
        return new LegacyTrainingModel(stage, store,
                new TrainingLlama(llamaConfig(), LegacyTrainingModel.llmPrefix(stage), stage == 3 ? lora() : null),
                Map.of(Modality.IMAGE, SIGNAL), 2);
    }

    /**
     * A right-padded batch of 2 with an input feature and image signal tokens in the targets: wrapped = [BOS, 5, 6,
     * feature, ids...].
     */
    public static LegacyTrainingModel.Example example(long seed, boolean withMedia, Modality output) {
        Random rnd = new Random(seed);
        long[][] ids = new long[2][];
        long[][] tgt = new long[2][];
        for (int r = 0; r < 2; r++) {
            int prompt = 2 + r;
            int answer = 3 + 2 * r;
            int len = prompt + answer + (output == Modality.TEXT ? 0 : SIGNAL.length) + 1;
            ids[r] = new long[len];
            tgt[r] = new long[len];
            int pos = 0;
            for (int i = 0; i < prompt; i++, pos++) {
                ids[r][pos] = 3 + rnd.nextInt(17);
                tgt[r][pos] = LegacyBatchBuilder.IGNORE_INDEX;
            }
            for (int i = 0; i < answer; i++, pos++) {
                ids[r][pos] = 3 + rnd.nextInt(17);
                tgt[r][pos] = ids[r][pos];
            }
            if (output != Modality.TEXT) {
                for (long sig : SIGNAL) {
                    ids[r][pos] = sig;
                    tgt[r][pos++] = sig;
                }
            }
            ids[r][pos] = 23;
            tgt[r][pos] = 23;
        }
        int len = Math.max(ids[0].length, ids[1].length);
        long[][] pid = new long[2][len];
        long[][] ptg = new long[2][len];
        long[][] mask = new long[2][len];
        for (int r = 0; r < 2; r++) {
            Arrays.fill(pid[r], 2);
            Arrays.fill(ptg[r], LegacyBatchBuilder.IGNORE_INDEX);
            System.arraycopy(ids[r], 0, pid[r], 0, ids[r].length);
            System.arraycopy(tgt[r], 0, ptg[r], 0, tgt[r].length);
            for (int c = 0; c < ids[r].length; c++) {
                mask[r][c] = 1;
            }
        }
        long[] prefix = {1, 5, 6};
        int pre = prefix.length + (withMedia ? 1 : 0);
        long[][] wt = new long[2][pre + len];
        long[][] wm = new long[2][pre + len];
        for (int r = 0; r < 2; r++) {
            Arrays.fill(wt[r], 0, pre, LegacyBatchBuilder.IGNORE_INDEX);
            Arrays.fill(wm[r], 0, pre, 1);
            System.arraycopy(ptg[r], 0, wt[r], pre, len);
            System.arraycopy(mask[r], 0, wm[r], pre, len);
        }
        LegacyBatchBuilder.Batch b = new LegacyBatchBuilder.Batch(pid, ptg, mask, prefix, withMedia, wt, wm);
        float[][] feats = null;
        if (withMedia) {
            feats = new float[2][FEATURE];
            for (float[] f : feats) {
                for (int i = 0; i < f.length; i++) {
                    f[i] = (float) rnd.nextGaussian();
                }
            }
        }
        float[][] caps = null;
        if (output != Modality.TEXT) {
            caps = new float[2][QUERIES * OUT];
            for (float[] c : caps) {
                for (int i = 0; i < c.length; i++) {
                    c[i] = (float) rnd.nextGaussian();
                }
            }
        }
        return new LegacyTrainingModel.Example(b, feats, output, caps);
    }

    private TinyLegacySystem() {
    }
}
