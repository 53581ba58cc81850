package dev.nextgpt;

/**
 * How the audio diffusion decoder (AudioLDM) runs. Defaults follow the legacy demo: 50 steps, guidance 7.5,
 * 9 seconds of 16 kHz audio, no negative prompt, no seed.
 *
 * @param steps          denoising steps, in [1, 1000]; default 50
 * @param guidanceScale  classifier-free guidance, in [0, 100]; {@code <= 1} disables guidance; default 7.5
 * @param seconds        audio length in seconds, in (0, 60]; default 9.0
 * @param negativePrompt replaces the empty unconditional prompt when non-null
 * @param seed           initial-noise seed, or null for a random one
 */
public record AudioGenerationOptions(int steps, double guidanceScale, double seconds, String negativePrompt,
        Long seed) {

    private static final AudioGenerationOptions DEFAULTS = new AudioGenerationOptions(50, 7.5, 9.0, null, null);

    /** Validates every field; the message names the field and the value. */
    public AudioGenerationOptions {
        Checks.intRange("AudioGenerationOptions.steps", steps, 1, 1000);
        Checks.doubleRange("AudioGenerationOptions.guidanceScale", guidanceScale, 0, false, 100);
        Checks.doubleRange("AudioGenerationOptions.seconds", seconds, 0, true, 60);
    }

    /** The defaults described above. */
    public static AudioGenerationOptions defaults() {
        return DEFAULTS;
    }

    /** Copy with {@code steps} replaced. */
    public AudioGenerationOptions withSteps(int v) {
        return new AudioGenerationOptions(v, guidanceScale, seconds, negativePrompt, seed);
    }

    /** Copy with {@code guidanceScale} replaced. */
    public AudioGenerationOptions withGuidanceScale(double v) {
        return new AudioGenerationOptions(steps, v, seconds, negativePrompt, seed);
    }

    /** Copy with {@code seconds} replaced. */
    public AudioGenerationOptions withSeconds(double v) {
        return new AudioGenerationOptions(steps, guidanceScale, v, negativePrompt, seed);
    }

    /** Copy with {@code negativePrompt} replaced. */
    public AudioGenerationOptions withNegativePrompt(String v) {
        return new AudioGenerationOptions(steps, guidanceScale, seconds, v, seed);
    }

    /** Copy with {@code seed} replaced (null = random). */
    public AudioGenerationOptions withSeed(Long v) {
        return new AudioGenerationOptions(steps, guidanceScale, seconds, negativePrompt, v);
    }
}
