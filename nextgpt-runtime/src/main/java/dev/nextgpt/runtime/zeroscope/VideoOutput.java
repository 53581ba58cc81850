package dev.nextgpt.runtime.zeroscope;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.InvalidInputException;

/**
 * The text-to-video pipeline's output conversions of the decoded {@code video (B, 3, F, H, W)} (raw VAE output,
 * about [-1, 1]).
 */
public final class VideoOutput {
    private VideoOutput() {
    }

    /**
     * NExT-GPT / diffusers 0.17 {@code tensor2vid}: {@code x·0.5 + 0.5}, clamp to [0, 1], permute to
     * {@code (F, H, B, W, C)} and reshape to {@code (F, H, B·W, C)} (batch items side by side along the width),
     * then {@code uint8(x·255)}, truncating.
     */
    public static NDArray tensor2vidUint8(NDArray video) {
        Shape s = check(video);
        long b = s.get(0);
        long c = s.get(1);
        long f = s.get(2);
        long h = s.get(3);
        long w = s.get(4);
        NDArray x = video.mul(0.5f).add(0.5f).clip(0f, 1f).transpose(2, 3, 0, 4, 1).reshape(f, h, b * w, c);
        return x.mul(255f).toType(DataType.UINT8, false);
    }

    /**
     * diffusers ≥ 0.2x {@code TextToVideoSDPipeline} output ({@code output_type="np"} before uint8):
     * {@code (B, F, H, W, C)} float in [0, 1], {@code (x/2 + 0.5).clamp(0, 1)}.
     */
    public static NDArray float01Frames(NDArray video) {
        check(video);
        return video.div(2f).add(0.5f).clip(0f, 1f).transpose(0, 2, 3, 4, 1);
    }

    private static Shape check(NDArray video) {
        Shape s = video.getShape();
        if (s.dimension() != 5) {
            throw new InvalidInputException("video must be (B, C, F, H, W), got " + s);
        }
        return s;
    }
}
