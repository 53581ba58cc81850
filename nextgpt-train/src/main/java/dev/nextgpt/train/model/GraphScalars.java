package dev.nextgpt.train.model;

import ai.djl.ndarray.NDArray;

/**
 * Arithmetic with Java numbers for arrays that autograd records. DJL's {@code NDArray.mul(Number)},
 * {@code div(Number)}, {@code maximum(Number)} … wrap the number in a 0-d tensor over a direct {@code ByteBuffer}
 * (zero-copy {@code from_blob}) and close it right after the op. PyTorch saves that tensor for the backward pass
 * ({@code mul}/{@code div} save the other operand, {@code maximum} both), but once closed nothing keeps the buffer
 * reachable, so a garbage collection before {@code backward} frees its memory and the gradient is computed from
 * whatever was written there since (NaN, 0, huge values). Here the scalar is created in the operand's manager (the
 * forward's scope), which keeps it alive until the scope closes after the backward pass.
 */
final class GraphScalars {
    private GraphScalars() {
    }

    /**
     * The 0-d array DJL would make for {@code value} ({@code NDManager.create(Number)}: the boxed type decides the
     * data type, so results are the same as with the {@code Number} overloads), owned by {@code like}'s manager.
     */
    static NDArray scalar(NDArray like, Number value) {
        return like.getManager().create(value);
    }

    static NDArray mul(NDArray x, Number value) {
        return x.mul(scalar(x, value));
    }

    static NDArray div(NDArray x, Number value) {
        return x.div(scalar(x, value));
    }

    static NDArray add(NDArray x, Number value) {
        return x.add(scalar(x, value));
    }

    static NDArray maximum(NDArray x, Number value) {
        return x.maximum(scalar(x, value));
    }
}
