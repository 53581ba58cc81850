package dev.nextgpt;

/**
 * How the video diffusion decoder (Zeroscope) runs. Defaults follow the legacy demo: 50 steps, guidance 7.5,
 * 24 frames of 320x576 (height x width), saved at 8 fps, no negative prompt, no seed.
 *
 * @param steps          denoising steps, in [1, 1000]; default 50
 * @param guidanceScale  classifier-free guidance, in [0, 100]; {@code <= 1} disables guidance; default 7.5
 * @param frames         frames to generate, in [1, 1024]; default 24
 * @param height         frame height, a multiple of 8 in [8, 4096]; default 320
 * @param width          frame width, a multiple of 8 in [8, 4096]; default 576
 * @param fps            playback frame rate of the result, in (0, 1000]; default 8
 * @param negativePrompt replaces the empty unconditional prompt when non-null
 * @param seed           initial-noise seed, or null for a random one
 */
public record VideoGenerationOptions(int steps, double guidanceScale, int frames, int height, int width, double fps,
        String negativePrompt, Long seed) {

    private static final VideoGenerationOptions DEFAULTS =
            new VideoGenerationOptions(50, 7.5, 24, 320, 576, 8, null, null);

    /** Validates every field; the message names the field and the value. */
    public VideoGenerationOptions {
        Checks.intRange("VideoGenerationOptions.steps", steps, 1, 1000);
        Checks.doubleRange("VideoGenerationOptions.guidanceScale", guidanceScale, 0, false, 100);
        Checks.intRange("VideoGenerationOptions.frames", frames, 1, 1024);
        Checks.multipleOf8("VideoGenerationOptions.height", height, 4096);
        Checks.multipleOf8("VideoGenerationOptions.width", width, 4096);
        Checks.doubleRange("VideoGenerationOptions.fps", fps, 0, true, 1000);
    }

    /** The defaults described above. */
    public static VideoGenerationOptions defaults() {
        return DEFAULTS;
    }

    /** Copy with {@code steps} replaced. */
    public VideoGenerationOptions withSteps(int v) {
        return new VideoGenerationOptions(v, guidanceScale, frames, height, width, fps, negativePrompt, seed);
    }

    /** Copy with {@code guidanceScale} replaced. */
    public VideoGenerationOptions withGuidanceScale(double v) {
        return new VideoGenerationOptions(steps, v, frames, height, width, fps, negativePrompt, seed);
    }

    /** Copy with {@code frames} replaced. */
    public VideoGenerationOptions withFrames(int v) {
        return new VideoGenerationOptions(steps, guidanceScale, v, height, width, fps, negativePrompt, seed);
    }

    /** Copy with the frame size replaced. */
    public VideoGenerationOptions withSize(int newWidth, int newHeight) {
        return new VideoGenerationOptions(steps, guidanceScale, frames, newHeight, newWidth, fps, negativePrompt, seed);
    }

    /** Copy with {@code fps} replaced. */
    public VideoGenerationOptions withFps(double v) {
        return new VideoGenerationOptions(steps, guidanceScale, frames, height, width, v, negativePrompt, seed);
    }

    /** Copy with {@code negativePrompt} replaced. */
    public VideoGenerationOptions withNegativePrompt(String v) {
        return new VideoGenerationOptions(steps, guidanceScale, frames, height, width, fps, v, seed);
    }

    /** Copy with {@code seed} replaced (null = random). */
    public VideoGenerationOptions withSeed(Long v) {
        return new VideoGenerationOptions(steps, guidanceScale, frames, height, width, fps, negativePrompt, v);
    }
}
