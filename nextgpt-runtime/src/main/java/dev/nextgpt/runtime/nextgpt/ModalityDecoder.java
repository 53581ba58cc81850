package dev.nextgpt.runtime.nextgpt;

import ai.djl.ndarray.NDArray;
import dev.nextgpt.Part;

import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * A media decoder of NExT-GPT (reference §5): takes the output projector's conditioning and produces one media
 * {@link Part}. Implementations: {@link StableDiffusionDecoder} (image), {@link VideoDiffusionDecoder} (Zeroscope video), {@link
 * AudioDiffusionDecoder} (AudioLDM audio). A requested modality without a decoder is
 * answered with a {@link dev.nextgpt.MediaRequestPart} carrying the conditioning.
 */
public interface ModalityDecoder extends AutoCloseable {

    /**
     * Settings of one decoding call; null fields take the decoder's defaults. {@code negativePrompt} replaces the
     * empty unconditional prompt (encoded with the decoder's own text encoder); {@code fps} is the frame rate written
     * into a video part.
     */
    record Options(Integer steps, Double guidanceScale, Long seed, NDArray initialLatents, Integer height,
                   Integer width, Integer frames, Double seconds, String negativePrompt, Double fps) {
        public static Options defaults() {
            return new Options(null, null, null, null, null, null, null, null, null, null);
        }

        public Options withSteps(Integer n) {
            return new Options(n, guidanceScale, seed, initialLatents, height, width, frames, seconds, negativePrompt,
                    fps);
        }

        public Options withGuidanceScale(Double g) {
            return new Options(steps, g, seed, initialLatents, height, width, frames, seconds, negativePrompt, fps);
        }

        public Options withSeed(Long s) {
            return new Options(steps, guidanceScale, s, initialLatents, height, width, frames, seconds, negativePrompt,
                    fps);
        }

        public Options withInitialLatents(NDArray latents) {
            return new Options(steps, guidanceScale, seed, latents, height, width, frames, seconds, negativePrompt,
                    fps);
        }

        public Options withSize(Integer h, Integer w) {
            return new Options(steps, guidanceScale, seed, initialLatents, h, w, frames, seconds, negativePrompt, fps);
        }

        public Options withFrames(Integer f) {
            return new Options(steps, guidanceScale, seed, initialLatents, height, width, f, seconds, negativePrompt,
                    fps);
        }

        public Options withSeconds(Double s) {
            return new Options(steps, guidanceScale, seed, initialLatents, height, width, frames, s, negativePrompt,
                    fps);
        }

        public Options withNegativePrompt(String p) {
            return new Options(steps, guidanceScale, seed, initialLatents, height, width, frames, seconds, p, fps);
        }

        public Options withFps(Double f) {
            return new Options(steps, guidanceScale, seed, initialLatents, height, width, frames, seconds,
                    negativePrompt, f);
        }
    }

    /** Receives one call per finished denoising step. */
    @FunctionalInterface
    interface Progress {
        Progress NONE = (step, total) -> {
        };

        void onStep(int step, int totalSteps);
    }

    /** The produced media and named intermediate tensors (e.g. {@code sd.final_latents}), owned by the caller's manager. */
    record Output(Part part, Map<String, NDArray> tensors) {
    }

    Modality modality();

    /**
     * Shape of the conditioning this decoder accepts, batch axis included (e.g. {@code [1, 77, 768]} or
     * {@code [1, 512]}), as read from the decoder's config.
     */
    long[] conditioningShape();

    /**
     * Decodes {@code conditioning} (shape {@link #conditioningShape()}). Intermediate arrays are scoped to the call;
     * returned tensors belong to {@code conditioning}'s manager. {@code cancelled} is polled between steps; a
     * cancelled call throws {@link java.util.concurrent.CancellationException}.
     */
    Output decode(NDArray conditioning, Options options, Progress progress, BooleanSupplier cancelled);

    @Override
    void close();
}
