package dev.nextgpt.runtime.imagebind;

import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.config.JsonConfig;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Map;

/**
 * Architecture of an ImageBind model: the constructor arguments of the original {@code ImageBindModel} plus the
 * sizes its constructor hard-codes. {@link #huge()} is {@code imagebind_huge()} (the checkpoint NExT-GPT uses).
 *
 * @param outEmbedDim      width of the joint embedding space (1024 for huge)
 * @param trunks           per-modality trunk shape
 * @param videoFrames      frames per vision clip after {@code PadIm2Video} (pos-embed layout; 2 upstream)
 * @param visionKernel     Conv3d kernel = stride {@code (t, h, w)} of the vision stem
 * @param imageSize        vision/depth/thermal input height = width (224, hard-coded upstream)
 * @param audioKernel      audio Conv2d kernel size
 * @param audioStride      audio Conv2d stride
 * @param audioMelBins     audio input height (mel bins)
 * @param audioTargetLen   audio input width (frames)
 * @param depthKernel      depth Conv2d kernel = stride
 * @param thermalKernel    thermal Conv2d kernel = stride
 * @param imuKernel        IMU patch length (unfold size along time)
 * @param imuChannels      IMU input channels (6)
 * @param imuLength        IMU input length (2000)
 * @param textContextLength text tokens per row (77)
 * @param textVocabSize    text vocabulary size (49408)
 */
