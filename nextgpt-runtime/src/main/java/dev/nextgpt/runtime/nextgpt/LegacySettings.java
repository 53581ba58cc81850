package dev.nextgpt.runtime.nextgpt;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.nextgpt.runtime.config.JsonConfig;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The legacy NExT-GPT configuration values in force at inference ({@code config/base.yaml} updated by
 * {@code config/stage_3.yaml}), read from the system's {@code nextgpt_config.json} summary where present
 * ({@code legacy_config_values}, {@code lora}, {@code tiny_substitutions}); absent keys take the values of the
 * released configuration files (signal counts 4/24/8, 77 clip tokens, mode {@code transformer}, LoRA r=32 α=32 on
 * q/k/v/o, {@code max_length} 512).
 *
 * @param imageBindConstructor the {@code ImageBindModel(**kwargs)} keyword values of the encoder, if the summary
 *                             records a substitution for {@code imagebind_huge()}
 */
public record LegacySettings(Map<Modality, Integer> signalCounts, Map<Modality, String> projectorModes,
                             int numClipTokens, int loraRank, double loraAlpha, List<String> loraTargets,
                             int maxLength, Optional<JsonConfig> imageBindConstructor, Path source) {

    /** Released defaults (base.yaml + stage_3.yaml). */
    public static LegacySettings defaults() {
        return fromJson(null, new JsonObject());
    }

    /** Reads {@code nextgpt_config.json} if it exists, else {@link #defaults()}. */
    public static LegacySettings read(Path summaryFile) {
        if (summaryFile == null || !Files.isRegularFile(summaryFile)) {
            return defaults();
        }
        JsonConfig c = JsonConfig.read(summaryFile);
        return fromJson(summaryFile, c.json());
    }

    static LegacySettings fromJson(Path source, JsonObject root) {
        JsonConfig all = new JsonConfig(source, root);
        JsonConfig v = all.optObject("legacy_config_values").orElse(new JsonConfig(source, new JsonObject()));
        Map<Modality, Integer> counts = new EnumMap<>(Modality.class);
        counts.put(Modality.IMAGE, v.getInt("num_gen_img_tokens", 4));
        counts.put(Modality.VIDEO, v.getInt("num_gen_video_tokens", 24));
        counts.put(Modality.AUDIO, v.getInt("num_gen_audio_tokens", 8));
        Map<Modality, String> modes = new EnumMap<>(Modality.class);
        modes.put(Modality.IMAGE, v.getString("text_fc_to_img_mode", "transformer"));
        modes.put(Modality.VIDEO, v.getString("text_fc_to_video_mode", "transformer"));
        modes.put(Modality.AUDIO, v.getString("text_fc_to_audio_mode", "transformer"));
        JsonConfig lora = all.optObject("lora").orElse(new JsonConfig(source, new JsonObject()));
        int r = lora.getInt("r", 32);
        double alpha = lora.getDouble("lora_alpha", 32);
        List<String> targets = lora.getStringList("target_modules", List.of("q_proj", "k_proj", "v_proj", "o_proj"));
        Optional<JsonConfig> ib = Optional.empty();
        if (root.has("tiny_substitutions") && root.get("tiny_substitutions").isJsonObject()) {
            for (Map.Entry<String, JsonElement> e : root.getAsJsonObject("tiny_substitutions").entrySet()) {
                if (e.getValue().isJsonObject() && e.getValue().getAsJsonObject().has("out_embed_dim")) {
                    ib = Optional.of(new JsonConfig(source, e.getValue().getAsJsonObject()));
                }
            }
        }
        return new LegacySettings(Map.copyOf(counts), Map.copyOf(modes), v.getInt("num_clip_tokens", 77), r, alpha,
                List.copyOf(new ArrayList<>(targets)), v.getInt("max_length", 512), ib, source);
    }

    /** peft scaling {@code lora_alpha / r}. */
    public double loraScaling() {
        return loraAlpha / loraRank;
    }
}
