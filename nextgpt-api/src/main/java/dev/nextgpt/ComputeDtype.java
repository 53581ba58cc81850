package dev.nextgpt;

/** Floating-point type the networks compute in. Weights are converted on load. */
public enum ComputeDtype {
    /** 32-bit IEEE float; the only type guaranteed on every device. */
    FLOAT32,
    /** 16-bit IEEE half precision (GPU). */
    FLOAT16,
    /** 16-bit brain float (GPU, recent CPUs). */
    BFLOAT16
}
