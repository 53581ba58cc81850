package dev.nextgpt.runtime.chat;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.clip.ClipBpeTokenizer;
import dev.nextgpt.runtime.cliptext.ClipTextConfig;
import dev.nextgpt.runtime.cliptext.ClipTextModel;
import dev.nextgpt.runtime.config.JsonConfig;
import dev.nextgpt.runtime.diffusion.AutoencoderKL;
import dev.nextgpt.runtime.diffusion.AutoencoderKLConfig;
import dev.nextgpt.runtime.diffusion.UNet2DCondition;
import dev.nextgpt.runtime.diffusion.UNet2DConditionConfig;
import dev.nextgpt.runtime.diffusion.Weights;
import dev.nextgpt.runtime.diffusion.scheduler.SchedulerConfig;
import dev.nextgpt.runtime.imagebind.ImageBindConfig;
import dev.nextgpt.runtime.imagebind.ImageBindModel;
import dev.nextgpt.runtime.llm.LlamaConfig;
import dev.nextgpt.runtime.llm.LlamaModel;
import dev.nextgpt.runtime.llm.LlamaTokenizer;
import dev.nextgpt.runtime.io.SafetensorsWriter;
import dev.nextgpt.runtime.nextgpt.AudioDiffusionDecoder;
import dev.nextgpt.runtime.nextgpt.InMemoryTensorStore;
import dev.nextgpt.runtime.nextgpt.LegacyNextGpt;
import dev.nextgpt.runtime.nextgpt.LegacySettings;
import dev.nextgpt.runtime.nextgpt.Modality;
import dev.nextgpt.runtime.nextgpt.ModalityDecoder;
import dev.nextgpt.runtime.nextgpt.ParameterAudit;
import dev.nextgpt.runtime.nextgpt.StableDiffusionDecoder;
import dev.nextgpt.runtime.nextgpt.TransformerOutputProjector;
import dev.nextgpt.runtime.nextgpt.VideoDiffusionDecoder;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The embedded demo NExT-GPT: the legacy architecture (LLaMA + LoRA-free delta embeddings, ImageBind vision/audio,
 * {@code llama_proj}, three TextFcLayers, a Stable Diffusion image decoder with its CLIP text encoder) at toy size,
 * with deterministic random weights drawn from a seed. Only small classpath resources are read
 * ({@code dev/nextgpt/demo/}: sizes, the tokenizer with the 38 legacy tokens, the SD configs and tensor-name
 * manifests; {@code video/}: a Zeroscope-style UNet3D + VAE + CLIP text encoder; {@code audio/}: an AudioLDM-style
 * UNet2D with class embedding + mel VAE + HiFi-GAN + CLAP text encoder). The outputs are meaningless: media are
 * noise.
 */
public final class DemoModel {
    private static final String BASE = "/dev/nextgpt/demo/";

    private DemoModel() {
    }

