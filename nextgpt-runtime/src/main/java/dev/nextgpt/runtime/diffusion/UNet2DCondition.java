package dev.nextgpt.runtime.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.UnsupportedConfigurationException;
import dev.nextgpt.runtime.diffusion.Layers.Conv2d;
import dev.nextgpt.runtime.diffusion.Layers.GroupNorm;
import dev.nextgpt.runtime.diffusion.Layers.Linear;
import dev.nextgpt.runtime.diffusion.Sampling.Downsample2D;
import dev.nextgpt.runtime.diffusion.Sampling.Upsample2D;
import dev.nextgpt.runtime.io.Checkpoints;
import dev.nextgpt.runtime.io.TensorStore;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * diffusers {@code UNet2DConditionModel} (Stable Diffusion 1.x / 2.x, AudioLDM): sinusoidal timestep embedding
 * and MLP, optional class embedding (added or concatenated), down blocks (resnets, optional Transformer2D
 * cross-attention, strided-conv downsampler) collecting skip states, mid block, up blocks concatenating the skips,
 * GroupNorm → SiLU → conv_out. Built from the folder's {@code config.json}; tensor shapes come from the checkpoint.
 */
public final class UNet2DCondition implements AutoCloseable {
    private final UNet2DConditionConfig config;
    private final NDManager manager;
    private final Conv2d convIn;
    private final TimestepEmbedding timeEmbedding;
    private final Object classEmbedding; // Linear (simple_projection), TimestepEmbedding (projection/timestep), NDArray (table)
    private final DownBlock[] downBlocks;
    private final MidBlock midBlock;
    private final UpBlock[] upBlocks;
    private final GroupNorm convNormOut;
    private final Conv2d convOut;
    private final int timeProjDim;

    /** Loads a UNet folder ({@code config.json} + weights) onto the default device. */
    public static UNet2DCondition load(Path folder) {
        return load(folder, NDManager.newBaseManager());
    }

