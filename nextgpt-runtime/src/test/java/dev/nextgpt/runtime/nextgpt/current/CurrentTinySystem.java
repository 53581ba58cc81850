package dev.nextgpt.runtime.nextgpt.current;

import dev.nextgpt.runtime.io.CompositeTensorStore;
import dev.nextgpt.runtime.io.SafetensorsFile;
import dev.nextgpt.runtime.io.SafetensorsWriter;
import dev.nextgpt.runtime.io.TensorStore;
import dev.nextgpt.runtime.nextgpt.Modality;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Writes a tiny current-version checkpoint folder: the llama fixture (hidden 64) resized from 512 to 548 rows for the
 * 36 signal tokens, the {@code current_inproj_group} (ImageBind width 32 → 64) and {@code current_outproj_*}
 * (64 → 32/32/16) fixture projectors under their full names, and a {@code nextgpt_llama} config.json.
 */
final class CurrentTinySystem {
    static final int SIGNALS = 36;

    private CurrentTinySystem() {
    }

    static Path projectorFile(String caseName) {
        return CurrentFixtures.resource("nextgpt-projectors/" + caseName + "/weights.safetensors");
    }

    /** All stores that make up the tiny system (caller closes). */
    static List<TensorStore> parts() {
        List<TensorStore> parts = new ArrayList<>();
        TensorStore llama = SafetensorsFile.open(CurrentFixtures.llamaDir().resolve("model.safetensors"));
        parts.add(llama);
        parts.add(CurrentSignalTokens.resizedEmbeddings(llama, SIGNALS, null));
        for (String c : List.of("current_inproj_group", "current_outproj_image", "current_outproj_video",
                "current_outproj_audio")) {
            parts.add(SafetensorsFile.open(projectorFile(c)));
        }
        return parts;
    }

    /** Writes the folder; {@code skip} names tensors to leave out. */
    static Path write(Path dir, Set<String> skip) throws IOException {
        List<TensorStore> parts = parts();
        try (CompositeTensorStore all = CompositeTensorStore.overriding(parts)) {
            SafetensorsWriter w = new SafetensorsWriter();
            for (String n : all.names()) {
                if (!skip.contains(n)) {
                    w.add(all.info(n), () -> all.rawBytes(n));
                }
            }
            w.write(dir.resolve("model.safetensors"));
        }
        String llamaCfg = Files.readString(CurrentFixtures.llamaDir().resolve("config.json")).trim();
        String extra = """
                  "model_type": "nextgpt_llama", "mm_input_projector_type": "group", "mm_hidden_size": 32,
                  "multimodal_input_tower": "./pretrain_ckpt/imagebind", "image_decoder": "stabilityai/stable-diffusion-2",
                  "n_img_tokens": 4, "n_vid_tokens": 24, "n_aud_tokens": 8, "layer_idx": -1,
                  "tokenizer_model_max_length": 2048, "mm_output_img_features": 32, "mm_output_aud_features": 16,
                """;
        String cfg = llamaCfg.replaceFirst("\"model_type\": \"llama\",", "").replaceFirst("\\{", "{\n" + extra)
                .replace("\"vocab_size\": 512", "\"vocab_size\": " + (512 + SIGNALS));
        Files.writeString(dir.resolve("config.json"), cfg);
        return dir;
    }

    static String key(Modality m) {
        return "model." + CurrentCheckpointLayout.outputProjectorKey(m) + ".";
    }
}