    /** Builds the demo system with weights drawn from {@code seed}. */
    public static LegacyNextGpt build(long seed) {
        JsonObject spec = json("model.json");
        Path tmp = null;
        NDManager manager = NDManager.newBaseManager(Device.cpu());
        try {
            tmp = Files.createTempDirectory("nextgpt-demo");
            Files.write(tmp.resolve("tokenizer.json"), bytes("tokenizer.json"));
            LlamaTokenizer tokenizer = LlamaTokenizer.load(tmp);
            LlamaConfig llmConfig = LlamaConfig.parse(new JsonConfig(null, spec.getAsJsonObject("llm")),
                    Optional.empty());
            LlamaModel llm = LlamaModel.load(llmConfig, llmWeights(llmConfig, seed), Device.cpu(),
                    ai.djl.ndarray.types.DataType.FLOAT32);
            ImageBindConfig ibConfig = ImageBindConfig.fromJson(new JsonConfig(null,
                    spec.getAsJsonObject("imagebind")));
            ImageBindModel imagebind = ImageBindModel.random(ibConfig, manager,
                    EnumSet.of(dev.nextgpt.runtime.imagebind.Modality.VISION,
                            dev.nextgpt.runtime.imagebind.Modality.AUDIO), seed);
            InMemoryTensorStore proj = new InMemoryTensorStore("demo llama_proj", seed + 3)
                    .normal("w", 0.3, llmConfig.hiddenSize(), ibConfig.outEmbedDim())
                    .normal("b", 0.02, llmConfig.hiddenSize());
            NDArray projW = proj.load(manager, "w");
            NDArray projB = proj.load(manager, "b");
            JsonConfig op = new JsonConfig(null, spec.getAsJsonObject("output_projectors"));
            Map<Modality, TransformerOutputProjector> projectors = new EnumMap<>(Modality.class);
            String[][] keys = {{"image_out", "image_queries"}, {"video_out", "video_queries"},
                    {"audio_out", "audio_queries"}};
            for (Modality m : Modality.values()) {
                String prefix = LegacyNextGpt.projectorPrefix(m);
                int width = op.getInt("width");
                int layers = op.getInt("layers");
                InMemoryTensorStore s = new InMemoryTensorStore("demo " + prefix, seed + 10 + m.ordinal());
                fill(s, ParameterAudit.transformerProjector(m.name(), prefix,
                        TransformerOutputProjector.Naming.LEGACY_TEXTFC, llmConfig.hiddenSize(), width,
                        op.getInt(keys[m.ordinal()][0]), op.getInt(keys[m.ordinal()][1]), layers, layers, 4L * width));
                projectors.put(m, TransformerOutputProjector.load(s, prefix,
                        TransformerOutputProjector.Naming.LEGACY_TEXTFC, op.getInt("heads"), manager));
            }
            Map<Modality, ModalityDecoder> decoders = new EnumMap<>(Modality.class);
            decoders.put(Modality.IMAGE, imageDecoder(tmp, seed + 20));
            decoders.put(Modality.VIDEO, VideoDiffusionDecoder.load(unpackPipeline(tmp, "video", seed + 30)));
            decoders.put(Modality.AUDIO, AudioDiffusionDecoder.load(unpackPipeline(tmp, "audio", seed + 40)));
            return new LegacyNextGpt(manager, llm, tokenizer, LegacySettings.defaults(), imagebind, projW, projB,
                    projectors, decoders, Set.of());
        } catch (IOException e) {
            manager.close();
            throw new ModelFormatException("cannot unpack the demo model resources: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        } finally {
            deleteTree(tmp);
        }
    }

    private static InMemoryTensorStore llmWeights(LlamaConfig c, long seed) {
        InMemoryTensorStore s = new InMemoryTensorStore("demo llm", seed);
        int h = c.hiddenSize();
        int v = c.vocabSize();
        int inter = c.intermediateSize();
        int q = c.numHeads() * c.headDim();
        int kv = c.numKvHeads() * c.headDim();
        s.normal("model.embed_tokens.weight", 0.5, v, h);
        for (int i = 0; i < c.numLayers(); i++) {
            String p = "model.layers." + i + ".";
            s.normal(p + "self_attn.q_proj.weight", 0.08, q, h);
            s.normal(p + "self_attn.k_proj.weight", 0.08, kv, h);
            s.normal(p + "self_attn.v_proj.weight", 0.08, kv, h);
            s.normal(p + "self_attn.o_proj.weight", 0.08, h, q);
            s.normal(p + "mlp.gate_proj.weight", 0.08, inter, h);
            s.normal(p + "mlp.up_proj.weight", 0.08, inter, h);
            s.normal(p + "mlp.down_proj.weight", 0.08, h, inter);
            s.ones(p + "input_layernorm.weight", h);
            s.ones(p + "post_attention_layernorm.weight", h);
        }
        s.ones("model.norm.weight", h);
        s.normal("lm_head.weight", 0.08, v, h);
        return s;
    }

    /** Random values for the expected tensors: biases 0, norm weights 1, other weights N(0, 0.1²). */
    private static void fill(InMemoryTensorStore s, List<ParameterAudit.Expected> expected) {
        for (ParameterAudit.Expected e : expected) {
            String n = e.name();
            if (n.endsWith("bias")) {
                s.zeros(n, e.shape());
            } else if (n.contains("norm") && e.shape().length == 1) {
                s.ones(n, e.shape());
            } else {
                s.normal(n, 0.1, e.shape());
            }
        }
    }

    private static InMemoryTensorStore manifestStore(String sub, long seed) {
        JsonObject man = json("sd/" + sub + "/weights_manifest.json");
        InMemoryTensorStore s = new InMemoryTensorStore("demo sd/" + sub, seed);
        for (String n : new java.util.TreeSet<>(man.keySet())) {
            var arr = man.getAsJsonArray(n);
            long[] shape = new long[arr.size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = arr.get(i).getAsLong();
            }
            if (n.endsWith("bias")) {
                s.zeros(n, shape);
            } else if (shape.length == 1 && (n.contains("norm") || n.contains("ln"))) {
                s.ones(n, shape);
            } else {
                s.normal(n, 0.05, shape);
            }
        }
        return s;
    }

    private static final List<String> PIPELINE_FILES = List.of("model_index.json", "scheduler/scheduler_config.json",
            "tokenizer/merges.txt", "tokenizer/special_tokens_map.json", "tokenizer/tokenizer_config.json",
            "tokenizer/vocab.json");

    /**
     * Unpacks the diffusers folder {@code name/} (configs, scheduler, tokenizer) and writes seeded random weights for
     * each model sub-folder listed by its {@code weights_manifest.json} ({@code {"file", "tensors": {name: shape or
     * [dtype, ...shape]}}}); I64 buffers get their fixed values (position ids {@code arange}, type ids 0).
     */
    private static Path unpackPipeline(Path tmp, String name, long seed) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve(name));
        for (String f : PIPELINE_FILES) {
            Path t = dir.resolve(f);
            Files.createDirectories(t.getParent());
            Files.write(t, bytes(name + "/" + f));
        }
        String[] models = name.equals("audio") ? new String[] {"unet", "vae", "text_encoder", "vocoder"}
                : new String[] {"unet", "vae", "text_encoder"};
        long s = seed;
        for (String sub : models) {
            Path sd = Files.createDirectories(dir.resolve(sub));
            Files.write(sd.resolve("config.json"), bytes(name + "/" + sub + "/config.json"));
            JsonObject man = json(name + "/" + sub + "/weights_manifest.json");
            JsonObject tensors = man.getAsJsonObject("tensors");
            java.util.Random r = new java.util.Random(s++);
            SafetensorsWriter w = new SafetensorsWriter();
            for (String n : new java.util.TreeSet<>(tensors.keySet())) {
                var arr = tensors.getAsJsonArray(n);
                boolean longs = arr.size() > 0 && arr.get(0).isJsonPrimitive() && arr.get(0).getAsJsonPrimitive()
                        .isString();
                long[] shape = new long[arr.size() - (longs ? 1 : 0)];
                for (int i = 0; i < shape.length; i++) {
                    shape[i] = arr.get(i + (longs ? 1 : 0)).getAsLong();
                }
                int count = 1;
                for (long d : shape) {
                    count *= (int) d;
                }
                if (longs) {
                    long[] v = new long[count];
                    if (n.endsWith("position_ids")) {
                        for (int i = 0; i < count; i++) {
                            v[i] = i % shape[shape.length - 1];
                        }
                    }
                    w.addLongs(n, shape, v);
                    continue;
                }
                float[] v = new float[count];
                if (n.endsWith("bias")) {
                    // zeros
                } else if (shape.length == 1 && (n.contains("norm") || n.contains("ln") || n.endsWith("weight_g"))) {
                    java.util.Arrays.fill(v, 1f);
                } else {
                    for (int i = 0; i < count; i++) {
                        v[i] = (float) (0.05 * r.nextGaussian());
                    }
                }
                w.addFloats(n, shape, v);
            }
            w.write(sd.resolve(man.get("file").getAsString()));
        }
        return dir;
    }

    private static ModalityDecoder imageDecoder(Path tmp, long seed) throws IOException {
        Path tok = Files.createDirectories(tmp.resolve("sd_tokenizer"));
        for (String f : new String[] {"vocab.json", "merges.txt", "special_tokens_map.json", "tokenizer_config.json"}) {
            Files.write(tok.resolve(f), bytes("sd/tokenizer/" + f));
        }
        Path sch = Files.createDirectories(tmp.resolve("sd_scheduler"));
        Files.write(sch.resolve("scheduler_config.json"), bytes("sd/scheduler/scheduler_config.json"));
        UNet2DCondition unet = new UNet2DCondition(UNet2DConditionConfig.from(config("sd/unet/config.json")),
                new Weights(manifestStore("unet", seed), NDManager.newBaseManager()));
        AutoencoderKL vae = new AutoencoderKL(AutoencoderKLConfig.from(config("sd/vae/config.json")),
                new Weights(manifestStore("vae", seed + 1), NDManager.newBaseManager()));
        try (ClipTextModel text = new ClipTextModel(ClipTextConfig.from(config("sd/text_encoder/config.json")),
                new Weights(manifestStore("text_encoder", seed + 2), NDManager.newBaseManager()))) {
            return new StableDiffusionDecoder(unet, vae, text, ClipBpeTokenizer.fromFolder(tok),
                    SchedulerConfig.read(sch), 4);
        }
    }

    private static JsonConfig config(String resource) {
        return new JsonConfig(Path.of(BASE + resource), json(resource));
    }

    private static JsonObject json(String resource) {
        return JsonParser.parseString(new String(bytes(resource), StandardCharsets.UTF_8)).getAsJsonObject();
    }

    private static byte[] bytes(String resource) {
        try (InputStream in = DemoModel.class.getResourceAsStream(BASE + resource)) {
            if (in == null) {
                throw new ModelFormatException("demo model resource " + BASE + resource + " is missing from the "
                        + "class path");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new ModelFormatException("cannot read demo resource " + BASE + resource + ": " + e.getMessage(), e);
        }
    }

    private static void deleteTree(Path p) {
        if (p == null) {
            return;
        }
        try (var s = Files.walk(p)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(x -> x.toFile().delete());
        } catch (IOException ignored) {
            // temp files only
        }
    }
}
