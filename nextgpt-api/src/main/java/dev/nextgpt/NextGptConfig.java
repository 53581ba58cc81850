package dev.nextgpt;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Everything {@link NextGptBuilder} collected, handed to the runtime's {@link dev.nextgpt.spi.NextGptProvider}.
 * Immutable. Paths are null when not given; explicit paths take precedence over what {@link #systemLayout()}
 * provides. The builder validates paths and combinations; constructing a config directly only checks nulls.
 *
 * <p>Component (part) names used by {@link #allowRandomInit()} and {@link ModelInfo#components()}:
 * {@value #IMAGEBIND}, {@value #LANGUAGE_MODEL}, {@value #INPUT_PROJECTOR}, {@value #OUTPUT_PROJECTORS},
 * {@value #LORA}, {@value #IMAGE_DECODER}, {@value #VIDEO_DECODER}, {@value #AUDIO_DECODER}, and {@value #ALL} for
 * every part.
 *
 * @param version         the model version (prompt template, signal tokens, projector types)
 * @param demoModel       use the embedded tiny random-weights model (no files)
 * @param systemLayout    folder in the original repository's on-disk layout ({@code ckpt/…} etc.), or null
 * @param imageBind       ImageBind-huge checkpoint file or folder, or null
 * @param languageModel   Vicuna-7B folder (HF layout with tokenizer) or file, or null
 * @param checkpoint      NExT-GPT checkpoint (projectors, LoRA, resized embeddings; legacy delta file or current
 *                        checkpoint folder), or null
 * @param imageDecoder    diffusers folder of the image decoder (Stable Diffusion), or null
 * @param videoDecoder    diffusers folder of the video decoder (Zeroscope), or null
 * @param audioDecoder    diffusers folder of the audio decoder (AudioLDM), or null
 * @param device          where to run
 * @param dtype           compute dtype
 * @param allowRandomInit parts that may stay randomly initialised when their weights are missing
 * @param defaultOptions  generation options for requests that carry none
 * @param runtime         provider name to use, or null for the highest priority
 * @param properties      free-form runtime-specific settings
 */
public record NextGptConfig(ModelVersion version, boolean demoModel, Path systemLayout, Path imageBind,
        Path languageModel, Path checkpoint, Path imageDecoder, Path videoDecoder, Path audioDecoder,
        DeviceSpec device, ComputeDtype dtype, Set<String> allowRandomInit, GenerationOptions defaultOptions,
        String runtime, Map<String, String> properties) {

    /** ImageBind encoder. */
    public static final String IMAGEBIND = "imagebind";
    /** The LLM (Vicuna) base weights. */
    public static final String LANGUAGE_MODEL = "language_model";
    /** The input projector (legacy {@code llama_proj}, current {@code mm_input_projector}). */
    public static final String INPUT_PROJECTOR = "input_projector";
    /** The three output projectors. */
    public static final String OUTPUT_PROJECTORS = "output_projectors";
    /** LoRA weights and resized embeddings of the NExT-GPT checkpoint. */
    public static final String LORA = "lora";
    /** Image decoder. */
    public static final String IMAGE_DECODER = "image_decoder";
    /** Video decoder. */
    public static final String VIDEO_DECODER = "video_decoder";
    /** Audio decoder. */
    public static final String AUDIO_DECODER = "audio_decoder";
    /** Every part. */
    public static final String ALL = "*";

    /** Checks required fields and copies the collections (sorted, immutable). */
    public NextGptConfig {
        Checks.notNull("NextGptConfig.version", version);
        Checks.notNull("NextGptConfig.device", device);
        Checks.notNull("NextGptConfig.dtype", dtype);
        Checks.notNull("NextGptConfig.defaultOptions", defaultOptions);
        allowRandomInit = java.util.Collections.unmodifiableSet(
                new TreeSet<>(Checks.notNull("NextGptConfig.allowRandomInit", allowRandomInit)));
        properties = java.util.Collections.unmodifiableMap(
                new TreeMap<>(Checks.notNull("NextGptConfig.properties", properties)));
    }

    /** Whether {@code part} (or {@value #ALL}) was permitted to stay randomly initialised. */
    public boolean allowsRandomInit(String part) {
        return allowRandomInit.contains(ALL) || allowRandomInit.contains(part);
    }

    /** The explicitly configured decoder folder for an output modality, if any. */
    public Optional<Path> decoder(Modality modality) {
        switch (Checks.notNull("modality", modality)) {
            case IMAGE:
                return Optional.ofNullable(imageDecoder);
            case VIDEO:
                return Optional.ofNullable(videoDecoder);
            case AUDIO:
                return Optional.ofNullable(audioDecoder);
            default:
                return Optional.empty();
        }
    }

    /** A runtime-specific property, if set. */
    public Optional<String> property(String key) {
        return Optional.ofNullable(properties.get(key));
    }
}
