package dev.nextgpt.runtime.nextgpt;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.UnsupportedConfigurationException;
import dev.nextgpt.runtime.io.TensorStore;
import dev.nextgpt.runtime.nextgpt.ProjectorOps.Dense;
import dev.nextgpt.runtime.nextgpt.ProjectorOps.Norm;
import dev.nextgpt.runtime.nn.NN;

import java.util.ArrayList;
import java.util.List;

/**
 * The current NExT-GPT {@code group} input projector ({@code GroupProjector}: GroupViT stages with learned group
 * tokens and hard grouping blocks), in eval mode (reference §2.2):
 * <pre>
 *   x = in_fc(x)
 *   for each stage: z = [x ; group tokens (+ group_projector(previous group tokens))]
 *                   z = pre-norm ViT blocks(z); split z into x and group tokens
 *                   x = GroupingBlock(x, group tokens)     (stages with a downsample)
 *   return out_fc(norm(x))
 * </pre>
 * Widths, stage count, depths, group-token and output-group counts are read from the weight shapes; the head count is
 * a parameter ({@value #DEFAULT_HEADS} in the original). The grouping assignment is the one-hot argmax over the group
 * axis, divided by (tokens per group + 1).
 */
public final class GroupProjector implements InputProjector {

    /** Heads of every stage in the original ({@code num_heads=[8, 8, 8]}). */
    public static final int DEFAULT_HEADS = 8;
    /** {@code nn.LayerNorm} default epsilon. */
    public static final float LAYER_NORM_EPS = 1e-5f;
    /** The {@code assign_eps} added to each group's token count. */
    public static final float ASSIGN_EPS = 1f;

    /** Sizes of one stage, from the weights. */
    public record StageConfig(int dim, int depth, int heads, int groupTokens, int outputGroups, int outDim,
                              boolean groupProjector) {
    }

    /** Sizes read from the weights. */
    public record Config(int inDim, int width, int outDim, List<StageConfig> stages) {
    }

    /** Hard assignment of one grouping block: group index per token {@code [B, S]} and the smallest logit gap. */
    public record Assignment(NDArray groupIndex, float minMargin) {
    }

    /** Output plus intermediates (fixture names: after_in_fc, after_layer{i}, layer{i}_assign_*). */
    public record Result(NDArray afterInFc, List<NDArray> afterLayer, List<Assignment> assignments, NDArray output) {
    }

    private record Mlp(Dense fc1, Dense fc2) {
        NDArray apply(NDArray x) {
            return fc2.apply(NN.gelu(fc1.apply(x)));
        }

        /** Token-mixing: applies the MLP along the token axis of {@code [B, T, C]}. */
        NDArray applyOnTokens(NDArray x) {
            return apply(x.transpose(0, 2, 1)).transpose(0, 2, 1);
        }

        static Mlp load(PrefixedWeights w, String name, long in, long hidden, long out) {
            return new Mlp(Dense.load(w, name + ".fc1", hidden, in, true), Dense.load(w, name + ".fc2", out, hidden, true));
        }

        static Mlp loadInferred(PrefixedWeights w, String name, long in) {
            long hidden = w.dim(name + ".fc1.weight", 2, 0);
            long out = w.dim(name + ".fc2.weight", 2, 0);
            return load(w, name, in, hidden, out);
        }
    }

    /** Multi-head attention with separate (or fused) q/k/v projections and an output projection. */
    private record Attn(Dense q, Dense k, Dense v, Dense proj, int heads) {
        NDArray apply(NDArray query, NDArray keyValue) {
            long c = q.outFeatures();
            return proj.apply(ProjectorOps.attention(q.apply(query), k.apply(keyValue), v.apply(keyValue), heads,
                    Math.pow((double) c / heads, -0.5)));
        }

        static Attn loadFused(PrefixedWeights w, String name, int dim, int heads) {
            NDArray qkvW = w.get(name + ".qkv.weight", 3L * dim, dim);
            NDArray qkvB = w.optional(name + ".qkv.bias", 3L * dim);
            Dense[] d = new Dense[3];
            for (int i = 0; i < 3; i++) {
                String range = (i * dim) + ":" + ((i + 1) * dim);
                d[i] = new Dense(qkvW.get(range), qkvB == null ? null : qkvB.get(range));
            }
            return new Attn(d[0], d[1], d[2], Dense.load(w, name + ".proj", dim, dim, true), heads);
        }

        static Attn loadSeparate(PrefixedWeights w, String name, int dim, int heads) {
            return new Attn(Dense.load(w, name + ".q_proj", dim, dim, false),
                    Dense.load(w, name + ".k_proj", dim, dim, false),
                    Dense.load(w, name + ".v_proj", dim, dim, false),
                    Dense.load(w, name + ".proj", dim, dim, true), heads);
        }
    }