public record ImageBindConfig(int outEmbedDim, Map<Modality, Trunk> trunks, int videoFrames, int[] visionKernel,
                              int imageSize, int audioKernel, int audioStride, int audioMelBins, int audioTargetLen,
                              int depthKernel, int thermalKernel, int imuKernel, int imuChannels, int imuLength,
                              int textContextLength, int textVocabSize) {

    /**
     * Shape of one modality's transformer trunk.
     *
     * @param embedDim          token width
     * @param numBlocks         transformer blocks
     * @param numHeads          attention heads ({@code embedDim} must be divisible by it)
     * @param preTransformerLn  LayerNorm(eps 1e-6) before the blocks (vision only upstream)
     * @param addBiasKv         {@code nn.MultiheadAttention(add_bias_kv=True)} (audio, depth, thermal, IMU upstream)
     * @param dropPath          stochastic depth rate used in training (inactive at inference; informational)
     */
    public record Trunk(int embedDim, int numBlocks, int numHeads, boolean preTransformerLn, boolean addBiasKv,
                        double dropPath) {
        public Trunk {
            if (embedDim <= 0 || numBlocks < 0 || numHeads <= 0 || embedDim % numHeads != 0) {
                throw new ModelFormatException("invalid ImageBind trunk: embed_dim=" + embedDim + ", num_blocks="
                        + numBlocks + ", num_heads=" + numHeads + " (embed_dim must be a positive multiple of heads)");
            }
        }

        Trunk with(int embed, int blocks, int heads, double drop) {
            return new Trunk(embed, blocks, heads, preTransformerLn, addBiasKv, drop);
        }
    }

    public ImageBindConfig {
        trunks = Map.copyOf(new EnumMap<>(trunks));
        visionKernel = visionKernel.clone();
        for (Modality m : Modality.values()) {
            if (!trunks.containsKey(m)) {
                throw new ModelFormatException("ImageBind config has no trunk for modality " + m.key());
            }
        }
        if (visionKernel.length != 3) {
            throw new ModelFormatException("ImageBind kernel_size must have 3 entries (t, h, w), got "
                    + visionKernel.length);
        }
    }

    @Override
    public int[] visionKernel() {
        return visionKernel.clone();
    }

    public Trunk trunk(Modality m) {
        return trunks.get(m);
    }

    /** The defaults of the original {@code ImageBindModel.__init__} (not the huge model). */
    public static ImageBindConfig constructorDefaults() {
        Map<Modality, Trunk> t = new EnumMap<>(Modality.class);
        t.put(Modality.VISION, new Trunk(1024, 24, 16, true, false, 0.0));
        t.put(Modality.TEXT, new Trunk(768, 12, 12, false, false, 0.0));
        t.put(Modality.AUDIO, new Trunk(768, 12, 12, false, true, 0.1));
        t.put(Modality.DEPTH, new Trunk(384, 12, 8, false, true, 0.0));
        t.put(Modality.THERMAL, new Trunk(768, 12, 12, false, true, 0.0));
        t.put(Modality.IMU, new Trunk(512, 6, 8, false, true, 0.7));
        return new ImageBindConfig(768, t, 2, new int[] {2, 14, 14}, 224, 16, 10, 128, 204, 16, 16, 8, 6, 2000,
                77, 49408);
    }

    /** {@code imagebind_huge()}: vision 1280x32 (16 heads), text 1024x24 (16 heads), out 1024; 1.2B parameters. */
    public static ImageBindConfig huge() {
        ImageBindConfig d = constructorDefaults();
        Map<Modality, Trunk> t = new EnumMap<>(d.trunks());
        t.put(Modality.VISION, d.trunk(Modality.VISION).with(1280, 32, 16, 0.0));
        t.put(Modality.TEXT, d.trunk(Modality.TEXT).with(1024, 24, 16, 0.0));
        return d.withTrunks(1024, t);
    }

    private ImageBindConfig withTrunks(int out, Map<Modality, Trunk> t) {
        return new ImageBindConfig(out, t, videoFrames, visionKernel, imageSize, audioKernel, audioStride,
                audioMelBins, audioTargetLen, depthKernel, thermalKernel, imuKernel, imuChannels, imuLength,
                textContextLength, textVocabSize);
    }

    /**
     * The config of a model folder: {@code config.json} if present (see {@link #fromJson}), otherwise
     * {@link #huge()}.
     */
    public static ImageBindConfig forModel(Path modelPath) {
        Path dir = Files.isDirectory(modelPath) ? modelPath : modelPath.toAbsolutePath().getParent();
        Path cfg = dir == null ? null : dir.resolve("config.json");
        return cfg != null && Files.isRegularFile(cfg) ? fromJson(JsonConfig.read(cfg)) : huge();
    }

    /**
     * Parses a config. Two layouts are accepted: (a) {@code {"constructor_kwargs": {...},
     * "constructor_defaults_used": {...}}} — the {@code ImageBindModel(**kwargs)} arguments, unspecified ones
     * taking the constructor defaults; (b) the same keyword names ({@code vision_embed_dim}, ...) at the top level,
     * unspecified ones taking the {@code imagebind_huge} values. Optional keys for the sizes the constructor
     * hard-codes: {@code image_size}, {@code imu_channels}, {@code imu_length}, {@code text_context_length},
     * {@code text_vocab_size}.
     */
    public static ImageBindConfig fromJson(JsonConfig json) {
        ImageBindConfig base;
        if (json.has("constructor_kwargs")) {
            base = constructorDefaults();
            JsonConfig used = json.optObject("constructor_defaults_used").orElse(null);
            if (used != null) {
                base = base.apply(used);
            }
            return base.apply(json.optObject("constructor_kwargs").orElseThrow());
        }
        return huge().apply(json);
    }

    private ImageBindConfig apply(JsonConfig j) {
        Map<Modality, Trunk> t = new EnumMap<>(trunks);
        for (Modality m : Modality.values()) {
            Trunk old = t.get(m);
            String p = m.key() + "_";
            t.put(m, old.with(j.getInt(p + "embed_dim", old.embedDim()), j.getInt(p + "num_blocks", old.numBlocks()),
                    j.getInt(p + "num_heads", old.numHeads()), j.getDouble(p + "drop_path", old.dropPath())));
        }
        int[] kernel = j.getIntArray("kernel_size", visionKernel);
        return new ImageBindConfig(j.getInt("out_embed_dim", outEmbedDim), t, j.getInt("video_frames", videoFrames),
                kernel, j.getInt("image_size", imageSize), j.getInt("audio_kernel_size", audioKernel),
                j.getInt("audio_stride", audioStride), j.getInt("audio_num_mel_bins", audioMelBins),
                j.getInt("audio_target_len", audioTargetLen), j.getInt("depth_kernel_size", depthKernel),
                j.getInt("thermal_kernel_size", thermalKernel), j.getInt("imu_kernel_size", imuKernel),
                j.getInt("imu_channels", imuChannels), j.getInt("imu_length", imuLength),
                j.getInt("text_context_length", textContextLength), j.getInt("text_vocab_size", textVocabSize));
    }

    /** Number of patch tokens (without CLS) the stem of {@code m} produces. */
    public int numPatches(Modality m) {
        return switch (m) {
            case VISION -> (videoFrames / visionKernel[0]) * (imageSize / visionKernel[1])
                    * (imageSize / visionKernel[2]);
            case AUDIO -> ((audioMelBins - audioKernel) / audioStride + 1)
                    * ((audioTargetLen - audioKernel) / audioStride + 1);
            case DEPTH -> (imageSize / depthKernel) * (imageSize / depthKernel);
            case THERMAL -> (imageSize / thermalKernel) * (imageSize / thermalKernel);
            case IMU -> imuLength / imuKernel;
            case TEXT -> textContextLength;
        };
    }

    /**
     * Learnable parameters of one modality (as {@code sum(p.numel() for p in module.parameters())}; buffers such
     * as the text mask and the fixed logit scales of audio/depth/thermal/IMU excluded).
     */
    public long parameterCount(Modality m) {
        Trunk t = trunk(m);
        long d = t.embedDim();
        long stem = switch (m) {
            case VISION -> 3L * visionKernel[0] * visionKernel[1] * visionKernel[2] * d;
            case AUDIO -> (long) audioKernel * audioKernel * d + 2 * d;
            case DEPTH -> (long) depthKernel * depthKernel * d + 2 * d;
            case THERMAL -> (long) thermalKernel * thermalKernel * d + 2 * d;
            case IMU -> (long) imuChannels * imuKernel * d + 2 * d;
            case TEXT -> (long) textVocabSize * d;
        };
        long tokens = numPatches(m) + (m == Modality.TEXT ? 0 : 1);
        long n = stem + tokens * d + (m == Modality.TEXT ? 0 : d) + (t.preTransformerLn() ? 2 * d : 0);
        long block = 12 * d * d + 13 * d + (t.addBiasKv() ? 2 * d : 0);
        n += t.numBlocks() * block;
        n += 2 * d + d * outEmbedDim;
        return n + (m == Modality.TEXT ? 1 : 0);
    }

    /** Learnable parameters of the whole model. */
    public long parameterCount() {
        long n = 0;
        for (Modality m : Modality.values()) {
            n += parameterCount(m);
        }
        return n;
    }

    /**
     * Elements of the whole state dict: {@link #parameterCount()} plus the buffers (text causal mask and the four
     * fixed log logit scales).
     */
    public long stateDictElementCount() {
        return parameterCount() + (long) textContextLength * textContextLength + 4;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("ImageBindConfig[out=").append(outEmbedDim);
        for (Modality m : Modality.values()) {
            Trunk tr = trunks.get(m);
            sb.append(", ").append(m.key()).append('=').append(tr.embedDim()).append('x').append(tr.numBlocks())
                    .append('/').append(tr.numHeads());
        }
        return sb.append(']').toString();
    }
}