    /** Loads a UNet folder; the model takes ownership of {@code manager} (closed with the model). */
    public static UNet2DCondition load(Path folder, NDManager manager) {
        if (!Files.isDirectory(folder)) {
            throw new InvalidInputException("UNet folder " + folder + " does not exist");
        }
        UNet2DConditionConfig cfg = UNet2DConditionConfig.read(folder);
        try (TensorStore store = Checkpoints.open(folder)) {
            return new UNet2DCondition(cfg, new Weights(store, manager));
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    public UNet2DCondition(UNet2DConditionConfig config, Weights w) {
        this.config = config;
        this.manager = w.manager();
        int groups = config.normNumGroups() == null ? 32 : config.normNumGroups();
        double eps = config.normEps();
        String act = config.actFn();
        this.convIn = Conv2d.load(w, "conv_in", 1);
        this.timeProjDim = config.blockOutChannels()[0];
        this.timeEmbedding = new TimestepEmbedding(w.sub("time_embedding"), act, config.timestepPostAct());
        this.classEmbedding = loadClassEmbedding(config, w, act);
        int n = config.blockOutChannels().length;
        ResnetFactory rf = (rw, scale) -> new ResnetBlock2D(rw, groups, eps, act, config.resnetTimeScaleShift(),
                config.resnetSkipTimeAct(), scale);
        this.downBlocks = new DownBlock[n];
        for (int i = 0; i < n; i++) {
            Weights bw = w.sub("down_blocks." + i);
            boolean attn = config.downBlockTypes().get(i).equals("CrossAttnDownBlock2D");
            int layers = config.layersPerBlock()[i];
            ResnetBlock2D[] res = new ResnetBlock2D[layers];
            Transformer2D[] at = attn ? new Transformer2D[layers] : null;
            for (int j = 0; j < layers; j++) {
                res[j] = rf.make(bw.sub("resnets." + j), config.resnetOutScaleFactor());
                if (attn) {
                    at[j] = new Transformer2D(bw.sub("attentions." + j), config.heads()[i], groups,
                            config.onlyCrossAttention()[i], null);
                }
            }
            Downsample2D ds = bw.hasModule("downsamplers.0")
                    ? new Downsample2D(bw.sub("downsamplers.0"), config.downsamplePadding()) : null;
            downBlocks[i] = new DownBlock(res, at, ds);
        }
        if (config.midBlockType() != null) {
            Weights mw = w.sub("mid_block");
            boolean attn = config.midBlockType().equals("UNetMidBlock2DCrossAttn");
            int nAttn = attn ? Math.max(1, mw.count("attentions")) : 0;
            ResnetBlock2D[] res = new ResnetBlock2D[nAttn + 1];
            Transformer2D[] at = new Transformer2D[nAttn];
            for (int j = 0; j <= nAttn; j++) {
                res[j] = rf.make(mw.sub("resnets." + j), config.midBlockScaleFactor());
            }
            for (int j = 0; j < nAttn; j++) {
                at[j] = new Transformer2D(mw.sub("attentions." + j), config.heads()[n - 1], groups,
                        config.midBlockOnlyCrossAttention(), null);
            }
            this.midBlock = new MidBlock(res, at);
        } else {
            this.midBlock = null;
        }
        this.upBlocks = new UpBlock[n];
        for (int i = 0; i < n; i++) {
            Weights bw = w.sub("up_blocks." + i);
            int rev = n - 1 - i;
            boolean attn = config.upBlockTypes().get(i).equals("CrossAttnUpBlock2D");
            int layers = config.layersPerBlock()[rev] + 1;
            ResnetBlock2D[] res = new ResnetBlock2D[layers];
            Transformer2D[] at = attn ? new Transformer2D[layers] : null;
            for (int j = 0; j < layers; j++) {
                res[j] = rf.make(bw.sub("resnets." + j), config.resnetOutScaleFactor());
                if (attn) {
                    at[j] = new Transformer2D(bw.sub("attentions." + j), config.heads()[rev], groups,
                            config.onlyCrossAttention()[rev], null);
                }
            }
            Upsample2D us = bw.hasModule("upsamplers.0") ? new Upsample2D(bw.sub("upsamplers.0")) : null;
            upBlocks[i] = new UpBlock(res, at, us);
        }
        this.convNormOut = config.normNumGroups() != null ? GroupNorm.load(w, "conv_norm_out", groups, eps) : null;
        this.convOut = Conv2d.load(w, "conv_out", 1);
    }

    private static Object loadClassEmbedding(UNet2DConditionConfig c, Weights w, String act) {
        String type = c.classEmbedType();
        if (type == null) {
            if (c.numClassEmbeds() != null) {
                return w.get("class_embedding.weight");
            }
            return null;
        }
        return switch (type) {
            case "simple_projection" -> Linear.load(w, "class_embedding");
            case "projection", "timestep" -> new TimestepEmbedding(w.sub("class_embedding"), act, null);
            case "identity" -> "identity";
            default -> throw new UnsupportedConfigurationException("class_embed_type '" + type
                    + "' is not supported (simple_projection, projection, timestep, identity, or num_class_embeds)");
        };
    }

    public UNet2DConditionConfig config() {
        return config;
    }

    /** Whether the model needs {@code class_labels}. */
    public boolean needsClassLabels() {
        return classEmbedding != null;
    }

    /**
     * Predicts noise (or v) for {@code sample}.
     *
     * @param sample               [B, C, H, W]
     * @param timesteps            [B] or a single value ([1] or 0-dim), int or float
     * @param encoderHiddenStates  [B, N, D] or null (no cross-attention context: attn2 attends to the sample)
     * @param classLabels          [B, ...] class conditioning, or null when the config has no class embedding
     */
    public NDArray forward(NDArray sample, NDArray timesteps, NDArray encoderHiddenStates, NDArray classLabels) {
        return forward(sample, timesteps, encoderHiddenStates, classLabels, null);
    }

    /** {@link #forward} recording intermediate activations under diffusers-like names into {@code trace}. */
    public NDArray forward(NDArray sample, NDArray timesteps, NDArray encoderHiddenStates, NDArray classLabels,
                           Map<String, NDArray> trace) {
        Shape s = sample.getShape();
        if (s.dimension() != 4 || s.get(1) != convIn.inChannels()) {
            throw new InvalidInputException("UNet sample must be [B, " + convIn.inChannels() + ", H, W] but is " + s);
        }
        long b = s.get(0);
        if (encoderHiddenStates != null && encoderHiddenStates.getShape().get(0) != b) {
            throw new InvalidInputException("encoder_hidden_states batch " + encoderHiddenStates.getShape()
                    + " does not match the sample batch " + s);
        }
        NDArray t = broadcastTimesteps(timesteps, b);
        NDArray x = config.centerInputSample() ? sample.mul(2f).sub(1f) : sample;
        NDArray tProj = TimestepEmbedding.sinusoidal(t, timeProjDim, config.flipSinToCos(), config.freqShift());
        record(trace, "time_proj", tProj);
        NDArray emb = timeEmbedding.forward(tProj);
        record(trace, "time_embedding", emb);
        if (classEmbedding != null) {
            if (classLabels == null) {
                throw new InvalidInputException("class_labels are required by this UNet (class_embed_type="
                        + config.classEmbedType() + ")");
            }
            NDArray ce = classEmbed(classLabels.toType(DataType.FLOAT32, false), b);
            emb = config.classEmbeddingsConcat() ? emb.concat(ce, -1) : emb.add(ce);
        }
        if (config.timeEmbeddingActFn() != null) {
            emb = Layers.activation(config.timeEmbeddingActFn(), emb);
        }
        NDArray h = convIn.forward(x);
        record(trace, "conv_in", h);
        List<NDArray> skips = new ArrayList<>();
        skips.add(h);
        for (int i = 0; i < downBlocks.length; i++) {
            h = downBlocks[i].forward(h, emb, encoderHiddenStates, skips);
            record(trace, "down_block_" + i, h);
        }
        if (midBlock != null) {
            h = midBlock.forward(h, emb, encoderHiddenStates);
            record(trace, "mid_block", h);
        }
        for (int i = 0; i < upBlocks.length; i++) {
            UpBlock ub = upBlocks[i];
            int take = ub.resnets.length;
            List<NDArray> mine = new ArrayList<>(skips.subList(skips.size() - take, skips.size()));
            skips.subList(skips.size() - take, skips.size()).clear();
            long[] upSize = null;
            if (ub.upsampler != null && !skips.isEmpty()) {
                Shape next = skips.get(skips.size() - 1).getShape();
                upSize = new long[] {next.get(2), next.get(3)};
            }
            h = ub.forward(h, emb, encoderHiddenStates, mine, upSize);
            record(trace, "up_block_" + i, h);
        }
        if (convNormOut != null) {
            h = convNormOut.forward(h);
            record(trace, "conv_norm_out", h);
            h = Layers.activation(config.actFn(), h);
        }
        return convOut.forward(h);
    }

    private NDArray classEmbed(NDArray labels, long b) {
        if (labels.getShape().get(0) != b) {
            throw new InvalidInputException("class_labels " + labels.getShape() + " do not match the batch " + b);
        }
        if (classEmbedding instanceof Linear l) {
            return l.forward(labels.reshape(b, -1));
        }
        if (classEmbedding instanceof TimestepEmbedding te) {
            NDArray in = "timestep".equals(config.classEmbedType())
                    ? TimestepEmbedding.sinusoidal(labels.reshape(b), timeProjDim, config.flipSinToCos(),
                    config.freqShift())
                    : labels.reshape(b, -1);
            return te.forward(in);
        }
        if (classEmbedding instanceof NDArray table) {
            NDArray idx = labels.reshape(b).toType(DataType.INT64, false);
            NDArray r = ai.djl.nn.core.Embedding.embedding(idx, table, ai.djl.ndarray.types.SparseFormat.DENSE)
                    .singletonOrThrow();
            if (r.getManager() != idx.getManager()) {
                r.attach(idx.getManager());
            }
            return r;
        }
        return labels.reshape(b, -1); // identity
    }

    private static NDArray broadcastTimesteps(NDArray t, long b) {
        long n = t.size();
        if (n == b) {
            return t.reshape(b);
        }
        if (n == 1) {
            return t.reshape(1).repeat(0, b);
        }
        throw new InvalidInputException("timestep must hold one value or one per batch element (" + b + ") but has "
                + t.getShape());
    }

    private static void record(Map<String, NDArray> trace, String name, NDArray a) {
        if (trace != null) {
            trace.put(name, a);
        }
    }

    @Override
    public void close() {
        manager.close();
    }

    private interface ResnetFactory {
        ResnetBlock2D make(Weights w, double outputScale);
    }

    /** CrossAttnDownBlock2D (with attentions) or DownBlock2D. */
    static final class DownBlock {
        final ResnetBlock2D[] resnets;
        final Transformer2D[] attentions;
        final Downsample2D downsampler;

        DownBlock(ResnetBlock2D[] resnets, Transformer2D[] attentions, Downsample2D downsampler) {
            this.resnets = resnets;
            this.attentions = attentions;
            this.downsampler = downsampler;
        }

        NDArray forward(NDArray h, NDArray temb, NDArray context, List<NDArray> skips) {
            for (int j = 0; j < resnets.length; j++) {
                h = resnets[j].forward(h, temb);
                if (attentions != null) {
                    h = attentions[j].forward(h, context);
                }
                skips.add(h);
            }
            if (downsampler != null) {
                h = downsampler.forward(h);
                skips.add(h);
            }
            return h;
        }
    }

    /** UNetMidBlock2DCrossAttn (resnet, then attention + resnet pairs) or UNetMidBlock2D without attention. */
    static final class MidBlock {
        final ResnetBlock2D[] resnets;
        final Transformer2D[] attentions;

        MidBlock(ResnetBlock2D[] resnets, Transformer2D[] attentions) {
            this.resnets = resnets;
            this.attentions = attentions;
        }

        NDArray forward(NDArray h, NDArray temb, NDArray context) {
            h = resnets[0].forward(h, temb);
            for (int j = 0; j < attentions.length; j++) {
                h = attentions[j].forward(h, context);
                h = resnets[j + 1].forward(h, temb);
            }
            return h;
        }
    }

    /** CrossAttnUpBlock2D (with attentions) or UpBlock2D: each resnet takes cat([h, skip]) (skips popped last-first). */
    static final class UpBlock {
        final ResnetBlock2D[] resnets;
        final Transformer2D[] attentions;
        final Upsample2D upsampler;

        UpBlock(ResnetBlock2D[] resnets, Transformer2D[] attentions, Upsample2D upsampler) {
            this.resnets = resnets;
            this.attentions = attentions;
            this.upsampler = upsampler;
        }

        NDArray forward(NDArray h, NDArray temb, NDArray context, List<NDArray> skips, long[] upSize) {
            for (int j = 0; j < resnets.length; j++) {
                NDArray skip = skips.get(skips.size() - 1 - j);
                h = resnets[j].forward(h.concat(skip, 1), temb);
                if (attentions != null) {
                    h = attentions[j].forward(h, context);
                }
            }
            if (upsampler != null) {
                h = upsampler.forward(h, upSize);
            }
            return h;
        }
    }
}
