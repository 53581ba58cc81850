package dev.nextgpt.train.trainer;

import ai.djl.ndarray.types.DataType;
import dev.nextgpt.InvalidInputException;

import java.util.Locale;

/**
 * Training precision: the master weights, gradients and AdamW state stay float32; {@code FP16} / {@code BF16} run
 * the forward (and so the backward) in that type, casting the weights on the autograd graph, with the loss in
 * float32. {@code FP16} adds dynamic loss scaling. Meant for GPUs; on a CPU float32 is the default (half types are
 * slower there). {@code BF16} is refused with an {@link dev.nextgpt.UnsupportedConfigurationException}: DJL 0.35.1's
 * PyTorch engine has no bfloat16 tensors (the native library aborts on them).
 */
public enum Precision {
    FP32(DataType.FLOAT32), FP16(DataType.FLOAT16), BF16(DataType.BFLOAT16);

    private final DataType computeType;

    Precision(DataType computeType) {
        this.computeType = computeType;
    }

    /** The forward's compute type. */
    public DataType computeType() {
        return computeType;
    }

    /** {@code "fp32" | "fp16" | "bf16"} (case-insensitive). */
    public static Precision parse(String s) {
        try {
            return valueOf(s.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new InvalidInputException("precision must be \"fp32\", \"fp16\" or \"bf16\", not \"" + s + "\"");
        }
    }
}
