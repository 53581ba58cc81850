package dev.nextgpt.runtime.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.UnsupportedConfigurationException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;

/**
 * Conversions between stored tensor bytes and DJL arrays or Java arrays. BF16 and F16 are widened to F32 in Java
 * (creating a BF16 NDArray from a buffer crashes the PyTorch engine of DJL 0.35.1 natively).
 */
public final class TensorConversions {
    private TensorConversions() {
    }

    /** Maps a stored dtype to DJL's. */
    public static DataType toDjl(TensorDType t) {
        return switch (t) {
            case F64 -> DataType.FLOAT64;
            case F32 -> DataType.FLOAT32;
            case F16 -> DataType.FLOAT16;
            case BF16 -> DataType.BFLOAT16;
            case I64 -> DataType.INT64;
            case I32 -> DataType.INT32;
            case I16 -> DataType.INT16;
            case I8 -> DataType.INT8;
            case U8 -> DataType.UINT8;
            case BOOL -> DataType.BOOLEAN;
        };
    }

    /** Maps a DJL dtype to the stored dtype used when writing. */
    public static TensorDType fromDjl(DataType t) {
        return switch (t) {
            case FLOAT64 -> TensorDType.F64;
            case FLOAT32 -> TensorDType.F32;
            case FLOAT16 -> TensorDType.F16;
            case BFLOAT16 -> TensorDType.BF16;
            case INT64 -> TensorDType.I64;
            case INT32 -> TensorDType.I32;
            case INT16 -> TensorDType.I16;
            case INT8 -> TensorDType.I8;
            case UINT8 -> TensorDType.U8;
            case BOOLEAN -> TensorDType.BOOL;
            default -> throw new UnsupportedConfigurationException("cannot store DJL dtype " + t);
        };
    }

    /**
     * Creates an NDArray from stored bytes. {@code target == null} means: floating point to FLOAT32, others as stored.
     */
    public static NDArray toNDArray(NDManager manager, TensorInfo info, ByteBuffer raw, DataType target) {
        return toNDArray(manager, info, raw, target, true);
    }

    /**
     * Creates an NDArray from stored bytes. With {@code copy == false} and an F32/integer tensor whose bytes are a
     * direct buffer, the array shares the (possibly memory-mapped, read-only) memory: it must never be modified in
     * place and must not outlive the store. With {@code copy == true} the array owns native memory of its own.
     */
    public static NDArray toNDArray(NDManager manager, TensorInfo info, ByteBuffer raw, DataType target,
                                    boolean copy) {
        checkSize(info, raw);
        Shape shape = new Shape(info.shape());
        TensorDType dt = info.dtype();
        DataType want = target != null ? target : (dt.isFloatingPoint() ? DataType.FLOAT32 : toDjl(dt));
        ByteBuffer direct;
        DataType stored;
        boolean shared;
        if (dt == TensorDType.BF16 || dt == TensorDType.F16) {
            direct = ByteBuffer.allocateDirect(Math.toIntExact(info.numel() * 4)).order(ByteOrder.nativeOrder());
            widenHalf(dt, raw, direct.asFloatBuffer());
            stored = DataType.FLOAT32;
            shared = false;
        } else if (raw.isDirect()) {
            direct = raw.duplicate().order(ByteOrder.nativeOrder());
            direct.rewind();
            stored = toDjl(dt);
            shared = true;
        } else {
            direct = copyDirect(raw);
            stored = toDjl(dt);
            shared = false;
        }
        // DJL's PyTorch engine wraps direct buffers without copying: clone into torch-owned memory unless sharing
        // was asked for, so that neither a read-only mapping nor a collected Java buffer backs the result.
        NDArray view = manager.create(direct, shape, stored);
        NDArray array;
        if (view.getDataType() != want) {
            array = view.toType(want, true);
            view.close();
        } else if (copy || !shared) {
            array = view.duplicate();
            view.close();
        } else {
            array = view;
        }
        java.lang.ref.Reference.reachabilityFence(direct);
        LoadProgress.loaded(info);
        return array;
    }

    private static ByteBuffer copyDirect(ByteBuffer raw) {
        ByteBuffer src = raw.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        src.rewind();
        ByteBuffer d = ByteBuffer.allocateDirect(src.remaining()).order(ByteOrder.nativeOrder());
        d.put(src);
        d.flip();
        return d;
    }

