package dev.nextgpt.train.trainer;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.runtime.io.SafetensorsFile;
import dev.nextgpt.runtime.io.SafetensorsWriter;
import dev.nextgpt.runtime.io.TensorInfo;
import dev.nextgpt.train.data.LegacyBatchBuilder.Modality;
import dev.nextgpt.train.model.LegacyTrainingModel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * Writes a small random legacy NExT-GPT training system around an existing Hugging Face LLaMA checkpoint, sized for
 * given ImageBind features and caption-embedding targets (e.g. a tiny LLaMA, a tiny ImageBind and the real
 * sample-data {@code .npy} embeddings: image/video {@code [77, 1024]}, audio {@code [512]}).
 *
 * <p>Files written to the output folder: {@code config.json} (the LLaMA config with {@code vocab_size} grown by the
 * 38 legacy tokens), {@code tokenizer.json} (copied), {@code added_tokens.json} ({@code <Img>}, {@code </Img>},
 * {@code [IMG0..3]}, {@code [VID0..23]}, {@code [AUD0..7]} from the old vocabulary size on, the legacy order) and
 * {@code weights.safetensors} with the stage-1/2 names: {@code llama_model.*} (the LLaMA tensors; embedding and LM
 * head resized with new rows drawn from N(0, 0.02²)), {@code llama_proj} (feature → hidden) and one
 * {@code TextFcLayer} per output modality ({@code gen_text_hidden_fcs*.0.*}: fc, {@code query_embs}, an
 * {@code nn.Transformer} of {@code layers} encoder and decoder layers, output linear). These files are what a
 * {@code nextgpt train} config points at ({@code weights}, {@code llama_config}, {@code tokenizer_json},
 * {@code added_tokens}).
 */
public final class SampleSystem {
    /** Signal-token counts of the legacy system. */
    public static final int IMAGE_TOKENS = 4;
    public static final int VIDEO_TOKENS = 24;
    public static final int AUDIO_TOKENS = 8;

    /** Output projector of one modality: {@code queries × outDim} caption-embedding target. */
    public record Projector(int queries, int outDim) {
    }

    /**
     * Sizes of the new parts. {@code featureDim} is the ImageBind output width, {@code width} the projector
     * transformer width, {@code feedForward} its MLP width, {@code layers} its encoder/decoder depth.
     */
    public record Spec(int featureDim, int width, int feedForward, int layers, Map<Modality, Projector> projectors) {
        /** The original sample data's targets (image/video {@code [77, 1024]}, audio {@code [512]}), width 16. */
        public static Spec forSampleData(int featureDim) {
            Map<Modality, Projector> p = new LinkedHashMap<>();
            p.put(Modality.IMAGE, new Projector(77, 1024));
            p.put(Modality.VIDEO, new Projector(77, 1024));
            p.put(Modality.AUDIO, new Projector(1, 512));
            return new Spec(featureDim, 16, 32, 1, p);
        }
    }

    /** Where the written files are. */
    public record Written(Path config, Path tokenizer, Path addedTokens, Path weights) {
    }

    private SampleSystem() {
    }

