package dev.nextgpt.runtime.nextgpt;

/** The three generated / encoded modalities with their spellings in both NExT-GPT versions. */
public enum Modality {
    IMAGE("IMG", "image", "img", "Image"),
    VIDEO("VID", "video", "vid", "Video"),
    AUDIO("AUD", "audio", "aud", "Audio");

    private final String legacySignalStem;
    private final String currentSignalStem;
    private final String shortKey;
    private final String legacyTag;

    Modality(String legacySignalStem, String currentSignalStem, String shortKey, String legacyTag) {
        this.legacySignalStem = legacySignalStem;
        this.currentSignalStem = currentSignalStem;
        this.shortKey = shortKey;
        this.legacyTag = legacyTag;
    }

    /** Legacy signal token {@code i}: {@code [IMG0]}, {@code [VID12]}, {@code [AUD7]}. */
    public String legacySignalToken(int i) {
        return "[" + legacySignalStem + i + "]";
    }

    /** Current signal token {@code i} (two digits): {@code <image_00>}, {@code <video_23>}. */
    public String currentSignalToken(int i) {
        return String.format("<%s_%02d>", currentSignalStem, i);
    }

    /** Key used in the legacy generate() return list: {@code img}, {@code vid}, {@code aud}. */
    public String shortKey() {
        return shortKey;
    }

    /** Legacy demo prompt tag name: {@code Image}, {@code Video}, {@code Audio} (as in {@code <Image>p</Image>}). */
    public String legacyTag() {
        return legacyTag;
    }
}
