package dev.nextgpt.runtime.zeroscope;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.UnsupportedConfigurationException;
import dev.nextgpt.runtime.config.JsonConfig;
import dev.nextgpt.runtime.diffusion.Layers;
import dev.nextgpt.runtime.diffusion.Layers.Conv2d;
import dev.nextgpt.runtime.diffusion.Layers.GroupNorm;
import dev.nextgpt.runtime.diffusion.ResnetBlock2D;
import dev.nextgpt.runtime.diffusion.Sampling.Downsample2D;
import dev.nextgpt.runtime.diffusion.Sampling.Upsample2D;
import dev.nextgpt.runtime.diffusion.TimestepEmbedding;
import dev.nextgpt.runtime.diffusion.Transformer2D;
import dev.nextgpt.runtime.diffusion.Weights;
import dev.nextgpt.runtime.io.Checkpoints;
import dev.nextgpt.runtime.io.TensorStore;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * diffusers {@code UNet3DConditionModel} (ModelScope text-to-video, Zeroscope): the video {@code (B, C, F, H, W)}
 * travels as a batch of {@code B·F} images (frame fastest) through the 2-D layers of the SD UNet (resnets, spatial
 * {@link Transformer2D} with text cross-attention, down/up samplers), interleaved with {@link TemporalConvLayer}s and
 * {@link TransformerTemporalModel}s that mix the frames of each pixel.
 *
 * <p>Order: time embedding → {@code repeat_interleave(F)} of the embedding and the text → conv_in →
 * {@code transformer_in} (8 heads of {@code attention_head_dim}) → down blocks (resnet → temp_conv [→ attention →
 * temp_attention] per layer) → mid block → up blocks (concatenated skips) → GroupNorm → SiLU → conv_out. In the
 * blocks, both the spatial and the temporal transformers use {@code C / attention_head_dim} heads of size
 * {@code attention_head_dim} (diffusers passes {@code (C // n, n)} as {@code (num_heads, head_dim)} to both; the
 * {@code num_attention_heads = attention_head_dim} quirk of the 2-D UNet is undone by that swap).
 */
public final class UNet3DConditionModel implements AutoCloseable {

    /** The {@code config.json} keys used by {@link UNet3DConditionModel}, per-block lists expanded. */
    public record Config(int inChannels, int outChannels, List<String> downBlockTypes, List<String> upBlockTypes,
                         int[] blockOutChannels, int layersPerBlock, int downsamplePadding,
                         double midBlockScaleFactor, String actFn, int normNumGroups, double normEps,
                         int crossAttentionDim, int[] attentionHeadDim, int transformerInHeadDim, boolean onlyCrossAttention,
                         int sampleSize) {

        /** Reads {@code config.json} (a file, or the folder holding it). */
        public static Config read(Path fileOrFolder) {
            Path f = Files.isDirectory(fileOrFolder) ? fileOrFolder.resolve("config.json") : fileOrFolder;
            return from(JsonConfig.read(f));
        }

        public static Config from(JsonConfig c) {
            List<String> down = c.getStringList("down_block_types", List.of("CrossAttnDownBlock3D",
                    "CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "DownBlock3D"));
            List<String> up = c.getStringList("up_block_types", List.of("UpBlock3D", "CrossAttnUpBlock3D",
                    "CrossAttnUpBlock3D", "CrossAttnUpBlock3D"));
            int[] boc = c.getIntArray("block_out_channels", new int[] {320, 640, 1280, 1280});
            int n = boc.length;
            if (down.size() != n || up.size() != n) {
                throw new ModelFormatException(c.source() + ": block_out_channels " + Arrays.toString(boc)
                        + ", down_block_types " + down + " and up_block_types " + up + " must have the same length");
            }
            for (String t : down) {
                if (!t.equals("CrossAttnDownBlock3D") && !t.equals("DownBlock3D")) {
                    throw new UnsupportedConfigurationException(c.source() + ": down block type '" + t
                            + "' is not supported (CrossAttnDownBlock3D, DownBlock3D)");
                }
            }
            for (String t : up) {
                if (!t.equals("CrossAttnUpBlock3D") && !t.equals("UpBlock3D")) {
                    throw new UnsupportedConfigurationException(c.source() + ": up block type '" + t
                            + "' is not supported (CrossAttnUpBlock3D, UpBlock3D)");
                }
            }
            if (c.has("num_attention_heads")) {
                // diffusers raises here too: the name would clash with the attention_head_dim quirk
                throw new UnsupportedConfigurationException(c.source()
                        + ": num_attention_heads is not supported by UNet3DConditionModel (use attention_head_dim)");
            }
            if (c.has("time_cond_proj_dim")) {
                throw new UnsupportedConfigurationException(c.source() + ": time_cond_proj_dim="
                        + c.json().get("time_cond_proj_dim") + " is not supported");
            }
            int[] headDim = c.getIntArray("attention_head_dim", new int[] {64});
            int[] perBlock = headDim.length == 1 ? filled(n, headDim[0]) : headDim;
            if (perBlock.length != n) {
                throw new ModelFormatException(c.source() + ": attention_head_dim has " + perBlock.length
                        + " entries but there are " + n + " blocks");
            }
            int[] cad = c.getIntArray("cross_attention_dim", new int[] {1024});
            int[] layers = c.getIntArray("layers_per_block", new int[] {2});
            if (cad.length != 1 || layers.length != 1) {
                throw new UnsupportedConfigurationException(c.source()
                        + ": per-block cross_attention_dim / layers_per_block lists are not supported by UNet3D");
            }
            if (!c.has("norm_num_groups")) {
                throw new UnsupportedConfigurationException(c.source()
                        + ": norm_num_groups=null (no output GroupNorm) is not supported");
            }
            return new Config(c.getInt("in_channels", 4), c.getInt("out_channels", 4), down, up, boc, layers[0],
                    c.getInt("downsample_padding", 1), c.getDouble("mid_block_scale_factor", 1),
                    c.getString("act_fn", "silu"), c.getInt("norm_num_groups", 32), c.getDouble("norm_eps", 1e-5),
                    cad[0], perBlock, headDim[0], c.getBoolean("only_cross_attention", false),
                    c.getInt("sample_size", 64));
        }

        private static int[] filled(int n, int v) {
            int[] a = new int[n];
            Arrays.fill(a, v);
            return a;
        }

        /** Number of up-samplings along the up path (every up block but the last). */
        public int numUpsamplers() {
            return upBlockTypes.size() - 1;
        }
    }

    /** One layer of a 3D block: resnet → temp_conv [→ spatial attention → temporal attention]. */
    private record Layer(ResnetBlock2D resnet, TemporalConvLayer tempConv, Transformer2D attention,
                         TransformerTemporalModel tempAttention) {
        NDArray forward(NDArray h, NDArray emb, NDArray context, int frames) {
            h = resnet.forward(h, emb);
            h = tempConv.forward(h, frames);
            if (attention != null) {
                h = attention.forward(h, context);
                h = tempAttention.forward(h, frames);
            }
            return h;
        }
    }

    private record DownBlock(Layer[] layers, Downsample2D downsampler) {
    }

    private record UpBlock(Layer[] layers, Upsample2D upsampler) {
    }

    private final Config config;
    private final NDManager manager;
    private final Conv2d convIn;
    private final TimestepEmbedding timeEmbedding;
    private final TransformerTemporalModel transformerIn;
    private final DownBlock[] downBlocks;
    /** Mid block: resnet, temp_conv, then (attention, temp_attention, resnet, temp_conv) per attention. */
    private final ResnetBlock2D midFirstResnet;
    private final TemporalConvLayer midFirstTempConv;
    private final Layer[] midLayers;
    private final UpBlock[] upBlocks;
    private final GroupNorm convNormOut;
    private final Conv2d convOut;

    /** Loads a UNet folder ({@code config.json} + weights). */
    public static UNet3DConditionModel load(Path folder) {
        return load(folder, NDManager.newBaseManager());
    }

    /** Loads a UNet folder; the model takes ownership of {@code manager} (closed with the model). */
    public static UNet3DConditionModel load(Path folder, NDManager manager) {
        if (!Files.isDirectory(folder)) {
            throw new InvalidInputException("UNet3D folder " + folder + " does not exist");
        }
        try (TensorStore store = Checkpoints.open(folder)) {
            return new UNet3DConditionModel(Config.read(folder), store, manager);
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /** Builds the model from {@code store}, loading every tensor into {@code manager} (owned by the model). */
    public UNet3DConditionModel(Config config, TensorStore store, NDManager manager) {
        this.config = config;
        this.manager = manager;
        Weights w = new Weights(store, manager);
        int groups = config.normNumGroups();
        double eps = config.normEps();
        String act = config.actFn();
        int[] boc = config.blockOutChannels();
        int n = boc.length;
        this.convIn = Conv2d.load(w, "conv_in", 1);
        if (convIn.inChannels() != config.inChannels()) {
            throw w.error("conv_in.weight", "takes " + convIn.inChannels() + " channels but in_channels is "
                    + config.inChannels());
        }
        this.timeEmbedding = new TimestepEmbedding(w.sub("time_embedding"), act, null);
        this.transformerIn = TransformerTemporalModel.load(store, "transformer_in.",
                TransformerTemporalModel.Config.of(8, config.transformerInHeadDim(), groups), manager);
        LayerFactory lf = new LayerFactory(store, w, groups, eps, act, config.onlyCrossAttention());

        this.downBlocks = new DownBlock[n];
        for (int i = 0; i < n; i++) {
            String p = "down_blocks." + i;
            boolean attn = config.downBlockTypes().get(i).equals("CrossAttnDownBlock3D");
            Layer[] layers = new Layer[config.layersPerBlock()];
            for (int j = 0; j < layers.length; j++) {
                layers[j] = lf.layer(p, j, attn ? config.attentionHeadDim()[i] : 0, boc[i], 1.0);
            }
            Downsample2D ds = w.hasModule(p + ".downsamplers.0")
                    ? new Downsample2D(w.sub(p + ".downsamplers.0"), config.downsamplePadding()) : null;
            downBlocks[i] = new DownBlock(layers, ds);
        }

        int midHeadDim = config.attentionHeadDim()[n - 1];
        int nAttn = Math.max(1, w.count("mid_block.attentions"));
        this.midFirstResnet = new ResnetBlock2D(w.sub("mid_block.resnets.0"), groups, eps, act, "default", false,
                config.midBlockScaleFactor());
        this.midFirstTempConv = TemporalConvLayer.load(store, "mid_block.temp_convs.0.", groups, 1e-5f, manager);
        this.midLayers = new Layer[nAttn];
        for (int j = 0; j < nAttn; j++) {
            String p = "mid_block.";
            midLayers[j] = new Layer(
                    new ResnetBlock2D(w.sub(p + "resnets." + (j + 1)), groups, eps, act, "default", false,
                            config.midBlockScaleFactor()),
                    TemporalConvLayer.load(store, p + "temp_convs." + (j + 1) + ".", groups, 1e-5f, manager),
                    lf.spatial(p + "attentions." + j, midHeadDim, boc[n - 1]),
                    lf.temporal(p + "temp_attentions." + j + ".", midHeadDim, boc[n - 1]));
        }

        this.upBlocks = new UpBlock[n];
        for (int i = 0; i < n; i++) {
            String p = "up_blocks." + i;
            int rev = n - 1 - i;
            boolean attn = config.upBlockTypes().get(i).equals("CrossAttnUpBlock3D");
            Layer[] layers = new Layer[config.layersPerBlock() + 1];
            for (int j = 0; j < layers.length; j++) {
                layers[j] = lf.layer(p, j, attn ? config.attentionHeadDim()[rev] : 0, boc[rev], 1.0);
            }
            Upsample2D us = w.hasModule(p + ".upsamplers.0") ? new Upsample2D(w.sub(p + ".upsamplers.0")) : null;
            upBlocks[i] = new UpBlock(layers, us);
        }
        this.convNormOut = GroupNorm.load(w, "conv_norm_out", groups, eps);
        this.convOut = Conv2d.load(w, "conv_out", 1);
    }

    /** Builds the resnet / temporal / attention layers of the blocks. */
    private record LayerFactory(TensorStore store, Weights w, int groups, double eps, String act,
                                boolean onlyCrossAttention) {
        Layer layer(String block, int j, int headDim, int channels, double outputScale) {
            ResnetBlock2D res = new ResnetBlock2D(w.sub(block + ".resnets." + j), groups, eps, act, "default", false,
                    outputScale);
            TemporalConvLayer tc = TemporalConvLayer.load(store, block + ".temp_convs." + j + ".", groups, 1e-5f,
                    w.manager());
            if (headDim == 0) {
                return new Layer(res, tc, null, null);
            }
            return new Layer(res, tc, spatial(block + ".attentions." + j, headDim, channels),
                    temporal(block + ".temp_attentions." + j + ".", headDim, channels));
        }

        /** Spatial transformer: {@code C / n} heads of size {@code n} (n = the block's attention_head_dim). */
        Transformer2D spatial(String prefix, int headDim, int channels) {
            checkDivisible(prefix, headDim, channels);
            return new Transformer2D(w.sub(prefix), channels / headDim, groups, onlyCrossAttention, null);
        }

        /** Temporal transformer: {@code C / n} heads of size {@code n}. */
        TransformerTemporalModel temporal(String prefix, int headDim, int channels) {
            checkDivisible(prefix, headDim, channels);
            return TransformerTemporalModel.load(store, prefix,
                    TransformerTemporalModel.Config.of(channels / headDim, headDim, groups), w.manager());
        }

        private void checkDivisible(String prefix, int headDim, int channels) {
            if (channels % headDim != 0) {
                throw new ModelFormatException(store.source() + ": " + prefix + " has " + channels
                        + " channels, not divisible by attention_head_dim " + headDim);
            }
        }
    }

    public Config config() {
        return config;
    }

    /**
     * Predicts the noise for a video latent.
     *
     * @param sample              (B, C, F, H, W)
     * @param timesteps           one value ([1] or 0-dim) or one per batch item ([B]), int or float
     * @param encoderHiddenStates (B, N, D) text embeddings
     * @return (B, out_channels, F, H, W), in the manager of {@code sample}
     */
    public NDArray forward(NDArray sample, NDArray timesteps, NDArray encoderHiddenStates) {
        Shape s = sample.getShape();
        if (s.dimension() != 5 || s.get(1) != config.inChannels()) {
            throw new InvalidInputException("UNet3D sample must be (B, " + config.inChannels()
                    + ", F, H, W) but is " + s);
        }
        long b = s.get(0);
        int frames = Math.toIntExact(s.get(2));
        if (encoderHiddenStates == null) {
            throw new InvalidInputException("UNet3D needs encoder_hidden_states (B, N, "
                    + config.crossAttentionDim() + ")");
        }
        Shape es = encoderHiddenStates.getShape();
        if (es.dimension() != 3 || es.get(0) != b || es.get(2) != config.crossAttentionDim()) {
            throw new InvalidInputException("encoder_hidden_states must be (" + b + ", N, "
                    + config.crossAttentionDim() + ") but is " + es);
        }
        NDArray t = broadcastTimesteps(timesteps, b);
        NDArray tProj = TimestepEmbedding.sinusoidal(t, config.blockOutChannels()[0], true, 0);
        NDArray emb = FrameLayout.repeatInterleave(timeEmbedding.forward(tProj), frames);
        NDArray context = FrameLayout.repeatInterleave(encoderHiddenStates, frames);

        NDArray h = convIn.forward(FrameLayout.videoToFrames(sample));
        h = transformerIn.forward(h, frames);
        List<NDArray> skips = new ArrayList<>();
        skips.add(h);
        for (DownBlock db : downBlocks) {
            for (Layer l : db.layers()) {
                h = l.forward(h, emb, context, frames);
                skips.add(h);
            }
            if (db.downsampler() != null) {
                h = db.downsampler().forward(h);
                skips.add(h);
            }
        }
        h = midFirstResnet.forward(h, emb);
        h = midFirstTempConv.forward(h, frames);
        for (Layer l : midLayers) {
            h = l.attention().forward(h, context);
            h = l.tempAttention().forward(h, frames);
            h = l.resnet().forward(h, emb);
            h = l.tempConv().forward(h, frames);
        }
        for (UpBlock ub : upBlocks) {
            for (Layer l : ub.layers()) {
                NDArray skip = skips.remove(skips.size() - 1);
                h = l.forward(h.concat(skip, 1), emb, context, frames);
            }
            if (ub.upsampler() != null) {
                // explicit size = the next skip's H, W (nearest x2 when the latent is a multiple of 2^ups)
                Shape next = skips.get(skips.size() - 1).getShape();
                h = ub.upsampler().forward(h, new long[] {next.get(2), next.get(3)});
            }
        }
        h = Layers.activation(config.actFn(), convNormOut.forward(h));
        h = convOut.forward(h);
        return FrameLayout.toVideo(h, frames);
    }

    private static NDArray broadcastTimesteps(NDArray t, long b) {
        long n = t.size();
        if (n == b) {
            return t.reshape(b);
        }
        if (n == 1) {
            return t.reshape(1).repeat(0, b);
        }
        throw new InvalidInputException("timestep must hold one value or one per batch item (" + b + ") but has "
                + t.getShape());
    }

    @Override
    public void close() {
        manager.close();
    }
}
