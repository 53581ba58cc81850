package dev.nextgpt;

/**
 * How the image diffusion decoder runs. Defaults follow the original system: 50 steps, classifier-free guidance
 * 7.5 (the unconditional branch is the decoder's own encoding of the empty prompt), decoder-default size
 * (512x512 for Stable Diffusion 1.5, 768x768 for SD-2), no negative prompt. The original passes no seed.
 *
 * @param steps          denoising steps, in [1, 1000]; default 50
 * @param guidanceScale  classifier-free guidance, in [0, 100]; {@code <= 1} disables guidance; default 7.5
 * @param width          output width, a multiple of 8 in [8, 4096], or null for the decoder default
 * @param height         output height, a multiple of 8 in [8, 4096], or null for the decoder default
 * @param negativePrompt replaces the empty unconditional prompt when non-null
 * @param seed           initial-noise seed, or null for a random one
 */
public record ImageGenerationOptions(int steps, double guidanceScale, Integer width, Integer height,
        String negativePrompt, Long seed) {

    private static final ImageGenerationOptions DEFAULTS = new ImageGenerationOptions(50, 7.5, null, null, null, null);

    /** Validates every field; the message names the field and the value. */
    public ImageGenerationOptions {
        Checks.intRange("ImageGenerationOptions.steps", steps, 1, 1000);
        Checks.doubleRange("ImageGenerationOptions.guidanceScale", guidanceScale, 0, false, 100);
        Checks.multipleOf8("ImageGenerationOptions.width", width, 4096);
        Checks.multipleOf8("ImageGenerationOptions.height", height, 4096);
    }

    /** The defaults described above. */
    public static ImageGenerationOptions defaults() {
        return DEFAULTS;
    }

    /** Copy with {@code steps} replaced. */
    public ImageGenerationOptions withSteps(int v) {
        return new ImageGenerationOptions(v, guidanceScale, width, height, negativePrompt, seed);
    }

    /** Copy with {@code guidanceScale} replaced. */
    public ImageGenerationOptions withGuidanceScale(double v) {
        return new ImageGenerationOptions(steps, v, width, height, negativePrompt, seed);
    }

    /** Copy with the size replaced (both null = decoder default). */
    public ImageGenerationOptions withSize(Integer newWidth, Integer newHeight) {
        return new ImageGenerationOptions(steps, guidanceScale, newWidth, newHeight, negativePrompt, seed);
    }

    /** Copy with {@code negativePrompt} replaced. */
    public ImageGenerationOptions withNegativePrompt(String v) {
        return new ImageGenerationOptions(steps, guidanceScale, width, height, v, seed);
    }

    /** Copy with {@code seed} replaced (null = random). */
    public ImageGenerationOptions withSeed(Long v) {
        return new ImageGenerationOptions(steps, guidanceScale, width, height, negativePrompt, v);
    }
}
