package dev.nextgpt;

import java.util.Locale;

/**
 * The device the networks run on: the CPU or one GPU by index.
 *
 * @param kind  CPU or GPU
 * @param index GPU index (0-based); always 0 for the CPU
 */
public record DeviceSpec(Kind kind, int index) {

    /** Device family. */
    public enum Kind {
        /** The host CPU. */
        CPU,
        /** A CUDA GPU. */
        GPU
    }

    /** Validates the index (CPU: 0; GPU: {@code >= 0}). */
    public DeviceSpec {
        if (kind == null) {
            throw new InvalidInputException("DeviceSpec.kind must not be null");
        }
        if (kind == Kind.CPU && index != 0) {
            throw new InvalidInputException("DeviceSpec.index must be 0 for the CPU, got " + index);
        }
        if (index < 0) {
            throw new InvalidInputException("DeviceSpec.index must be >= 0, got " + index);
        }
    }

    /** The host CPU. */
    public static DeviceSpec cpu() {
        return new DeviceSpec(Kind.CPU, 0);
    }

    /** GPU 0. */
    public static DeviceSpec gpu() {
        return gpu(0);
    }

    /** The GPU with the given 0-based index. */
    public static DeviceSpec gpu(int index) {
        return new DeviceSpec(Kind.GPU, index);
    }

    /**
     * Parses {@code "cpu"}, {@code "gpu"}, {@code "gpu:N"}, {@code "cuda"} or {@code "cuda:N"} (case-insensitive).
     *
     * @throws InvalidInputException for anything else
     */
    public static DeviceSpec parse(String text) {
        if (text == null) {
            throw new InvalidInputException("device must not be null");
        }
        String t = text.trim().toLowerCase(Locale.ROOT);
        if (t.equals("cpu")) {
            return cpu();
        }
        String[] p = t.split(":", -1);
        if ((p[0].equals("gpu") || p[0].equals("cuda")) && p.length <= 2) {
            if (p.length == 1) {
                return gpu();
            }
            try {
                return gpu(Integer.parseInt(p[1]));
            } catch (NumberFormatException e) {
                // fall through to the error below
            }
        }
        throw new InvalidInputException("unknown device '" + text + "': expected cpu, gpu, gpu:N or cuda:N");
    }

    /** True for the CPU. */
    public boolean isCpu() {
        return kind == Kind.CPU;
    }

    /** {@code "cpu"} or {@code "gpu:N"}; accepted by {@link #parse(String)}. */
    @Override
    public String toString() {
        return kind == Kind.CPU ? "cpu" : "gpu:" + index;
    }
}
