package dev.nextgpt;

/**
 * All generation settings of one request: text sampling plus the three diffusion decoders.
 *
 * @param text  LLM sampling options
 * @param image image decoder options
 * @param video video decoder options
 * @param audio audio decoder options
 */
public record GenerationOptions(TextGenerationOptions text, ImageGenerationOptions image,
        VideoGenerationOptions video, AudioGenerationOptions audio) {

    private static final GenerationOptions DEFAULTS = new GenerationOptions(TextGenerationOptions.defaults(),
            ImageGenerationOptions.defaults(), VideoGenerationOptions.defaults(), AudioGenerationOptions.defaults());

    /** Rejects nulls. */
    public GenerationOptions {
        Checks.notNull("GenerationOptions.text", text);
        Checks.notNull("GenerationOptions.image", image);
        Checks.notNull("GenerationOptions.video", video);
        Checks.notNull("GenerationOptions.audio", audio);
    }

    /** The defaults of the original system (see each options record). */
    public static GenerationOptions defaults() {
        return DEFAULTS;
    }

    /** Copy with the text options replaced. */
    public GenerationOptions withText(TextGenerationOptions v) {
        return new GenerationOptions(v, image, video, audio);
    }

    /** Copy with the image options replaced. */
    public GenerationOptions withImage(ImageGenerationOptions v) {
        return new GenerationOptions(text, v, video, audio);
    }

    /** Copy with the video options replaced. */
    public GenerationOptions withVideo(VideoGenerationOptions v) {
        return new GenerationOptions(text, image, v, audio);
    }

    /** Copy with the audio options replaced. */
    public GenerationOptions withAudio(AudioGenerationOptions v) {
        return new GenerationOptions(text, image, video, v);
    }
}