    /** Pre-norm ViT block ({@code AttnBlock}). */
    private record Block(Norm norm1, Attn attn, Norm norm2, Mlp mlp) {
        NDArray apply(NDArray x) {
            NDArray n1 = norm1.apply(x);
            x = x.add(attn.apply(n1, n1));
            return x.add(mlp.apply(norm2.apply(x)));
        }
    }

    /** {@code GroupingBlock}: projects group tokens to the output groups and hard-assigns every token to one. */
    private record GroupingBlock(Norm normTokens, Mlp mlpInter, Norm normPostTokens, Norm normX,
                                 Attn preAssignAttn, Norm preAssignNorm2, Mlp preAssignMlp, Norm preAssignNormPost,
                                 Attn assign, Norm normNewX, Mlp mlpChannels, Norm reductionNorm, Dense reduction) {

        NDArray apply(NDArray x, NDArray groupTokens, List<Assignment> assignments, NDManager target) {
            NDArray gt = normTokens.apply(groupTokens);
            x = normX.apply(x);
            NDArray p = normPostTokens.apply(mlpInter.applyOnTokens(gt));
            // CrossAttnBlock(post_norm=True): no pre-norms on q/k
            p = p.add(preAssignAttn.apply(p, x));
            p = p.add(preAssignMlp.apply(preAssignNorm2.apply(p)));
            p = preAssignNormPost.apply(p);
            // AssignAttention: 1 head, scale C^-0.5, hard one-hot over the GROUP axis (eval mode)
            long c = assign.q().outFeatures();
            NDArray logits = assign.q().apply(p).matMul(assign.k().apply(x).transpose(0, 2, 1))
                    .mul((float) Math.pow(c, -0.5));                                        // [B, G, S]
            long groups = logits.getShape().get(1);
            NDArray soft = logits.softmax(1);
            NDArray index = soft.argMax(1);                                                  // [B, S]
            NDArray groupIds = logits.getManager().arange(0L, groups, 1L, DataType.INT64).reshape(1, groups, 1);
            NDArray hard = index.toType(DataType.INT64, false).expandDims(1).eq(groupIds)
                    .toType(DataType.FLOAT32, false);                                          // one-hot [B, G, S]
            NDArray attn = hard.sub(soft).add(soft);                                         // straight-through value
            attn = attn.div(attn.sum(new int[] {-1}, true).add(ASSIGN_EPS));
            NDArray out = assign.proj().apply(attn.matMul(assign.v().apply(x)));
            NDArray newX = out.add(p);
            NDArray reduced = reduction == null ? newX : reduction.apply(reductionNorm.apply(newX));
            float margin = Float.POSITIVE_INFINITY;
            if (groups > 1) {
                NDArray sorted = logits.sort(1);
                NDArray gap = sorted.get(":, -1, :").sub(sorted.get(":, -2, :"));
                margin = gap.min().getFloat();
            }
            assignments.add(new Assignment(ProjectorOps.keep(index.toType(DataType.INT64, false), target), margin));
            return reduced.add(mlpChannels.apply(normNewX.apply(newX)));
        }
    }

    private record GroupProj(Norm norm, Mlp mixer, Norm outNorm, Dense outLinear) {
        NDArray apply(NDArray prev) {
            NDArray y = mixer.applyOnTokens(norm.apply(prev));
            if (outLinear != null) {
                y = outLinear.apply(outNorm.apply(y));
            }
            return y;
        }
    }

    private record Stage(StageConfig config, NDArray groupToken, GroupProj groupProjector, List<Block> blocks,
                         GroupingBlock downsample) {
    }

    private final NDManager manager;
    private final Config config;
    private final Dense inFc;
    private final List<Stage> stages;
    private final Norm norm;
    private final Dense outFc;

    private GroupProjector(NDManager manager, Config config, Dense inFc, List<Stage> stages, Norm norm, Dense outFc) {
        this.manager = manager;
        this.config = config;
        this.inFc = inFc;
        this.stages = stages;
        this.norm = norm;
        this.outFc = outFc;
    }

