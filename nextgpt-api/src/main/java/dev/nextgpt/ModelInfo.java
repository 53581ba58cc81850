package dev.nextgpt;

import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What a {@link NextGpt} instance has loaded.
 *
 * @param runtime             the runtime's name ({@link dev.nextgpt.spi.NextGptProvider#name()})
 * @param version             the model version
 * @param device              the device in use
 * @param dtype               the compute dtype in use
 * @param inputModalities     modalities accepted as input (TEXT plus those ImageBind encodes)
 * @param outputModalities    modalities that can be generated (TEXT plus those with a decoder)
 * @param components          component name (see {@link NextGptConfig}'s part names) to a description of what
 *                            was loaded, e.g. a path and parameter count
 * @param randomlyInitialised components left with random weights (as permitted by
 *                            {@link NextGptBuilder#allowRandomInit(String...)} or the demo model)
 */
public record ModelInfo(String runtime, ModelVersion version, DeviceSpec device, ComputeDtype dtype,
        Set<Modality> inputModalities, Set<Modality> outputModalities, Map<String, String> components,
        List<String> randomlyInitialised) {

    /** Validates and copies. */
    public ModelInfo {
        Checks.notNull("ModelInfo.runtime", runtime);
        Checks.notNull("ModelInfo.version", version);
        Checks.notNull("ModelInfo.device", device);
        Checks.notNull("ModelInfo.dtype", dtype);
        inputModalities = Set.copyOf(Checks.notNull("ModelInfo.inputModalities", inputModalities));
        outputModalities = Set.copyOf(Checks.notNull("ModelInfo.outputModalities", outputModalities));
        components = Map.copyOf(Checks.notNull("ModelInfo.components", components));
        randomlyInitialised = List.copyOf(Checks.notNull("ModelInfo.randomlyInitialised", randomlyInitialised));
    }

    /** Whether this instance can produce {@code modality} (otherwise it answers with a {@link MediaRequestPart}). */
    public boolean canGenerate(Modality modality) {
        return outputModalities.contains(modality);
    }
}