    /**
     * Writes the system for {@code llamaDir} (a folder with {@code config.json}, {@code tokenizer.json} and
     * {@code model.safetensors}) into {@code out}.
     */
    public static Written write(Path llamaDir, Spec spec, Path out, long seed) {
        try {
            Files.createDirectories(out);
            JsonObject config = JsonParser.parseString(Files.readString(llamaDir.resolve("config.json")))
                    .getAsJsonObject();
            int vocab = config.get("vocab_size").getAsInt();
            int hidden = config.get("hidden_size").getAsInt();
            Map<String, Integer> added = new LinkedHashMap<>();
            int id = vocab;
            added.put("<Img>", id++);
            added.put("</Img>", id++);
            for (int i = 0; i < IMAGE_TOKENS; i++) {
                added.put("[IMG" + i + "]", id++);
            }
            for (int i = 0; i < VIDEO_TOKENS; i++) {
                added.put("[VID" + i + "]", id++);
            }
            for (int i = 0; i < AUDIO_TOKENS; i++) {
                added.put("[AUD" + i + "]", id++);
            }
            int newVocab = id;
            config.addProperty("vocab_size", newVocab);
            var gson = new GsonBuilder().setPrettyPrinting().create();
            Written f = new Written(out.resolve("config.json"), out.resolve("tokenizer.json"),
                    out.resolve("added_tokens.json"), out.resolve("weights.safetensors"));
            Files.writeString(f.config(), gson.toJson(config));
            Files.copy(llamaDir.resolve("tokenizer.json"), f.tokenizer(),
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            Files.writeString(f.addedTokens(), gson.toJson(added));

            Random rnd = new Random(seed);
            SafetensorsWriter w = new SafetensorsWriter();
            try (SafetensorsFile llama = SafetensorsFile.open(llamaDir.resolve("model.safetensors"))) {
                for (String name : llama.names()) {
                    TensorInfo info = llama.info(name);
                    float[] v = llama.readFloats(name);
                    long[] shape = info.shape();
                    if (name.equals("model.embed_tokens.weight") || name.equals("lm_head.weight")) {
                        if (shape[0] != vocab || shape[1] != hidden) {
                            throw new InvalidInputException(llamaDir + ": " + name + " has shape "
                                    + info.shapeString() + ", expected [" + vocab + ", " + hidden + "]");
                        }
                        float[] grown = java.util.Arrays.copyOf(v, newVocab * hidden);
                        for (int i = v.length; i < grown.length; i++) {
                            grown[i] = (float) (0.02 * rnd.nextGaussian());
                        }
                        v = grown;
                        shape = new long[] {newVocab, hidden};
                    }
                    w.addFloats(LegacyTrainingModel.STAGE12_PREFIX + name, shape, v);
                }
            }
            add(w, rnd, "llama_proj.weight", 0.02, 0, hidden, spec.featureDim());
            add(w, rnd, "llama_proj.bias", 0, 0, hidden);
            for (Map.Entry<Modality, Projector> e : spec.projectors().entrySet()) {
                projector(w, rnd, LegacyTrainingModel.projectorPrefix(e.getKey()), hidden, spec, e.getValue());
            }
            w.write(f.weights());
            return f;
        } catch (IOException e) {
            throw new InvalidInputException("cannot write the sample system to " + out + ": " + e.getMessage(), e);
        }
    }

    private static void projector(SafetensorsWriter w, Random rnd, String q, int hidden, Spec s, Projector p) {
        int width = s.width();
        add(w, rnd, q + "fc.weight", 0.02, 0, width, hidden);
        add(w, rnd, q + "fc.bias", 0, 0, width);
        add(w, rnd, q + "query_embs", 1, 0, 1, p.queries(), width);
        for (String part : new String[] {"encoder", "decoder"}) {
            for (int l = 0; l < s.layers(); l++) {
                String lp = q + "tfm." + part + ".layers." + l + ".";
                attention(w, rnd, lp + "self_attn.", width);
                if (part.equals("decoder")) {
                    attention(w, rnd, lp + "multihead_attn.", width);
                }
                add(w, rnd, lp + "linear1.weight", 0.02, 0, s.feedForward(), width);
                add(w, rnd, lp + "linear1.bias", 0, 0, s.feedForward());
                add(w, rnd, lp + "linear2.weight", 0.02, 0, width, s.feedForward());
                add(w, rnd, lp + "linear2.bias", 0, 0, width);
                for (String n : part.equals("decoder") ? new String[] {"norm1", "norm2", "norm3"}
                        : new String[] {"norm1", "norm2"}) {
                    add(w, rnd, lp + n + ".weight", 0, 1, width);
                    add(w, rnd, lp + n + ".bias", 0, 0, width);
                }
            }
            add(w, rnd, q + "tfm." + part + ".norm.weight", 0, 1, width);
            add(w, rnd, q + "tfm." + part + ".norm.bias", 0, 0, width);
        }
        add(w, rnd, q + "model.weight", 0.02, 0, p.outDim(), width);
        add(w, rnd, q + "model.bias", 0, 0, p.outDim());
    }

    private static void attention(SafetensorsWriter w, Random rnd, String p, int width) {
        add(w, rnd, p + "in_proj_weight", 0.02, 0, 3L * width, width);
        add(w, rnd, p + "in_proj_bias", 0, 0, 3L * width);
        add(w, rnd, p + "out_proj.weight", 0.02, 0, width, width);
        add(w, rnd, p + "out_proj.bias", 0, 0, width);
    }

    private static void add(SafetensorsWriter w, Random rnd, String name, double std, double mean, long... shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        float[] v = new float[Math.toIntExact(n)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (mean + std * rnd.nextGaussian());
        }
        w.addFloats(name, shape, v);
    }
}
