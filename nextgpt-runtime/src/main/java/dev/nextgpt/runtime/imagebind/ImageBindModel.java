package dev.nextgpt.runtime.imagebind;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.convolutional.Conv3d;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.UnsupportedConfigurationException;
import dev.nextgpt.runtime.io.Checkpoints;
import dev.nextgpt.runtime.io.TensorInfo;
import dev.nextgpt.runtime.io.TensorStore;
import dev.nextgpt.runtime.nn.NN;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * ImageBind ({@code imagebind.models.imagebind_model.ImageBindModel}) on DJL: per-modality stem, CLS token and
 * positional embedding, pre-norm transformer trunk ({@code nn.MultiheadAttention} semantics, optional
 * {@code add_bias_kv}), pooling head and normalising / logit-scaling postprocessor. One {@link #encode} call gives
 * the three embeddings NExT-GPT's code versions use (see {@link Encoding}). Weights keep the original state-dict
 * names ({@code imagebind_huge.pth} or a safetensors twin).
 *
 * <p>Multi-clip inputs (rank ≥ 5, {@code (B, S, ...)}) are encoded per clip (row {@code b*S+s}) and the
 * postprocessed vectors are averaged over clips without re-normalisation, as upstream.
 */
public final class ImageBindModel implements AutoCloseable {
    /** {@code PadIm2Video(ntimes=2)}: still images are repeated to this many frames (hard-coded upstream). */
    static final int PAD_FRAMES = 2;
    private static final float TRUNK_EPS = 1e-6f;
    private static final float HEAD_EPS = 1e-6f;
    private static final float STEM_EPS = 1e-5f;
    private static final float MAX_LOGIT_SCALE = 100f;

    private final ImageBindConfig config;
    private final NDManager manager;
    private final TensorStore store;
    private final Map<Modality, Branch> branches;

    private ImageBindModel(ImageBindConfig config, NDManager manager, TensorStore store,
                           Map<Modality, Branch> branches) {
        this.config = config;
        this.manager = manager;
        this.store = store;
        this.branches = Collections.unmodifiableMap(branches);
    }

    // ------------------------------------------------------------------------------------------------ loading

    /**
     * Loads every modality present in the checkpoint at {@code modelPath} (a folder with {@code config.json} and a
     * weight file, or a weight file). The config is {@link ImageBindConfig#forModel}.
     */
    public static ImageBindModel load(Path modelPath, NDManager parent) {
        return load(modelPath, ImageBindConfig.forModel(modelPath), parent, null);
    }

    /**
     * Loads the given modalities ({@code null}: every modality whose weights the checkpoint holds). F32 weights
     * are memory-mapped (CPU) and stay valid until {@link #close()}.
     */
    public static ImageBindModel load(Path modelPath, ImageBindConfig config, NDManager parent,
                                      Set<Modality> modalities) {
        return load(Checkpoints.open(modelPath), config, parent, modalities);
    }

    /**
     * Loads from an open store whose ImageBind names may carry any prefix (e.g. NExT-GPT's
     * {@code model.multimodal_tower.multimodal_tower.}); the model takes ownership of {@code store} and closes it.
     */
    public static ImageBindModel load(TensorStore store, ImageBindConfig config, NDManager parent,
                                      Set<Modality> modalities) {
        NDManager m = parent.newSubManager();
        try {
            String prefix = findPrefix(store);
            Set<Modality> wanted = modalities != null ? modalities : presentModalities(store, prefix);
            if (wanted.isEmpty()) {
                throw new ModelFormatException(store.source() + " holds no ImageBind modality weights "
                        + "(looked for '" + prefix + "modality_trunks.<modality>.*')");
            }
            Weights w = new StoreWeights(store, m, prefix);
            Map<Modality, Branch> b = new EnumMap<>(Modality.class);
            for (Modality mod : wanted) {
                b.put(mod, new Branch(mod, config, w, m));
            }
            return new ImageBindModel(config, m, store, b);
        } catch (RuntimeException e) {
            m.close();
            store.close();
            throw e;
        }
    }

    /**
     * A model with random weights (normal(0, 0.02); LayerNorms at 1/0; upstream logit scales) built in memory,
     * e.g. {@code random(ImageBindConfig.huge(), ...)} for benchmarks without a checkpoint.
     */
    public static ImageBindModel random(ImageBindConfig config, NDManager parent, Set<Modality> modalities,
                                       long seed) {
        NDManager m = parent.newSubManager();
        try {
            Engine.getInstance().setRandomSeed((int) seed);
            Weights w = new RandomWeights(m);
            Map<Modality, Branch> b = new EnumMap<>(Modality.class);
            for (Modality mod : modalities) {
                b.put(mod, new Branch(mod, config, w, m));
            }
            return new ImageBindModel(config, m, null, b);
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    private static String findPrefix(TensorStore store) {
        String marker = "modality_trunks.";
        for (String n : store.names()) {
            int i = n.indexOf(marker);
            if (i >= 0) {
                return n.substring(0, i);
            }
        }
        throw new ModelFormatException(store.source() + " is not an ImageBind checkpoint: no tensor name contains '"
                + marker + "' (" + store.names().size() + " tensors)");
    }

    private static Set<Modality> presentModalities(TensorStore store, String prefix) {
        Set<Modality> s = EnumSet.noneOf(Modality.class);
        for (Modality m : Modality.values()) {
            if (store.contains(prefix + "modality_trunks." + m.key() + ".blocks.0.attn.in_proj_weight")
                    || store.contains(prefix + "modality_heads." + m.key() + ".0.weight")
                    || store.contains(prefix + "modality_heads." + m.key() + ".proj.0.weight")) {
                s.add(m);
            }
        }
        return s;
    }

    public ImageBindConfig config() {
        return config;
    }

    /** The modalities this instance has weights for. */
    public Set<Modality> modalities() {
        return branches.keySet();
    }

    /** Number of learnable parameters of the loaded modalities (buffers such as the text mask excluded). */
    public long parameterCount() {
        long n = 0;
        for (Modality m : branches.keySet()) {
            n += config.parameterCount(m);
        }
        return n;
    }

    public ai.djl.Device device() {
        return manager.getDevice();
    }

    @Override
    public void close() {
        manager.close();
        if (store != null) {
            store.close();
        }
    }

    // ------------------------------------------------------------------------------------------------ forward

    /**
     * Everything one forward pass of a modality yields. Arrays belong to the input's manager. Rows of the
     * per-clip tensors ({@code B*S}) are B-major.
     *
     * @param imagebind        upstream {@code ImageBindModel.forward} output {@code (B, out)} (normalised, logit
     *                         scaled where upstream scales, clip-averaged)
     * @param imagebindPerClip the same before the clip mean {@code (B*S, out)}; null for single-clip inputs
     * @param nextgpt          NExT-GPT current output: patch tokens {@code (B, P, out)}, each normalised (scaled
     *                         except audio), clip-averaged; text {@code (B, 1, out)}
     * @param nextgptLegacy    NExT-GPT-Lagacy output {@code (B, out)}: as upstream but audio not scaled
     * @param headOutput       head output before normalisation {@code (B*S, out)}
     * @param trunkOutput      trunk output {@code (B*S, L, D)}
     * @param seqLen           text only: EOT positions used by the head {@code (B,)}; null otherwise
     */
    public record Encoding(Modality modality, NDArray imagebind, NDArray imagebindPerClip, NDArray nextgpt,
                           NDArray nextgptLegacy, NDArray headOutput, NDArray trunkOutput, NDArray seqLen) {
        /** Trunk output at token 0 (CLS; text: the first token), {@code (B*S, D)}. */
        public NDArray trunkOutputCls() {
            return trunkOutput.get(":, 0, :");
        }
    }

    /** Encodes one modality batch; see {@link #encode(Modality, NDArray, Map)}. */
    public Encoding encode(Modality modality, NDArray input) {
        return encode(modality, input, null);
    }

    /**
     * Encodes a batch of one modality. Accepted inputs: vision {@code (B,3,H,W)} images or {@code (B,S,3,T,H,W)}
     * clips; audio {@code (B,1,mel,frames)} or {@code (B,S,1,mel,frames)}; depth/thermal {@code (B,1,H,W)} or
     * {@code (B,S,1,H,W)}; IMU {@code (B,6,2000)}; text token ids {@code (B,77)}.
     *
     * @param debug if not null, receives the row-0 intermediates {@code stem_output} (patch tokens, no CLS),
     *              {@code trunk_input}, {@code pre_ln_output} (if any), {@code block<i>_output},
     *              {@code head_ln_output}, as {@code (L, D)} arrays (text head: {@code (D,)})
     */
    public Encoding encode(Modality modality, NDArray input, Map<String, NDArray> debug) {
        Branch br = branches.get(modality);
        if (br == null) {
            throw new UnsupportedConfigurationException("this ImageBind instance has no " + modality.key()
                    + " weights (loaded: " + branches.keySet() + ")");
        }
        NDManager out = input.getManager();
        try (NDManager scope = manager.newSubManager()) {
            NDArray x = input.toDevice(manager.getDevice(), true);
            x.attach(scope);
            Map<String, NDArray> dbg = debug == null ? null : new java.util.LinkedHashMap<>();
            Encoding e = br.forward(x, scope, dbg);
            List<NDArray> keep = new ArrayList<>(Arrays.asList(e.imagebind, e.imagebindPerClip, e.nextgpt,
                    e.nextgptLegacy, e.headOutput, e.trunkOutput, e.seqLen));
            if (dbg != null) {
                keep.addAll(dbg.values());
                debug.putAll(dbg);
            }
            for (NDArray a : keep) {
                if (a != null) {
                    a.attach(out);
                }
            }
            return e;
        }
    }

    // ------------------------------------------------------------------------------------------------ weights

    private enum Init { NORMAL, ONES, ZEROS, CAUSAL_MASK }

    /** Source of named weights with their expected shapes (a checkpoint or random init). */
    private interface Weights {
        NDArray get(String name, Init init, long... shape);

        boolean has(String name);

        float scalar(String name, float randomValue);
    }

    private static final class StoreWeights implements Weights {
        private final TensorStore store;
        private final NDManager manager;
        private final String prefix;

        StoreWeights(TensorStore store, NDManager manager, String prefix) {
            this.store = store;
            this.manager = manager;
            this.prefix = prefix;
        }

        @Override
        public NDArray get(String name, Init init, long... shape) {
            String full = prefix + name;
            if (!store.contains(full)) {
                throw new ModelFormatException(store.source() + ": ImageBind tensor '" + full + "' is missing");
            }
            TensorInfo info = store.info(full);
            if (!Arrays.equals(info.shape(), shape)) {
                throw new ModelFormatException(store.source() + ": tensor '" + full + "' has shape "
                        + Arrays.toString(info.shape()) + " but the config " + "expects " + Arrays.toString(shape)
                        + " (check config.json against the checkpoint)");
            }
            NDArray a = manager.getDevice().isGpu() ? store.load(manager, full) : store.loadShared(manager, full);
            return a.getDataType() == DataType.FLOAT32 ? a : a.toType(DataType.FLOAT32, false);
        }

        @Override
        public boolean has(String name) {
            return store.contains(prefix + name);
        }

        @Override
        public float scalar(String name, float randomValue) {
            String full = prefix + name;
            if (!store.contains(full)) {
                throw new ModelFormatException(store.source() + ": ImageBind tensor '" + full + "' is missing");
            }
            float[] v = store.readFloats(full);
            if (v.length != 1) {
                throw new ModelFormatException(store.source() + ": tensor '" + full + "' should be a scalar, has "
                        + v.length + " elements");
            }
            return v[0];
        }
    }

    private static final class RandomWeights implements Weights {
        private final NDManager manager;

        RandomWeights(NDManager manager) {
            this.manager = manager;
        }

        @Override
        public NDArray get(String name, Init init, long... shape) {
            Shape s = new Shape(shape);
            return switch (init) {
                case NORMAL -> manager.randomNormal(0f, 0.02f, s, DataType.FLOAT32);
                case ONES -> manager.ones(s);
                case ZEROS -> manager.zeros(s);
                case CAUSAL_MASK -> causalMask(manager, (int) shape[0]);
            };
        }

        @Override
        public boolean has(String name) {
            return false;
        }

        @Override
        public float scalar(String name, float randomValue) {
            return randomValue;
        }
    }

    /** Additive causal mask: 0 on and below the diagonal, -inf above ({@code build_causal_attention_mask}). */
    static NDArray causalMask(NDManager manager, int n) {
        float[] v = new float[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = i + 1; j < n; j++) {
                v[i * n + j] = Float.NEGATIVE_INFINITY;
            }
        }
        return manager.create(v, new Shape(n, n));
    }

    // ------------------------------------------------------------------------------------------------ network

    /** One transformer block; Linear weights are kept transposed ({@code [in, out]}) for {@code x·W}. */
    private static final class Block {
        final NDArray norm1W, norm1B, norm2W, norm2B;
        final NDArray inProjT, inProjB, outProjT, outProjB;
        final NDArray biasK, biasV;      // (1, H, 1, hd) or null
        final NDArray fc1T, fc1B, fc2T, fc2B;
        final NDArray gamma1, gamma2;    // layer scale or null
        final int heads;

        Block(Weights w, String p, ImageBindConfig.Trunk t) {
            long d = t.embedDim();
            long hidden = 4 * d;
            heads = t.numHeads();
            norm1W = w.get(p + "norm_1.weight", Init.ONES, d);
            norm1B = w.get(p + "norm_1.bias", Init.ZEROS, d);
            norm2W = w.get(p + "norm_2.weight", Init.ONES, d);
            norm2B = w.get(p + "norm_2.bias", Init.ZEROS, d);
            inProjT = w.get(p + "attn.in_proj_weight", Init.NORMAL, 3 * d, d).transpose();
            inProjB = w.get(p + "attn.in_proj_bias", Init.ZEROS, 3 * d);
            outProjT = w.get(p + "attn.out_proj.weight", Init.NORMAL, d, d).transpose();
            outProjB = w.get(p + "attn.out_proj.bias", Init.ZEROS, d);
            if (t.addBiasKv()) {
                biasK = w.get(p + "attn.bias_k", Init.NORMAL, 1, 1, d).reshape(1, heads, 1, d / heads);
                biasV = w.get(p + "attn.bias_v", Init.NORMAL, 1, 1, d).reshape(1, heads, 1, d / heads);
            } else {
                biasK = null;
                biasV = null;
            }
            fc1T = w.get(p + "mlp.fc1.weight", Init.NORMAL, hidden, d).transpose();
            fc1B = w.get(p + "mlp.fc1.bias", Init.ZEROS, hidden);
            fc2T = w.get(p + "mlp.fc2.weight", Init.NORMAL, d, hidden).transpose();
            fc2B = w.get(p + "mlp.fc2.bias", Init.ZEROS, d);
            // BlockWithMasking(layer_scale_type="per_channel") stores gammas; imagebind_huge has none.
            gamma1 = w.has(p + "layer_scale_gamma1") ? w.get(p + "layer_scale_gamma1", Init.ONES, 1, 1, d) : null;
            gamma2 = w.has(p + "layer_scale_gamma2") ? w.get(p + "layer_scale_gamma2", Init.ONES, 1, 1, d) : null;
        }

        /** {@code x + attn(norm_1(x)); x + mlp(norm_2(x))} on {@code (N, L, D)}. */
        NDArray forward(NDArray x, NDArray mask, NDManager scope) {
            NDArray a = attention(NN.layerNorm(x, norm1W, norm1B, TRUNK_EPS), mask, scope);
            x = x.add(gamma1 == null ? a : a.mul(gamma1));
            NDArray h = NN.layerNorm(x, norm2W, norm2B, TRUNK_EPS).matMul(fc1T).add(fc1B);
            h = NN.gelu(h).matMul(fc2T).add(fc2B);
            return x.add(gamma2 == null ? h : h.mul(gamma2));
        }

        /** {@code nn.MultiheadAttention(x, x, x, attn_mask=mask)} computed batch-first. */
        private NDArray attention(NDArray x, NDArray mask, NDManager scope) {
            Shape s = x.getShape();
            long n = s.get(0), l = s.get(1), d = s.get(2), hd = d / heads;
            NDArray qkv = x.matMul(inProjT).add(inProjB).reshape(n, l, 3, heads, hd).transpose(2, 0, 3, 1, 4);
            NDArray q = qkv.get(0).mul((float) (1.0 / Math.sqrt(hd)));
            NDArray k = qkv.get(1);
            NDArray v = qkv.get(2);
            if (biasK != null) {
                // add_bias_kv: one extra key/value position appended after the sequence, shared by the batch
                NDArray bk = biasK.broadcast(n, heads, 1, hd);
                NDArray bv = biasV.broadcast(n, heads, 1, hd);
                bk.attach(scope);
                bv.attach(scope);
                k = k.concat(bk, 2);
                v = v.concat(bv, 2);
                if (mask != null) {
                    mask = mask.concat(mask.get(":, :1").zerosLike(), 1);
                    mask.attach(scope);
                }
            }
            NDArray scores = q.matMul(k.transpose(0, 1, 3, 2));
            if (mask != null) {
                scores = scores.add(mask);
            }
            NDArray o = scores.softmax(-1).matMul(v).transpose(0, 2, 1, 3).reshape(n, l, d);
            return o.matMul(outProjT).add(outProjB);
        }
    }

    /** Preprocessor + trunk + head + postprocessor of one modality. */
    private static final class Branch {
        final Modality modality;
        final ImageBindConfig config;
        final ImageBindConfig.Trunk trunk;
        final NDArray stemWeight;            // conv weight, IMU linear weight (transposed), text token table
        final NDArray stemNormW, stemNormB;  // null for vision and text
        final NDArray clsToken, posEmbed, mask;
        final NDArray preLnW, preLnB;
        final List<Block> blocks = new ArrayList<>();
        final NDArray headNormW, headNormB, headProjT;
        final Float logitScale;              // null: no scaling (vision)

        Branch(Modality m, ImageBindConfig c, Weights w, NDManager manager) {
            this.modality = m;
            this.config = c;
            this.trunk = c.trunk(m);
            long d = trunk.embedDim();
            long tokens = c.numPatches(m) + (m == Modality.TEXT ? 0 : 1);
            String pre = "modality_preprocessors." + m.key() + ".";
            NDArray normW = null;
            NDArray normB = null;
            NDArray cls = null;
            NDArray maskBuf = null;
            switch (m) {
                case VISION -> {
                    int[] k = c.visionKernel();
                    stemWeight = w.get(pre + "rgbt_stem.proj.1.weight", Init.NORMAL, d, 3, k[0], k[1], k[2]);
                }
                case AUDIO -> stemWeight = w.get(pre + "rgbt_stem.proj.weight", Init.NORMAL, d, 1, c.audioKernel(),
                        c.audioKernel());
                case DEPTH -> stemWeight = w.get(pre + "depth_stem.proj.weight", Init.NORMAL, d, 1, c.depthKernel(),
                        c.depthKernel());
                case THERMAL -> stemWeight = w.get(pre + "rgbt_stem.proj.weight", Init.NORMAL, d, 1,
                        c.thermalKernel(), c.thermalKernel());
                case IMU -> stemWeight = w.get(pre + "imu_stem.proj.weight", Init.NORMAL, d,
                        (long) c.imuChannels() * c.imuKernel()).transpose();
                case TEXT -> {
                    stemWeight = w.get(pre + "token_embedding.weight", Init.NORMAL, c.textVocabSize(), d);
                    maskBuf = w.has(pre + "mask")
                            ? w.get(pre + "mask", Init.CAUSAL_MASK, c.textContextLength(), c.textContextLength())
                            : causalMask(manager, c.textContextLength());
                }
                default -> throw new IllegalStateException();
            }
            if (m != Modality.VISION && m != Modality.TEXT) {
                String stem = switch (m) {
                    case DEPTH -> "depth_stem";
                    case IMU -> "imu_stem";
                    default -> "rgbt_stem";
                };
                normW = w.get(pre + stem + ".norm_layer.weight", Init.ONES, d);
                normB = w.get(pre + stem + ".norm_layer.bias", Init.ZEROS, d);
            }
            if (m != Modality.TEXT) {
                cls = w.get(pre + "cls_token", Init.NORMAL, 1, 1, d);
            }
            String posName = switch (m) {
                case TEXT, IMU -> pre + "pos_embed";
                default -> pre + "pos_embedding_helper.pos_embed";
            };
            posEmbed = w.get(posName, Init.NORMAL, 1, tokens, d);
            stemNormW = normW;
            stemNormB = normB;
            clsToken = cls;
            mask = maskBuf;
            String tr = "modality_trunks." + m.key() + ".";
            if (trunk.preTransformerLn()) {
                preLnW = w.get(tr + "pre_transformer_layer.0.weight", Init.ONES, d);
                preLnB = w.get(tr + "pre_transformer_layer.0.bias", Init.ZEROS, d);
            } else {
                preLnW = null;
                preLnB = null;
            }
            for (int i = 0; i < trunk.numBlocks(); i++) {
                blocks.add(new Block(w, tr + "blocks." + i + ".", trunk));
            }
            String head = "modality_heads." + m.key() + ".";
            String lnName = m == Modality.TEXT ? head + "proj.0" : head + "0";
            String projName = switch (m) {
                case TEXT -> head + "proj.1.weight";
                case IMU -> head + "3.weight";
                default -> head + "2.weight";
            };
            headNormW = w.get(lnName + ".weight", Init.ONES, d);
            headNormB = w.get(lnName + ".bias", Init.ZEROS, d);
            headProjT = w.get(projName, Init.NORMAL, c.outEmbedDim(), d).transpose();
            float init = switch (m) {
                case TEXT -> (float) Math.log(1 / 0.07);
                case AUDIO -> (float) Math.log(20);
                case DEPTH, IMU -> (float) Math.log(5);
                case THERMAL -> (float) Math.log(10);
                case VISION -> 0f;
            };
            logitScale = m == Modality.VISION ? null : Math.min((float) Math.exp(
                    w.scalar("modality_postprocessors." + m.key() + ".1.log_logit_scale", init)), MAX_LOGIT_SCALE);
        }

        Encoding forward(NDArray input, NDManager scope, Map<String, NDArray> dbg) {
            long[] shape = input.getShape().getShape();
            int clipRank = switch (modality) {
                case VISION -> 4;  // (3,T,H,W) clips; images are (B,3,H,W)
                case AUDIO, DEPTH, THERMAL -> 3;
                default -> -1;
            };
            boolean multiClip = input.getShape().dimension() >= 5;
            long batch = shape[0];
            long clips = 1;
            NDArray x = input;
            if (multiClip) {
                if (clipRank < 0 || shape.length != clipRank + 2) {
                    throw new InvalidInputException(wrongShape(shape));
                }
                clips = shape[1];
                long[] flat = new long[shape.length - 1];
                flat[0] = batch * clips;
                System.arraycopy(shape, 2, flat, 1, shape.length - 2);
                x = x.reshape(flat);
            }
            NDArray ids = modality == Modality.TEXT ? textIds(x) : null;
            NDArray tokens = modality == Modality.TEXT ? embedText(ids, scope) : stem(toFloat(x), scope);
            if (dbg != null) {
                dbg.put("stem_output", tokens.get(0));
            }
            long n = tokens.getShape().get(0);
            long d = trunk.embedDim();
            if (clsToken != null) {
                NDArray cls = clsToken.broadcast(n, 1, d);
                cls.attach(scope);
                tokens = cls.concat(tokens, 1);
            }
            if (tokens.getShape().get(1) != posEmbed.getShape().get(1)) {
                throw new InvalidInputException(modality.key() + " input " + Arrays.toString(shape) + " gives "
                        + tokens.getShape().get(1) + " tokens but the positional embedding has "
                        + posEmbed.getShape().get(1) + " (input size differs from the configured one)");
            }
            x = tokens.add(posEmbed);
            if (dbg != null) {
                dbg.put("trunk_input", x.get(0));
            }
            if (preLnW != null) {
                x = NN.layerNorm(x, preLnW, preLnB, TRUNK_EPS);
                if (dbg != null) {
                    dbg.put("pre_ln_output", x.get(0));
                }
            }
            for (int i = 0; i < blocks.size(); i++) {
                // per-block scope: a block's intermediates are freed as soon as its output exists
                NDArray prev = x;
                try (NDManager blockScope = scope.newSubManager()) {
                    prev.tempAttach(blockScope);
                    x = blocks.get(i).forward(prev, mask, blockScope);
                    x.attach(scope);
                }
                if (dbg != null) {
                    dbg.put("block" + i + "_output", x.get(0));
                } else {
                    prev.close();
                }
            }
            NDArray trunkOut = x;
            NDArray headOut;
            NDArray patchOut = null;
            NDArray seqLen = null;
            if (modality == Modality.TEXT) {
                seqLen = ids.argMax(-1);
                NDArray index = seqLen.reshape(n, 1, 1).broadcast(n, 1, d);
                NDArray eos = trunkOut.gather(index, 1).reshape(n, d);
                NDArray ln = NN.layerNorm(eos, headNormW, headNormB, HEAD_EPS);
                if (dbg != null) {
                    dbg.put("head_ln_output", ln.get(0));
                }
                headOut = ln.matMul(headProjT);
            } else {
                NDArray ln = NN.layerNorm(trunkOut, headNormW, headNormB, HEAD_EPS);
                if (dbg != null) {
                    dbg.put("head_ln_output", ln.get(0));
                }
                headOut = ln.get(":, 0, :").matMul(headProjT);
                patchOut = ln.get(":, 1:, :").matMul(headProjT);
            }
            NDArray unit = normalize(headOut);
            NDArray perClip = logitScale == null ? unit : unit.mul(logitScale);
            NDArray legacyPerClip = modality == Modality.AUDIO ? unit : perClip;
            NDArray imagebind = clipMean(perClip, batch, clips);
            NDArray legacy = clipMean(legacyPerClip, batch, clips);
            NDArray nextgpt;
            if (patchOut == null) {
                nextgpt = imagebind.expandDims(1);
            } else {
                NDArray p = normalize(patchOut);
                if (logitScale != null && modality != Modality.AUDIO) {
                    p = p.mul(logitScale);
                }
                nextgpt = clipMean(p, batch, clips);
            }
            return new Encoding(modality, imagebind, multiClip ? perClip : null, nextgpt, legacy, headOut, trunkOut,
                    seqLen);
        }

        private String wrongShape(long[] shape) {
            String expected = switch (modality) {
                case VISION -> "(B,3,H,W) images or (B,S,3,T,H,W) video clips (a 5-D tensor is ambiguous: "
                        + "upstream reads it as (B,S,...))";
                case AUDIO -> "(B,1,mel,frames) or (B,S,1,mel,frames)";
                case DEPTH, THERMAL -> "(B,1,H,W) or (B,S,1,H,W)";
                case IMU -> "(B," + config.imuChannels() + "," + config.imuLength() + ")";
                case TEXT -> "(B," + config.textContextLength() + ") token ids";
            };
            return modality.key() + " input has shape " + Arrays.toString(shape) + "; expected " + expected;
        }

        private static NDArray toFloat(NDArray x) {
            return x.getDataType() == DataType.FLOAT32 ? x : x.toType(DataType.FLOAT32, false);
        }

        private NDArray textIds(NDArray x) {
            long[] s = x.getShape().getShape();
            if (s.length != 2 || s[1] != config.textContextLength()) {
                throw new InvalidInputException(wrongShape(s));
            }
            if (x.getDataType().isFloating()) {
                throw new InvalidInputException("text input must hold integer token ids, got " + x.getDataType());
            }
            NDArray ids = x.getDataType() == DataType.INT64 ? x : x.toType(DataType.INT64, false);
            long min = ids.min().getLong();
            long max = ids.max().getLong();
            if (min < 0 || max >= config.textVocabSize()) {
                throw new InvalidInputException("text token ids must lie in [0, " + config.textVocabSize()
                        + "), got range [" + min + ", " + max + "]");
            }
            return ids;
        }

        private NDArray embedText(NDArray ids, NDManager scope) {
            long n = ids.getShape().get(0);
            long d = trunk.embedDim();
            NDArray index = ids.reshape(n * ids.getShape().get(1), 1).broadcast(n * ids.getShape().get(1), d);
            NDArray e = stemWeight.gather(index, 0);
            e.attach(scope);
            return e.reshape(n, ids.getShape().get(1), d);
        }

        /** Patch embedding: conv (or IMU unfold + Linear), flatten to tokens, optional stem LayerNorm. */
        private NDArray stem(NDArray x, NDManager scope) {
            long[] s = x.getShape().getShape();
            long d = trunk.embedDim();
            NDArray t;
            switch (modality) {
                case VISION -> {
                    if (s.length == 4) {
                        x = x.expandDims(2);
                        s = x.getShape().getShape();
                    }
                    if (s.length != 5 || s[1] != 3 || s[3] != config.imageSize() || s[4] != config.imageSize()) {
                        throw new InvalidInputException(wrongShape(s) + ", H = W = " + config.imageSize());
                    }
                    if (s[2] == 1) {
                        x = x.repeat(2, PAD_FRAMES);
                    }
                    int[] k = config.visionKernel();
                    Shape ks = new Shape(k[0], k[1], k[2]);
                    t = Conv3d.conv3d(x, stemWeight, null, ks, new Shape(0, 0, 0), new Shape(1, 1, 1), 1)
                            .singletonOrThrow();
                }
                case AUDIO, DEPTH, THERMAL -> {
                    long h = modality == Modality.AUDIO ? config.audioMelBins() : config.imageSize();
                    long w = modality == Modality.AUDIO ? config.audioTargetLen() : config.imageSize();
                    if (s.length != 4 || s[1] != 1 || s[2] != h || s[3] != w) {
                        throw new InvalidInputException(wrongShape(s) + " with " + h + "x" + w + " planes");
                    }
                    int stride = switch (modality) {
                        case AUDIO -> config.audioStride();
                        case DEPTH -> config.depthKernel();
                        default -> config.thermalKernel();
                    };
                    t = Conv2d.conv2d(x, stemWeight, null, new Shape(stride, stride), new Shape(0, 0),
                            new Shape(1, 1), 1).singletonOrThrow();
                }
                case IMU -> {
                    int k = config.imuKernel();
                    if (s.length != 3 || s[1] != config.imuChannels() || s[2] != config.imuLength()) {
                        throw new InvalidInputException(wrongShape(s));
                    }
                    long patches = s[2] / k;
                    // unfold(-1, k, k) drops a trailing remainder; permute to (B, patches, C, k)
                    NDArray u = (s[2] % k == 0 ? x : x.get(":, :, :" + patches * k))
                            .reshape(s[0], s[1], patches, k).transpose(0, 2, 1, 3)
                            .reshape(s[0], patches, s[1] * k);
                    return NN.layerNorm(u.matMul(stemWeight), stemNormW, stemNormB, STEM_EPS);
                }
                default -> throw new IllegalStateException();
            }
            NDArray tokens = t.reshape(s[0], d, -1).transpose(0, 2, 1);
            return stemNormW == null ? tokens : NN.layerNorm(tokens, stemNormW, stemNormB, STEM_EPS);
        }

    }

    /** {@code F.normalize(x, dim=-1)}: {@code x / max(||x||, 1e-12)}. */
    static NDArray normalize(NDArray x) {
        return x.div(x.norm(new int[] {-1}, true).maximum(1e-12f));
    }

    /** Mean over clips of B-major {@code (B*S, ...)} rows; identity when {@code clips == 1}. */
    private static NDArray clipMean(NDArray x, long batch, long clips) {
        if (clips == 1) {
            return x;
        }
        long[] s = x.getShape().getShape();
        long[] split = new long[s.length + 1];
        split[0] = batch;
        split[1] = clips;
        System.arraycopy(s, 1, split, 2, s.length - 1);
        return x.reshape(split).mean(new int[] {1});
    }
}
