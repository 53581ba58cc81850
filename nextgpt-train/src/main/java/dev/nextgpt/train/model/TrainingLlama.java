package dev.nextgpt.train.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.runtime.llm.LlamaConfig;

import java.util.Set;

/**
 * A differentiable LLaMA forward for training: unfused projections, functional NDArray ops (so DJL autograd records
 * them), optional unmerged LoRA on the configured projections, no KV cache. Conventions (as the legacy
 * {@code LlamaForCausalLM} of NExT-GPT and {@code shared/golden/llama}): RMSNorm with eps inside the square root,
 * RoPE with {@code rotate_half}, position ids {@code 0..S-1} in every row, a causal plus key-padding mask whose
 * masked scores get {@code finfo.min} added and are then clamped with {@code max(scores, finfo.min)}, softmax in the
 * parameter type, {@code lm_head} without bias.
 *
 * <p>Weight names are {@code prefix + "model.layers.N.self_attn.q_proj.weight"} etc. (HF layout, {@code prefix} is
 * {@code "llama_model."} in stages 1/2 and {@code "llama_model.base_model.model."} in stage 3); LoRA tensors are
 * {@code ….q_proj.lora_A.<adapter>.weight} / {@code lora_B}.
 */
public final class TrainingLlama {

    /**
     * LoRA settings (peft semantics): {@code y = W·x + scaling·B·A·dropout(x)}, {@code scaling = alpha / r}.
     *
     * @param targets projection names that carry an adapter, e.g. {@code q_proj, k_proj, v_proj, o_proj}
     * @param adapter the adapter name inside the weight keys ({@code default} in peft's in-memory names)
     */
    public record Lora(int r, double alpha, double dropout, Set<String> targets, String adapter) {
        public Lora {
            if (r <= 0 || dropout < 0 || dropout >= 1) {
                throw new InvalidInputException("LoRA needs r > 0 and 0 <= dropout < 1; got r " + r + ", dropout "
                        + dropout);
            }
            targets = Set.copyOf(targets);
        }

        public double scaling() {
            return alpha / r;
        }
    }

    /** Logits {@code [B,S,V]} and the last entry of HF's hidden states (after the final RMSNorm) {@code [B,S,D]}. */
    public record Output(NDArray logits, NDArray lastHidden) {
    }

    private final LlamaConfig config;
    private final String prefix;
    private final Lora lora;
    private final float[] invFreq;

    /**
     * @param prefix the weight-name prefix before {@code model.} / {@code lm_head.}
     * @param lora   null for no adapters
     */
    public TrainingLlama(LlamaConfig config, String prefix, Lora lora) {
        this.config = config;
        this.prefix = prefix;
        this.lora = lora;
        this.invFreq = config.rope().inverseFrequencies(config.headDim());
    }

    public LlamaConfig config() {
        return config;
    }

    public String prefix() {
        return prefix;
    }

    public Lora lora() {
        return lora;
    }

    public String embedName() {
        return prefix + "model.embed_tokens.weight";
    }

    public String lmHeadName() {
        return prefix + "lm_head.weight";
    }

    /** The LoRA weight names of layer {@code layer}'s projection {@code proj} ({@code A} or {@code B}). */
    public String loraName(int layer, String proj, String ab) {
        return prefix + "model.layers." + layer + "." + moduleOf(proj) + "." + proj + ".lora_" + ab + "."
                + lora.adapter() + ".weight";
    }

    private static String moduleOf(String proj) {
        return switch (proj) {
            case "q_proj", "k_proj", "v_proj", "o_proj" -> "self_attn";
            case "gate_proj", "up_proj", "down_proj" -> "mlp";
            default -> throw new InvalidInputException("unknown LLaMA projection '" + proj + "'");
        };
    }

    /** Differentiable embedding lookup {@code E[ids]} → {@code [n, D]} (gradient flows into the looked-up rows). */
    public NDArray embed(ParameterStore p, NDManager scope, long[] ids) {
        long vocab = p.peek(embedName()).getShape().get(0);
        for (long id : ids) {
            if (id < 0 || id >= vocab) {
                throw new InvalidInputException("token id " + id + " is outside the embedding table [0, " + vocab + ")");
            }
        }
        return p.get(embedName()).get(scope.create(ids));
    }

