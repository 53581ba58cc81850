package dev.nextgpt;

/** Which NExT-GPT code base the weights and prompt conventions come from. */
public enum ModelVersion {
    /**
     * The 2023 release (Vicuna-7B v0, checkpoint {@code 7b_tiva_v0}, one pooled ImageBind vector per input,
     * {@code [IMG0]}-style signal tokens, "### Human: / ### Assistant:" template). The only published checkpoint.
     */
    LEGACY,
    /**
     * The 2024 LLaVA-style rewrite (Vicuna-7B v1.5, group input projector, {@code <image_00>}-style signal tokens,
     * "USER: / ASSISTANT:" template). No trained checkpoint is published.
     */
    CURRENT
}
