package dev.nextgpt.runtime.io;

import dev.nextgpt.ModelFormatException;

/** Element types of stored tensors, with their safetensors spelling and width in bytes. */
public enum TensorDType {
    F64("F64", 8, true),
    F32("F32", 4, true),
    F16("F16", 2, true),
    BF16("BF16", 2, true),
    I64("I64", 8, false),
    I32("I32", 4, false),
    I16("I16", 2, false),
    I8("I8", 1, false),
    U8("U8", 1, false),
    BOOL("BOOL", 1, false);

    private final String safetensorsName;
    private final int byteSize;
    private final boolean floatingPoint;

    TensorDType(String safetensorsName, int byteSize, boolean floatingPoint) {
        this.safetensorsName = safetensorsName;
        this.byteSize = byteSize;
        this.floatingPoint = floatingPoint;
    }

    public String safetensorsName() {
        return safetensorsName;
    }

    public int byteSize() {
        return byteSize;
    }

    public boolean isFloatingPoint() {
        return floatingPoint;
    }

    /** Parses the safetensors header spelling ("F32", "BF16", ...). */
    public static TensorDType fromSafetensors(String name, String where) {
        for (TensorDType t : values()) {
            if (t.safetensorsName.equals(name)) {
                return t;
            }
        }
        throw new ModelFormatException(where + ": unsupported safetensors dtype '" + name + "'");
    }
}