    /**
     * The forward pass from input embeddings {@code [B,S,D]} and the 0/1 attention mask {@code [B][S]} (right
     * padding: position ids are {@code 0..S-1}).
     *
     * @param training applies LoRA dropout when true
     */
    public Output forward(ParameterStore p, NDArray inputsEmbeds, long[][] attentionMask, boolean training) {
        Shape s = inputsEmbeds.getShape();
        if (s.dimension() != 3 || s.get(2) != config.hiddenSize()) {
            throw new InvalidInputException("inputs_embeds must be [B, S, " + config.hiddenSize() + "], got " + s);
        }
        int batch = (int) s.get(0);
        int seq = (int) s.get(1);
        if (attentionMask.length != batch || attentionMask[0].length != seq) {
            throw new InvalidInputException("attention mask is [" + attentionMask.length + ", "
                    + attentionMask[0].length + "] but inputs_embeds is " + s);
        }
        NDManager scope = inputsEmbeds.getManager();
        DataType dt = p.computeType();
        NDArray mask = additiveMask(scope, attentionMask, dt);
        NDArray[] rope = rope(scope, seq, dt);
        NDArray h = inputsEmbeds;
        for (int l = 0; l < config.numLayers(); l++) {
            String lp = prefix + "model.layers." + l + ".";
            NDArray n = rmsNorm(h, p.get(lp + "input_layernorm.weight"));
            h = h.add(attention(p, l, n, mask, rope, batch, seq, training));
            NDArray n2 = rmsNorm(h, p.get(lp + "post_attention_layernorm.weight"));
            NDArray gate = project(p, l, "gate_proj", n2, training);
            NDArray up = project(p, l, "up_proj", n2, training);
            NDArray act = gate.mul(ai.djl.nn.Activation.sigmoid(gate)).mul(up);
            h = h.add(project(p, l, "down_proj", act, training));
        }
        NDArray last = rmsNorm(h, p.get(prefix + "model.norm.weight"));
        String head = p.has(lmHeadName()) || !config.tieWordEmbeddings() ? lmHeadName() : embedName();
        NDArray logits = last.matMul(p.get(head).transpose());
        return new Output(logits, last);
    }

    private NDArray attention(ParameterStore p, int layer, NDArray x, NDArray mask, NDArray[] rope, int batch,
                              int seq, boolean training) {
        int heads = config.numHeads();
        int kvHeads = config.numKvHeads();
        int hd = config.headDim();
        NDArray q = project(p, layer, "q_proj", x, training).reshape(batch, seq, heads, hd).transpose(0, 2, 1, 3);
        NDArray k = project(p, layer, "k_proj", x, training).reshape(batch, seq, kvHeads, hd).transpose(0, 2, 1, 3);
        NDArray v = project(p, layer, "v_proj", x, training).reshape(batch, seq, kvHeads, hd).transpose(0, 2, 1, 3);
        q = applyRope(q, rope);
        k = applyRope(k, rope);
        if (kvHeads != heads) {
            int g = heads / kvHeads;
            k = k.expandDims(2).broadcast(new Shape(batch, kvHeads, g, seq, hd)).reshape(batch, heads, seq, hd);
            v = v.expandDims(2).broadcast(new Shape(batch, kvHeads, g, seq, hd)).reshape(batch, heads, seq, hd);
        }
        Number min = finfoMin(p.computeType());
        NDArray scores = GraphScalars.maximum(GraphScalars.div(q.matMul(k.transpose(0, 1, 3, 2)), Math.sqrt(hd))
                .add(mask), min);
        NDArray probs = scores.softmax(-1);
        NDArray out = probs.matMul(v).transpose(0, 2, 1, 3).reshape(batch, seq, (long) heads * hd);
        return project(p, layer, "o_proj", out, training);
    }