    private static void widenHalf(TensorDType dt, ByteBuffer raw, FloatBuffer out) {
        ShortBuffer in = raw.duplicate().order(ByteOrder.LITTLE_ENDIAN).rewind().slice()
                .order(ByteOrder.LITTLE_ENDIAN).asShortBuffer();
        int n = in.remaining();
        if (dt == TensorDType.BF16) {
            for (int i = 0; i < n; i++) {
                out.put(i, Float.intBitsToFloat((in.get(i) & 0xffff) << 16));
            }
        } else {
            for (int i = 0; i < n; i++) {
                out.put(i, halfToFloat(in.get(i)));
            }
        }
    }

    /** IEEE 754 binary16 to float. */
    public static float halfToFloat(short bits) {
        int h = bits & 0xffff;
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1f;
        int mant = h & 0x3ff;
        if (exp == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        }
        if (exp == 0) {
            if (mant == 0) {
                return Float.intBitsToFloat(sign);
            }
            float v = mant * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    /** Float to IEEE 754 binary16 with round-to-nearest-even. */
    public static short floatToHalf(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int exp = (bits >>> 23) & 0xff;
        int mant = bits & 0x7fffff;
        if (exp == 0xff) {
            return (short) (sign | 0x7c00 | (mant != 0 ? 0x200 : 0));
        }
        int e = exp - 127 + 15;
        if (e >= 0x1f) {
            return (short) (sign | 0x7c00);
        }
        if (e <= 0) {
            if (e < -10) {
                return (short) sign;
            }
            mant |= 0x800000;
            int shift = 14 - e;
            int half = mant >> shift;
            int rem = mant & ((1 << shift) - 1);
            int mid = 1 << (shift - 1);
            if (rem > mid || (rem == mid && (half & 1) != 0)) {
                half++;
            }
            return (short) (sign | half);
        }
        int half = (e << 10) | (mant >> 13);
        int rem = mant & 0x1fff;
        if (rem > 0x1000 || (rem == 0x1000 && (half & 1) != 0)) {
            half++;
        }
        return (short) (sign | half);
    }

    /** Float to bfloat16 with round-to-nearest-even. */
    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) {
            return (short) ((bits >>> 16) | 0x40);
        }
        int rounding = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    /** Reads any numeric tensor as floats. */
    public static float[] toFloats(TensorInfo info, ByteBuffer raw) {
        checkSize(info, raw);
        int n = Math.toIntExact(info.numel());
        float[] out = new float[n];
        ByteBuffer b = raw.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        b.rewind();
        switch (info.dtype()) {
            case F32 -> b.asFloatBuffer().get(out);
            case F64 -> { for (int i = 0; i < n; i++) out[i] = (float) b.getDouble(i * 8); }
            case F16 -> { for (int i = 0; i < n; i++) out[i] = halfToFloat(b.getShort(i * 2)); }
            case BF16 -> { for (int i = 0; i < n; i++) out[i] = Float.intBitsToFloat((b.getShort(i * 2) & 0xffff) << 16); }
            case I64 -> { for (int i = 0; i < n; i++) out[i] = b.getLong(i * 8); }
            case I32 -> { for (int i = 0; i < n; i++) out[i] = b.getInt(i * 4); }
            case I16 -> { for (int i = 0; i < n; i++) out[i] = b.getShort(i * 2); }
            case I8 -> { for (int i = 0; i < n; i++) out[i] = b.get(i); }
            case U8, BOOL -> { for (int i = 0; i < n; i++) out[i] = b.get(i) & 0xff; }
        }
        return out;
    }

    /** Reads an integer or bool tensor as longs (floats are rejected). */
    public static long[] toLongs(TensorInfo info, ByteBuffer raw) {
        checkSize(info, raw);
        int n = Math.toIntExact(info.numel());
        long[] out = new long[n];
        ByteBuffer b = raw.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        b.rewind();
        switch (info.dtype()) {
            case I64 -> b.asLongBuffer().get(out);
            case I32 -> { for (int i = 0; i < n; i++) out[i] = b.getInt(i * 4); }
            case I16 -> { for (int i = 0; i < n; i++) out[i] = b.getShort(i * 2); }
            case I8 -> { for (int i = 0; i < n; i++) out[i] = b.get(i); }
            case U8, BOOL -> { for (int i = 0; i < n; i++) out[i] = b.get(i) & 0xff; }
            default -> throw new ModelFormatException("tensor '" + info.name() + "' has dtype " + info.dtype()
                    + "; an integer tensor was expected");
        }
        return out;
    }

    private static void checkSize(TensorInfo info, ByteBuffer raw) {
        if (raw.capacity() != info.byteSize()) {
            throw new ModelFormatException("tensor '" + info.name() + "' " + info.dtype() + info.shapeString()
                    + " needs " + info.byteSize() + " bytes but " + raw.capacity() + " are stored");
        }
    }
}
