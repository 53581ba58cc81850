package dev.nextgpt.train.data;

import dev.nextgpt.InvalidInputException;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.io.TensorConversions;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A numpy {@code .npy} array (format 1.0 / 2.0, little-endian {@code <f2}, {@code <f4}, {@code <f8}, C order), the
 * format of NExT-GPT's precomputed caption embeddings ({@code data/embed/<media name>.npy}, float16).
 */
public record NpyArray(long[] shape, float[] data) {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final Pattern DESCR = Pattern.compile("'descr':\\s*'([^']*)'");
    private static final Pattern ORDER = Pattern.compile("'fortran_order':\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape':\\s*\\(([^)]*)\\)");

    /** Reads a float {@code .npy} file (values widened to float32). */
    public static NpyArray read(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new InvalidInputException("cannot read embedding file " + file + ": " + e.getMessage(), e);
        }
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < MAGIC.length; i++) {
            if (bytes.length < 10 || bytes[i] != MAGIC[i]) {
                throw new ModelFormatException(file + " is not a .npy file");
            }
        }
        int major = bytes[6];
        int headerLen;
        int offset;
        if (major == 1) {
            headerLen = b.getShort(8) & 0xffff;
            offset = 10;
        } else {
            headerLen = b.getInt(8);
            offset = 12;
        }
        if (offset + headerLen > bytes.length) {
            throw new ModelFormatException(file + ": .npy header is truncated");
        }
        String header = new String(bytes, offset, headerLen, StandardCharsets.ISO_8859_1);
        Matcher d = DESCR.matcher(header);
        Matcher o = ORDER.matcher(header);
        Matcher s = SHAPE.matcher(header);
        if (!d.find() || !o.find() || !s.find()) {
            throw new ModelFormatException(file + ": malformed .npy header " + header.trim());
        }
        if (o.group(1).equals("True")) {
            throw new ModelFormatException(file + ": Fortran-ordered .npy arrays are not supported");
        }
        String descr = d.group(1);
        String[] dims = s.group(1).split(",");
        long[] shape = java.util.Arrays.stream(dims).map(String::trim).filter(x -> !x.isEmpty())
                .mapToLong(Long::parseLong).toArray();
        long n = 1;
        for (long x : shape) {
            n *= x;
        }
        int width = switch (descr) {
            case "<f2" -> 2;
            case "<f4" -> 4;
            case "<f8" -> 8;
            default -> throw new ModelFormatException(file + ": unsupported .npy dtype " + descr
                    + " (expected <f2, <f4 or <f8)");
        };
        int dataStart = offset + headerLen;
        if ((long) dataStart + n * width != bytes.length) {
            throw new ModelFormatException(file + ": .npy data is " + (bytes.length - dataStart) + " bytes, shape "
                    + java.util.Arrays.toString(shape) + " of " + descr + " needs " + n * width);
        }
        float[] out = new float[(int) n];
        for (int i = 0; i < n; i++) {
            int p = dataStart + i * width;
            out[i] = switch (width) {
                case 2 -> TensorConversions.halfToFloat(b.getShort(p));
                case 4 -> b.getFloat(p);
                default -> (float) b.getDouble(p);
            };
        }
        return new NpyArray(shape, out);
    }

    /** Writes a float16 {@code .npy} (format 1.0), atomically, as NExT-GPT's embedding precomputation does. */
    public void writeFloat16(Path file) {
        StringBuilder shp = new StringBuilder();
        for (long x : shape) {
            shp.append(x).append(", ");
        }
        String sh = shape.length == 1 ? shape[0] + "," : shp.substring(0, Math.max(0, shp.length() - 2));
        String header = "{'descr': '<f2', 'fortran_order': False, 'shape': (" + sh + "), }";
        int total = 10 + header.length() + 1;
        int pad = (64 - total % 64) % 64;
        header = header + " ".repeat(pad) + "\n";
        ByteBuffer b = ByteBuffer.allocate(10 + header.length() + data.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        b.put(MAGIC).put((byte) 1).put((byte) 0).putShort((short) header.length());
        b.put(header.getBytes(StandardCharsets.ISO_8859_1));
        for (float v : data) {
            b.putShort(TensorConversions.floatToHalf(v));
        }
        try {
            Path abs = file.toAbsolutePath();
            Files.createDirectories(abs.getParent());
            Path tmp = Files.createTempFile(abs.getParent(), "." + abs.getFileName(), ".tmp");
            Files.write(tmp, b.array());
            Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new InvalidInputException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }
}
