package dev.nextgpt;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * One user message: ordered parts (text and media), plus optional system prompt, options, prior history and a
 * cancellation token. Immutable.
 *
 * @param parts        the user's parts in order; at least one; {@link MediaRequestPart} is not accepted as input
 * @param systemPrompt replaces the template's system prompt when non-null
 * @param options      generation options, or null to use the instance's defaults
 *                     ({@link NextGptBuilder#withGenerationOptions(GenerationOptions)})
 * @param history      earlier turns to put in the prompt, oldest first (empty for a single-shot chat; a
 *                     {@link Conversation} fills it in)
 * @param cancellation token the caller may cancel from another thread; never null
 */
public record ChatRequest(List<Part> parts, String systemPrompt, GenerationOptions options, List<Turn> history,
        CancellationToken cancellation) {

    /** Validates the parts and copies the lists. */
    public ChatRequest {
        Checks.notNull("ChatRequest.parts", parts);
        if (parts.isEmpty()) {
            throw new InvalidInputException("ChatRequest needs at least one part, got none");
        }
        for (int i = 0; i < parts.size(); i++) {
            Part p = parts.get(i);
            if (p == null) {
                throw new InvalidInputException("ChatRequest.parts[" + i + "] is null");
            }
            if (p instanceof MediaRequestPart) {
                throw new InvalidInputException("ChatRequest.parts[" + i + "] is a MediaRequestPart, which is an "
                        + "output-only part");
            }
        }
        parts = List.copyOf(parts);
        history = history == null ? List.of() : List.copyOf(history);
        cancellation = cancellation == null ? new CancellationToken() : cancellation;
    }

    /** A request made of these parts, with default everything else. */
    public static ChatRequest of(Part... parts) {
        Checks.notNull("parts", parts);
        return new ChatRequest(List.of(parts), null, null, List.of(), null);
    }

    /** A text-only request. */
    public static ChatRequest ofText(String text) {
        return of(TextPart.of(text));
    }

    /** A new builder. */
    public static Builder builder() {
        return new Builder();
    }

    /** The options to use: this request's, or {@code defaults} when it has none. */
    public GenerationOptions optionsOr(GenerationOptions defaults) {
        return options != null ? options : defaults;
    }

    /** The concatenation of the text parts, separated by newlines. */
    public String text() {
        StringBuilder sb = new StringBuilder();
        for (Part p : parts) {
            if (p instanceof TextPart t) {
                if (sb.length() > 0) {
                    sb.append('\n');
                }
                sb.append(t.text());
            }
        }
        return sb.toString();
    }

    /** Copy with the history replaced. */
    public ChatRequest withHistory(List<Turn> newHistory) {
        return new ChatRequest(parts, systemPrompt, options, newHistory, cancellation);
    }

    /** Copy with the system prompt replaced. */
    public ChatRequest withSystemPrompt(String newSystemPrompt) {
        return new ChatRequest(parts, newSystemPrompt, options, history, cancellation);
    }

    /** Copy with the options replaced. */
    public ChatRequest withOptions(GenerationOptions newOptions) {
        return new ChatRequest(parts, systemPrompt, newOptions, history, cancellation);
    }

    /** Builds a {@link ChatRequest} part by part; media factories read files eagerly and fail fast. */
    public static final class Builder {
        private final List<Part> parts = new ArrayList<>();
        private String systemPrompt;
        private GenerationOptions options;
        private List<Turn> history = List.of();
        private CancellationToken cancellation;

        private Builder() {
        }

        /** Appends a text part. */
        public Builder text(String text) {
            return part(TextPart.of(text));
        }

        /** Appends an image read from a file ({@link ImagePart#fromFile(Path)}). */
        public Builder image(Path path) {
            return part(ImagePart.fromFile(path));
        }

        /** Appends an in-memory image. */
        public Builder image(BufferedImage image) {
            return part(ImagePart.fromImage(image));
        }

        /** Appends audio read from a WAV file ({@link AudioPart#fromFile(Path)}). */
        public Builder audio(Path path) {
            return part(AudioPart.fromFile(path));
        }

        /** Appends a video file reference ({@link VideoPart#fromFile(Path)}). */
        public Builder video(Path path) {
            return part(VideoPart.fromFile(path));
        }

        /** Appends any part. */
        public Builder part(Part part) {
            parts.add(Checks.notNull("part", part));
            return this;
        }

        /** Appends parts in order. */
        public Builder parts(Part... more) {
            for (Part p : Checks.notNull("parts", more)) {
                part(p);
            }
            return this;
        }

        /** Sets the system prompt (null = the template's). */
        public Builder systemPrompt(String prompt) {
            this.systemPrompt = prompt;
            return this;
        }

        /** Sets all options (null = the instance's defaults). */
        public Builder options(GenerationOptions opts) {
            this.options = opts;
            return this;
        }

        /** Sets the text options, starting from {@link GenerationOptions#defaults()} if no options were set. */
        public Builder textOptions(TextGenerationOptions opts) {
            this.options = base().withText(opts);
            return this;
        }

        /** Sets the image options, starting from {@link GenerationOptions#defaults()} if no options were set. */
        public Builder imageOptions(ImageGenerationOptions opts) {
            this.options = base().withImage(opts);
            return this;
        }

        /** Sets the video options, starting from {@link GenerationOptions#defaults()} if no options were set. */
        public Builder videoOptions(VideoGenerationOptions opts) {
            this.options = base().withVideo(opts);
            return this;
        }

        /** Sets the audio options, starting from {@link GenerationOptions#defaults()} if no options were set. */
        public Builder audioOptions(AudioGenerationOptions opts) {
            this.options = base().withAudio(opts);
            return this;
        }

        /** Sets the prior turns, oldest first. */
        public Builder history(List<Turn> turns) {
            this.history = Checks.notNull("history", turns);
            return this;
        }

        /** Sets the cancellation token (default: a fresh one). */
        public Builder cancellation(CancellationToken token) {
            this.cancellation = token;
            return this;
        }

        /** Builds the request. */
        public ChatRequest build() {
            return new ChatRequest(parts, systemPrompt, options, history, cancellation);
        }

        private GenerationOptions base() {
            return options != null ? options : GenerationOptions.defaults();
        }
    }
}