    /**
     * Loads the group projector under {@code prefix} (e.g. {@code model.mm_input_projector.}) with {@code heads}
     * attention heads in every stage.
     */
    public static GroupProjector load(TensorStore store, String prefix, int heads, NDManager parent) {
        PrefixedWeights probe = new PrefixedWeights(store, prefix, null);
        int width = probe.dim("in_fc.weight", 2, 0);
        int inDim = probe.dim("in_fc.weight", 2, 1);
        int numStages = probe.countIndexed("layers.");
        if (numStages == 0) {
            throw new ModelFormatException("group projector under '" + prefix + "' in " + store.source()
                    + " has no 'layers.0.*' tensors");
        }
        List<StageConfig> stageConfigs = new ArrayList<>();
        int prevGroups = 0;
        for (int s = 0; s < numStages; s++) {
            String p = "layers." + s + ".";
            int dim = probe.dim(p + "blocks.0.norm1.weight", 1, 0);
            int depth = probe.countIndexed(p + "blocks.");
            int groups = probe.has(p + "group_token") ? probe.dim(p + "group_token", 3, 1) : 0;
            boolean down = probe.hasAny(p + "downsample.");
            int outGroups = down ? probe.dim(p + "downsample.mlp_inter.fc2.weight", 2, 0) : 0;
            int outDim = down ? probe.dim(p + "downsample.mlp_channels.fc2.weight", 2, 0) : dim;
            boolean gp = probe.hasAny(p + "group_projector.");
            if (gp && prevGroups == 0) {
                throw new ModelFormatException("stage " + s + " of the group projector under '" + prefix
                        + "' has a group_projector but the previous stage has no group tokens");
            }
            if (down && groups == 0) {
                throw new ModelFormatException("stage " + s + " of the group projector under '" + prefix
                        + "' has a grouping block but no '" + prefix + p + "group_token'");
            }
            if (dim % heads != 0) {
                throw new UnsupportedConfigurationException("group projector stage " + s + " width " + dim
                        + " is not divisible by " + heads + " heads");
            }
            stageConfigs.add(new StageConfig(dim, depth, heads, groups, outGroups, outDim, gp));
            prevGroups = groups;
        }
        int lastDim = stageConfigs.get(numStages - 1).outDim();
        int outDim = probe.dim("out_fc.weight", 2, 0);
        Config config = new Config(inDim, width, outDim, List.copyOf(stageConfigs));

        NDManager m = parent.newSubManager();
        try {
            PrefixedWeights w = new PrefixedWeights(store, prefix, m);
            Dense inFc = Dense.load(w, "in_fc", width, inDim, true);
            List<Stage> stages = new ArrayList<>();
            int prevDim = width;
            int prevG = 0;
            for (int s = 0; s < numStages; s++) {
                StageConfig sc = stageConfigs.get(s);
                String p = "layers." + s + ".";
                int d = sc.dim();
                if (d != prevDim) {
                    throw new ModelFormatException("group projector stage " + s + " has width " + d
                            + " but the previous stage produces width " + prevDim + " ('" + prefix + p
                            + "blocks.0.norm1.weight')");
                }
                NDArray groupToken = sc.groupTokens() > 0 ? w.get(p + "group_token", 1, sc.groupTokens(), d) : null;
                GroupProj gp = null;
                if (sc.groupProjector()) {
                    gp = loadGroupProjector(w, p + "group_projector", prevDim, prevG, sc.groupTokens(), d);
                }
                List<Block> blocks = new ArrayList<>();
                for (int b = 0; b < sc.depth(); b++) {
                    String bp = p + "blocks." + b + ".";
                    long hidden = w.dim(bp + "mlp.fc1.weight", 2, 0);
                    blocks.add(new Block(Norm.load(w, bp + "norm1", d, LAYER_NORM_EPS),
                            Attn.loadFused(w, bp + "attn", d, heads), Norm.load(w, bp + "norm2", d, LAYER_NORM_EPS),
                            Mlp.load(w, bp + "mlp", d, hidden, d)));
                }
                GroupingBlock down = null;
                if (sc.outputGroups() > 0) {
                    down = loadGroupingBlock(w, p + "downsample.", sc, heads);
                }
                stages.add(new Stage(sc, groupToken, gp, List.copyOf(blocks), down));
                prevDim = sc.outDim();
                prevG = sc.groupTokens();
            }
            Norm norm = Norm.load(w, "norm", lastDim, LAYER_NORM_EPS);
            Dense outFc = Dense.load(w, "out_fc", outDim, lastDim, true);
            return new GroupProjector(m, config, inFc, List.copyOf(stages), norm, outFc);
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    private static GroupProj loadGroupProjector(PrefixedWeights w, String name, int prevDim, int prevGroups,
                                                int groups, int dim) {
        if (w.has(name + ".0.weight")) {
            long hidden = w.dim(name + ".1.fc1.weight", 2, 0);
            return new GroupProj(Norm.load(w, name + ".0", prevDim, LAYER_NORM_EPS),
                    Mlp.load(w, name + ".1", prevGroups, hidden, groups), null, null);
        }
        // width change between stages: Sequential(Sequential(norm, MixerMlp), norm, Linear(no bias))
        long hidden = w.dim(name + ".0.1.fc1.weight", 2, 0);
        return new GroupProj(Norm.load(w, name + ".0.0", prevDim, LAYER_NORM_EPS),
                Mlp.load(w, name + ".0.1", prevGroups, hidden, groups), Norm.load(w, name + ".1", prevDim,
                LAYER_NORM_EPS), Dense.load(w, name + ".2", dim, prevDim, false));
    }

    private static GroupingBlock loadGroupingBlock(PrefixedWeights w, String p, StageConfig sc, int heads) {
        int d = sc.dim();
        long tokensHidden = w.dim(p + "mlp_inter.fc1.weight", 2, 0);
        String pre = p + "pre_assign_attn.";
        long preHidden = w.dim(pre + "mlp.fc1.weight", 2, 0);
        long chHidden = w.dim(p + "mlp_channels.fc1.weight", 2, 0);
        Norm reductionNorm = null;
        Dense reduction = null;
        if (sc.outDim() != d) {
            reductionNorm = Norm.load(w, p + "reduction.0", d, LAYER_NORM_EPS);
            reduction = Dense.load(w, p + "reduction.1", sc.outDim(), d, false);
        }
        return new GroupingBlock(Norm.load(w, p + "norm_tokens", d, LAYER_NORM_EPS),
                Mlp.load(w, p + "mlp_inter", sc.groupTokens(), tokensHidden, sc.outputGroups()),
                Norm.load(w, p + "norm_post_tokens", d, LAYER_NORM_EPS), Norm.load(w, p + "norm_x", d, LAYER_NORM_EPS),
                Attn.loadSeparate(w, pre + "attn", d, heads), Norm.load(w, pre + "norm2", d, LAYER_NORM_EPS),
                Mlp.load(w, pre + "mlp", d, preHidden, d), Norm.load(w, pre + "norm_post", d, LAYER_NORM_EPS),
                Attn.loadSeparate(w, p + "assign", d, 1), Norm.load(w, p + "norm_new_x", d, LAYER_NORM_EPS),
                Mlp.load(w, p + "mlp_channels", d, chHidden, sc.outDim()), reductionNorm, reduction);
    }

    public Config config() {
        return config;
    }

    @Override
    public String type() {
        return "group";
    }

    @Override
    public int inDim() {
        return config.inDim();
    }

    @Override
    public int outDim() {
        return config.outDim();
    }

    @Override
    public NDArray forward(NDArray x) {
        Result r = forwardDetailed(x);
        r.afterInFc().close();
        r.afterLayer().forEach(NDArray::close);
        r.assignments().forEach(a -> a.groupIndex().close());
        return r.output();
    }

    /** {@code [B, T, inDim]} (or {@code [T, inDim]}) → output and intermediates, in {@code x}'s manager. */
    public Result forwardDetailed(NDArray x) {
        InputProjectors.checkLastDim(x, inDim(), "group input projector");
        Shape xs = x.getShape();
        boolean unbatched = xs.dimension() == 2;
        if (xs.dimension() != 3 && !unbatched) {
            throw new dev.nextgpt.InvalidInputException("group input projector expects [B, T, " + inDim()
                    + "] patch tokens; got " + xs);
        }
        NDManager target = x.getManager();
        try (NDManager scratch = target.newSubManager()) {
            NDArray h = ProjectorOps.into(x, scratch);
            if (unbatched) {
                h = h.expandDims(0);
            }
            long batch = h.getShape().get(0);
            h = inFc.apply(h);
            NDArray afterInFc = h;
            List<NDArray> afterLayer = new ArrayList<>();
            List<Assignment> assignments = new ArrayList<>();
            NDArray prevGroupTokens = null;
            for (Stage st : stages) {
                NDArray gt = null;
                int g = st.config().groupTokens();
                if (g > 0) {
                    gt = scratch.zeros(new Shape(batch, g, st.config().dim())).add(st.groupToken());
                    if (st.groupProjector() != null) {
                        gt = gt.add(st.groupProjector().apply(prevGroupTokens));
                    }
                }
                NDArray z = gt == null ? h : h.concat(gt, 1);
                for (Block b : st.blocks()) {
                    z = b.apply(z);
                }
                long tokens = z.getShape().get(1) - g;
                h = g > 0 ? z.get(":, :" + tokens + ", :") : z;
                gt = g > 0 ? z.get(":, " + tokens + ":, :") : null;
                if (st.downsample() != null) {
                    h = st.downsample().apply(h, gt, assignments, target);
                }
                afterLayer.add(h);
                prevGroupTokens = gt;
            }
            NDArray output = outFc.apply(norm.apply(h));
            List<NDArray> kept = new ArrayList<>();
            for (NDArray a : afterLayer) {
                kept.add(ProjectorOps.keep(unbatched ? a.squeeze(0) : a, target));
            }
            return new Result(ProjectorOps.keep(unbatched ? afterInFc.squeeze(0) : afterInFc, target),
                    List.copyOf(kept), List.copyOf(assignments),
                    ProjectorOps.keep(unbatched ? output.squeeze(0) : output, target));
        }
    }

    @Override
    public void close() {
        manager.close();
    }
}