    /** {@code x·Wᵀ (+ b)} plus the LoRA branch when the projection is a target and its tensors exist. */
    private NDArray project(ParameterStore p, int layer, String proj, NDArray x, boolean training) {
        String base = prefix + "model.layers." + layer + "." + moduleOf(proj) + "." + proj + ".";
        NDArray y = x.matMul(p.get(base + "weight").transpose());
        if (p.has(base + "bias")) {
            y = y.add(p.get(base + "bias"));
        }
        if (lora != null && lora.targets().contains(proj) && p.has(loraName(layer, proj, "A"))) {
            NDArray in = x;
            if (training && lora.dropout() > 0) {
                NDArray keep = x.getManager().randomUniform(0f, 1f, x.getShape(), p.dtype())
                        .gte(lora.dropout()).toType(p.computeType(), false);
                in = GraphScalars.div(x.mul(keep), 1 - lora.dropout());
            }
            NDArray a = p.get(loraName(layer, proj, "A"));
            NDArray b = p.get(loraName(layer, proj, "B"));
            y = y.add(GraphScalars.mul(in.matMul(a.transpose()).matMul(b.transpose()), lora.scaling()));
        }
        return y;
    }

    /**
     * RMSNorm in the input's type. Deviation under mixed precision: HF LLaMA computes the statistics of a
     * half-precision input in float32, but a DJL cast is not differentiable, so here they stay in the compute type
     * (the mean's reduction accumulates in float32 inside PyTorch).
     */
    private NDArray rmsNorm(NDArray x, NDArray weight) {
        NDArray ms = x.square().mean(new int[] {-1}, true);
        return x.div(GraphScalars.add(ms, config.rmsNormEps()).sqrt()).mul(weight);
    }

    /** {@code torch.finfo(dt).min} (as a Java number of the type's width). */
    private static Number finfoMin(DataType dt) {
        return switch (dt) {
            case FLOAT64 -> (Number) (-Double.MAX_VALUE);
            case FLOAT16 -> (Number) (-65504f);
            case BFLOAT16 -> (Number) (-3.3895313892515355e38f);
            default -> (Number) (-Float.MAX_VALUE);
        };
    }

    private static NDArray applyRope(NDArray x, NDArray[] rope) {
        long half = x.getShape().get(3) / 2;
        NDList parts = x.split(new long[] {half}, 3);
        NDArray rotated = parts.get(1).neg().concat(parts.get(0), 3);
        return x.mul(rope[0]).add(rotated.mul(rope[1]));
    }

    /** cos / sin tables {@code [S, hd]} for positions {@code 0..S-1} ({@code cat(freqs, freqs)}). */
    private NDArray[] rope(NDManager scope, int seq, DataType dt) {
        int hd = config.headDim();
        int half = hd / 2;
        double[] cos = new double[seq * hd];
        double[] sin = new double[seq * hd];
        for (int pos = 0; pos < seq; pos++) {
            for (int j = 0; j < half; j++) {
                double angle = dt == DataType.FLOAT64 ? (double) pos * invFreq[j] : (float) ((float) pos * invFreq[j]);
                double c = dt == DataType.FLOAT64 ? Math.cos(angle) : (float) Math.cos(angle);
                double sn = dt == DataType.FLOAT64 ? Math.sin(angle) : (float) Math.sin(angle);
                cos[pos * hd + j] = c;
                cos[pos * hd + j + half] = c;
                sin[pos * hd + j] = sn;
                sin[pos * hd + j + half] = sn;
            }
        }
        Shape shape = new Shape(seq, hd);
        return new NDArray[] {scope.create(cos, shape).toType(dt, false), scope.create(sin, shape).toType(dt, false)};
    }

    /** {@code [B,1,S,S]}: 0 where key j ≤ query i and key j is not padding, else {@code finfo.min}. */
    private static NDArray additiveMask(NDManager scope, long[][] attentionMask, DataType dt) {
        int batch = attentionMask.length;
        int seq = attentionMask[0].length;
        boolean f64 = dt == DataType.FLOAT64;
        double[] md = f64 ? new double[batch * seq * seq] : null;
        float[] mf = f64 ? null : new float[batch * seq * seq];
        float min = finfoMin(dt).floatValue();
        for (int b = 0; b < batch; b++) {
            for (int i = 0; i < seq; i++) {
                for (int j = 0; j < seq; j++) {
                    if (j > i || attentionMask[b][j] == 0) {
                        int idx = (b * seq + i) * seq + j;
                        if (f64) {
                            md[idx] = -Double.MAX_VALUE;
                        } else {
                            mf[idx] = min;
                        }
                    }
                }
            }
        }
        Shape shape = new Shape(batch, 1, seq, seq);
        return f64 ? scope.create(md, shape)
                : dt == DataType.FLOAT32 ? scope.create(mf, shape) : scope.create(mf, shape).toType(dt, false);
    }
}
