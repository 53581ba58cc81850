package dev.nextgpt.runtime.nextgpt.current;

import dev.nextgpt.runtime.nextgpt.InMemoryTensorStore;

import dev.nextgpt.runtime.io.SafetensorsFile;
import dev.nextgpt.runtime.io.SafetensorsWriter;
import dev.nextgpt.runtime.io.TensorInfo;
import dev.nextgpt.runtime.io.TensorStore;
import dev.nextgpt.runtime.nextgpt.Modality;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * Writes tiny current-version systems to disk in the three C layouts, from the llama fixture (hidden 64, 512 rows),
 * the ImageBind fixture (out 16), the group projector fixture with a random {@code in_fc} of input width 16, and the
 * three {@code current_outproj_*} fixtures (the image one with a random {@code out_fc} of width 48 to match the SD
 * fixture's cross-attention width):
 * <ul>
 *   <li>{@link #writeFull}: one {@code model.safetensors} with every C key (tower included), the LLaMA weights with
 *       the LoRA delta already merged and the embeddings resized as C does;</li>
 *   <li>{@link #writeAdapter}: {@code mm_input_projector.bin} (with 36 {@code embed_tokens} rows) and
 *       {@code mm_output_projector.bin} over the llama fixture as base;</li>
 *   <li>{@link #writeLoraRun}: {@code adapter_config.json}, {@code adapter_model.safetensors} (LLM q/v LoRA plus a
 *       projector {@code q_proj} LoRA that must not be applied), {@code non_lora_trainables.bin}.</li>
 * </ul>
 * The LoRA-run and the full folder hold the same effective weights (full = base + α/r·B·A, resized embeddings).
 */
final class CurrentTinyDisk implements AutoCloseable {
    static final int SIGNALS = 36;
    static final int HIDDEN = 64;
    static final int LORA_R = 2;
    static final double LORA_ALPHA = 4;
    static final List<String> LORA_TARGETS = List.of("model.layers.0.self_attn.q_proj", "model.layers.1.self_attn.v_proj");
    static final String PROJECTOR_LORA = "model.mm_input_projector.layers.0.downsample.assign.q_proj";

    final TensorStore llama;
    final List<TensorStore> projectorFiles = new ArrayList<>();
    final TensorStore imagebind;
    final InMemoryTensorStore extra = new InMemoryTensorStore("tiny extras");
    final Map<String, String[]> projectorNames = new LinkedHashMap<>();   // full C name -> {store index, name}

    CurrentTinyDisk() {
        llama = SafetensorsFile.open(CurrentFixtures.llamaDir().resolve("model.safetensors"));
        imagebind = SafetensorsFile.open(imagebindDir().resolve("model.safetensors"));
        Random r = new Random(7);
        extra.put("model.mm_input_projector.in_fc.weight", new long[] {32, 16}, normal(r, 32 * 16, 0.2));
        extra.put("model.mm_output_img_projector.out_fc.weight", new long[] {48, 32}, normal(r, 48 * 32, 0.2));
        extra.put("model.mm_output_img_projector.out_fc.bias", new long[] {48}, normal(r, 48, 0.2));
        // 36 trained rows for the signal tokens (adapter file), LoRA pairs
        extra.put("adapter.embed_rows", new long[] {SIGNALS, HIDDEN}, normal(r, SIGNALS * HIDDEN, 0.5));
        for (String t : LORA_TARGETS) {
            extra.put("lora." + t + ".lora_A.weight", new long[] {LORA_R, HIDDEN}, normal(r, LORA_R * HIDDEN, 0.3));
            extra.put("lora." + t + ".lora_B.weight", new long[] {HIDDEN, LORA_R}, normal(r, HIDDEN * LORA_R, 0.3));
        }
        extra.put("lora." + PROJECTOR_LORA + ".lora_A.weight", new long[] {LORA_R, 32}, normal(r, LORA_R * 32, 0.3));
        extra.put("lora." + PROJECTOR_LORA + ".lora_B.weight", new long[] {32, LORA_R}, normal(r, 32 * LORA_R, 0.3));
        for (String c : List.of("current_inproj_group", "current_outproj_image", "current_outproj_video",
                "current_outproj_audio")) {
            TensorStore s = SafetensorsFile.open(CurrentTinySystem.projectorFile(c));
            projectorFiles.add(s);
        }
    }

    static Path imagebindDir() {
        return CurrentFixtures.resource("imagebind/model/config.json").getParent();
    }

    static Path sdDir() {
        return CurrentFixtures.resource("stable-diffusion/unet/config.json").getParent().getParent();
    }

    private static float[] normal(Random r, int n, double std) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (r.nextGaussian() * std);
        }
        return v;
    }

    /** Tensors to write: name → (store, name in store). */
    private static final class Entries {
        final Map<String, Object[]> map = new LinkedHashMap<>();

        Entries put(String name, TensorStore s, String base) {
            map.put(name, new Object[] {s, base});
            return this;
        }

        void write(Path file, Set<String> skip) {
            SafetensorsWriter w = new SafetensorsWriter();
            map.forEach((name, v) -> {
                if (!skip.contains(name)) {
                    TensorStore s = (TensorStore) v[0];
                    String base = (String) v[1];
                    TensorInfo i = s.info(base);
                    w.add(new TensorInfo(name, i.dtype(), i.shape()), () -> s.rawBytes(base));
                }
            });
            w.write(file);
        }
    }

    /** Projector tensors under their C names ({@code model.mm_input_projector.*}, {@code model.mm_output_*}). */
    private void projectors(Entries e, String prefix) {
        for (TensorStore s : projectorFiles) {
            for (String n : s.names()) {
                e.put(prefix + n.substring("model.".length()), s, n);
            }
        }
        for (String n : extra.names()) {
            if (n.startsWith("model.mm_")) {
                e.put(prefix + n.substring("model.".length()), extra, n);
            }
        }
    }

    /** The resized embedding (mean rows, adapter rows over the new input rows) and head, and the LoRA-merged LLM. */
    InMemoryTensorStore effectiveLlm(boolean adapterRows, boolean lora) {
        InMemoryTensorStore out = new InMemoryTensorStore("effective LLM");
        float[] emb = CurrentSignalTokens.resizeWithMeanRows(llama.readFloats("model.embed_tokens.weight"), 512, HIDDEN,
                SIGNALS);
        if (adapterRows) {
            System.arraycopy(extra.readFloats("adapter.embed_rows"), 0, emb, 512 * HIDDEN, SIGNALS * HIDDEN);
        }
        out.put("model.embed_tokens.weight", new long[] {512 + SIGNALS, HIDDEN}, emb);
        out.put("lm_head.weight", new long[] {512 + SIGNALS, HIDDEN},
                CurrentSignalTokens.resizeWithMeanRows(llama.readFloats("lm_head.weight"), 512, HIDDEN, SIGNALS));
        if (lora) {
            double scaling = LORA_ALPHA / LORA_R;
            for (String t : LORA_TARGETS) {
                float[] w = llama.readFloats(t + ".weight");
                float[] a = extra.readFloats("lora." + t + ".lora_A.weight");
                float[] b = extra.readFloats("lora." + t + ".lora_B.weight");
                int in = HIDDEN;
                int outDim = w.length / in;
                for (int o = 0; o < outDim; o++) {
                    for (int i = 0; i < in; i++) {
                        double d = 0;
                        for (int k = 0; k < LORA_R; k++) {
                            d += (double) b[o * LORA_R + k] * a[k * in + i];
                        }
                        w[o * in + i] += (float) (scaling * d);
                    }
                }
                out.put(t + ".weight", new long[] {outDim, in}, w);
            }
        }
        return out;
    }

    private static String config(Map<String, String> extraFields) throws IOException {
        String llamaCfg = Files.readString(CurrentFixtures.llamaDir().resolve("config.json")).trim();
        StringBuilder extra = new StringBuilder("""
                  "model_type": "nextgpt_llama", "mm_input_projector_type": "group", "mm_hidden_size": 16,
                  "n_img_tokens": 4, "n_vid_tokens": 24, "n_aud_tokens": 8, "layer_idx": -1,
                  "tokenizer_model_max_length": 2048, "mm_output_img_features": 48, "mm_output_vid_features": 32,
                  "mm_output_aud_features": 16, "video_decoder": "cerspense/zeroscope_v2_576w",
                """);
        extraFields.forEach((k, v) -> extra.append("  \"").append(k).append("\": \"").append(v.replace("\\", "\\\\"))
                .append("\",\n"));
        return llamaCfg.replaceFirst("\"model_type\": \"llama\",", "").replaceFirst("\\{", "{\n" + extra)
                .replace("\"vocab_size\": 512", "\"vocab_size\": " + (512 + SIGNALS));
    }

    /** The full layout (LoRA merged, adapter rows applied when {@code adapterRows}); {@code skip}: names left out. */
    Path writeFull(Path dir, boolean adapterRows, boolean lora, Set<String> skip) throws IOException {
        Files.createDirectories(dir);
        InMemoryTensorStore eff = effectiveLlm(adapterRows, lora);
        Entries e = new Entries();
        for (String n : llama.names()) {
            e.put(n, eff.contains(n) ? eff : llama, n);
        }
        projectors(e, "model.");
        for (String n : imagebind.names()) {
            e.put(CurrentCheckpointLayout.TOWER_PREFIX + n, imagebind, n);
        }
        e.write(dir.resolve("model.safetensors"), skip);
        Files.writeString(dir.resolve("config.json"), config(Map.of("multimodal_input_tower", imagebindDir().toString(),
                "image_decoder", sdDir().toString())));
        Files.copy(CurrentFixtures.llamaDir().resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        return dir;
    }

    /** Adapter files over the llama fixture as base ({@code _name_or_path}); ImageBind from its own folder. */
    Path writeAdapter(Path dir) throws IOException {
        Files.createDirectories(dir);
        Entries in = new Entries();
        Entries out = new Entries();
        Entries all = new Entries();
        projectors(all, "model.");
        all.map.forEach((k, v) -> (k.contains("mm_input_projector") ? in : out).map.put(k, v));
        in.put("model.embed_tokens.weight", extra, "adapter.embed_rows");
        in.write(dir.resolve("mm_input_projector.bin"), Set.of());
        out.write(dir.resolve("mm_output_projector.bin"), Set.of());
        Files.writeString(dir.resolve("config.json"), config(Map.of("_name_or_path",
                CurrentFixtures.llamaDir().toString(), "multimodal_input_tower", imagebindDir().toString(),
                "image_decoder", "stabilityai/stable-diffusion-2")));
        return dir;
    }

    /** A LoRA run over the llama fixture (given as base by the caller); trainables with peft prefixes. */
    Path writeLoraRun(Path dir) throws IOException {
        Files.createDirectories(dir);
        InMemoryTensorStore eff = effectiveLlm(false, false);
        Entries t = new Entries();
        projectors(t, "base_model.model.model.");
        t.put("base_model.model.model.embed_tokens.weight", eff, "model.embed_tokens.weight");
        t.put("base_model.model.lm_head.weight", eff, "lm_head.weight");
        t.write(dir.resolve("non_lora_trainables.bin"), Set.of());
        Entries a = new Entries();
        for (String m : LORA_TARGETS) {
            a.put("base_model.model." + m + ".lora_A.weight", extra, "lora." + m + ".lora_A.weight");
            a.put("base_model.model." + m + ".lora_B.weight", extra, "lora." + m + ".lora_B.weight");
        }
        a.put("base_model.model." + PROJECTOR_LORA + ".lora_A.weight", extra, "lora." + PROJECTOR_LORA + ".lora_A.weight");
        a.put("base_model.model." + PROJECTOR_LORA + ".lora_B.weight", extra, "lora." + PROJECTOR_LORA + ".lora_B.weight");
        a.write(dir.resolve("adapter_model.safetensors"), Set.of());
        Files.writeString(dir.resolve("adapter_config.json"), "{\"peft_type\": \"LORA\", \"r\": " + LORA_R
                + ", \"lora_alpha\": " + LORA_ALPHA + ", \"target_modules\": [\"q_proj\", \"v_proj\"], "
                + "\"bias\": \"none\"}");
        Files.writeString(dir.resolve("config.json"), config(Map.of("_name_or_path", "lmsys/vicuna-7b-v1.5",
                "multimodal_input_tower", imagebindDir().toString())));
        return dir;
    }

    static String outKey(Modality m) {
        return "model." + CurrentCheckpointLayout.outputProjectorKey(m) + ".";
    }

    @Override
    public void close() {
        llama.close();
        imagebind.close();
        projectorFiles.forEach(TensorStore::close);
    }
}
