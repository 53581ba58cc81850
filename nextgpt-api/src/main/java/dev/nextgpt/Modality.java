package dev.nextgpt;

/** The four modalities NExT-GPT reads and writes. */
public enum Modality {
    /** Plain text. */
    TEXT,
    /** A still image. */
    IMAGE,
    /** A waveform. */
    AUDIO,
    /** A sequence of frames. */
    VIDEO
}
