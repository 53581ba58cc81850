package dev.nextgpt.runtime.imagebind;

import dev.nextgpt.InvalidInputException;

import java.util.Arrays;
import java.util.Locale;

/** The six ImageBind modalities; {@link #key()} is the original {@code ModalityType} string and state-dict key. */
public enum Modality {
    VISION, TEXT, AUDIO, DEPTH, THERMAL, IMU;

    /** Lower-case name, as in {@code modality_trunks.<key>.…} and the component runner's input names. */
    public String key() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The modality named {@code key} (case-insensitive); a clear error listing the valid names otherwise. */
    public static Modality of(String key) {
        for (Modality m : values()) {
            if (m.key().equalsIgnoreCase(key.trim())) {
                return m;
            }
        }
        throw new InvalidInputException("unknown ImageBind modality '" + key + "'; expected one of "
                + Arrays.stream(values()).map(Modality::key).toList());
    }
}
