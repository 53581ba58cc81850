package dev.nextgpt.runtime.io;

import dev.nextgpt.ModelFormatException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * A minimal read-only zip reader (central directory, zip64, STORED and DEFLATED entries) that reports where each
 * entry's bytes start in the file, so that STORED entries (what {@code torch.save} writes) can be memory-mapped in
 * place. The channel is owned by the caller.
 */
final class ZipArchive {
    static final int STORED = 0;
    static final int DEFLATED = 8;

    /** One entry: name, compression method, sizes and the absolute offset of its local header. */
    record Entry(String name, int method, long compressedSize, long size, long localHeaderOffset) {
    }

    private static final int EOCD_SIG = 0x06054b50;
    private static final int ZIP64_EOCD_SIG = 0x06064b50;
    private static final int ZIP64_LOCATOR_SIG = 0x07064b50;
    private static final int CENTRAL_SIG = 0x02014b50;
    private static final int LOCAL_SIG = 0x04034b50;
    private static final long MAX_CENTRAL_DIRECTORY = 256L * 1024 * 1024;

    private final Path path;
    private final FileChannel channel;
    private final long fileSize;
    private final Map<String, Entry> entries;

    private ZipArchive(Path path, FileChannel channel, long fileSize, Map<String, Entry> entries) {
        this.path = path;
        this.channel = channel;
        this.fileSize = fileSize;
        this.entries = entries;
    }

    /** Reads the central directory of a zip file. */
    static ZipArchive read(Path path, FileChannel ch) throws IOException {
        long size = ch.size();
        if (size < 22) {
            throw new ModelFormatException(path + ": truncated zip file (" + size + " bytes, no end of central directory)");
        }
        int tailLen = (int) Math.min(size, 22 + 65535);
        ByteBuffer tail = readAt(ch, size - tailLen, tailLen);
        int eocd = -1;
        for (int i = tailLen - 22; i >= 0; i--) {
            if (tail.getInt(i) == EOCD_SIG) {
                eocd = i;
                break;
            }
        }
        if (eocd < 0) {
            throw new ModelFormatException(path + ": zip end-of-central-directory record not found"
                    + " (the file is truncated or not a zip archive)");
        }
        long count = tail.getShort(eocd + 10) & 0xffffL;
        long cdSize = tail.getInt(eocd + 12) & 0xffffffffL;
        long cdOffset = tail.getInt(eocd + 16) & 0xffffffffL;
        long eocdPos = size - tailLen + eocd;
        if ((count == 0xffff || cdSize == 0xffffffffL || cdOffset == 0xffffffffL) && eocdPos >= 20) {
            ByteBuffer loc = readAt(ch, eocdPos - 20, 20);
            if (loc.getInt(0) == ZIP64_LOCATOR_SIG) {
                long z64 = loc.getLong(8);
                if (z64 < 0 || z64 + 56 > size) {
                    throw new ModelFormatException(path + ": zip64 end-of-central-directory offset " + z64
                            + " lies outside the file");
                }
                ByteBuffer r = readAt(ch, z64, 56);
                if (r.getInt(0) != ZIP64_EOCD_SIG) {
                    throw new ModelFormatException(path + ": corrupt zip64 end-of-central-directory record");
                }
                count = r.getLong(32);
                cdSize = r.getLong(40);
                cdOffset = r.getLong(48);
            }
        }
        if (cdOffset < 0 || cdSize < 0 || cdSize > MAX_CENTRAL_DIRECTORY || cdOffset + cdSize > size) {
            throw new ModelFormatException(path + ": zip central directory [" + cdOffset + ", +" + cdSize
                    + "] lies outside the file of " + size + " bytes (truncated or corrupt)");
        }
        ByteBuffer cd = readAt(ch, cdOffset, (int) cdSize);
        Map<String, Entry> map = new LinkedHashMap<>();
        int p = 0;
        for (long i = 0; i < count; i++) {
            if (p + 46 > cdSize || cd.getInt(p) != CENTRAL_SIG) {
                throw new ModelFormatException(path + ": corrupt zip central directory at entry " + i);
            }
            int method = cd.getShort(p + 10) & 0xffff;
            long csize = cd.getInt(p + 20) & 0xffffffffL;
            long usize = cd.getInt(p + 24) & 0xffffffffL;
            int nameLen = cd.getShort(p + 28) & 0xffff;
            int extraLen = cd.getShort(p + 30) & 0xffff;
            int commentLen = cd.getShort(p + 32) & 0xffff;
            long local = cd.getInt(p + 42) & 0xffffffffL;
            if (p + 46L + nameLen + extraLen + commentLen > cdSize) {
                throw new ModelFormatException(path + ": corrupt zip central directory at entry " + i);
            }
            byte[] nameBytes = new byte[nameLen];
            cd.get(p + 46, nameBytes);
            String name = new String(nameBytes, StandardCharsets.UTF_8);
            // zip64 extended information: present fields in order usize, csize, local offset
            int e = p + 46 + nameLen;
            int extraEnd = e + extraLen;
            while (e + 4 <= extraEnd) {
                int id = cd.getShort(e) & 0xffff;
                int len = cd.getShort(e + 2) & 0xffff;
                if (id == 0x0001) {
                    int q = e + 4;
                    if (usize == 0xffffffffL && q + 8 <= e + 4 + len) {
                        usize = cd.getLong(q);
                        q += 8;
                    }
                    if (csize == 0xffffffffL && q + 8 <= e + 4 + len) {
                        csize = cd.getLong(q);
                        q += 8;
                    }
                    if (local == 0xffffffffL && q + 8 <= e + 4 + len) {
                        local = cd.getLong(q);
                    }
                }
                e += 4 + len;
            }
            if (local < 0 || csize < 0 || usize < 0 || local + 30 > size) {
                throw new ModelFormatException(path + ": zip entry '" + name + "' lies outside the file (truncated)");
            }
            map.put(name, new Entry(name, method, csize, usize, local));
            p += 46 + nameLen + extraLen + commentLen;
        }
        return new ZipArchive(path, ch, size, Collections.unmodifiableMap(map));
    }

    Map<String, Entry> entries() {
        return entries;
    }

    Entry entry(String name) {
        return entries.get(name);
    }

    /** Absolute file offset of the first byte of an entry's (possibly compressed) data, bounds-checked. */
    long dataOffset(Entry e) throws IOException {
        ByteBuffer h = readAt(channel, e.localHeaderOffset(), 30);
        if (h.getInt(0) != LOCAL_SIG) {
            throw new ModelFormatException(path + ": zip entry '" + e.name() + "' has a corrupt local header");
        }
        int nameLen = h.getShort(26) & 0xffff;
        int extraLen = h.getShort(28) & 0xffff;
        long start = e.localHeaderOffset() + 30 + nameLen + extraLen;
        if (start + e.compressedSize() > fileSize) {
            throw new ModelFormatException(path + ": zip entry '" + e.name() + "' (" + e.compressedSize()
                    + " bytes at offset " + start + ") runs past the end of the file (" + fileSize
                    + " bytes); the file is truncated");
        }
        return start;
    }

    /** The uncompressed bytes of an entry, read into the heap (for small entries such as data.pkl). */
    ByteBuffer readEntry(Entry e) throws IOException {
        if (e.size() > Integer.MAX_VALUE - 16 || e.compressedSize() > Integer.MAX_VALUE - 16) {
            throw new ModelFormatException(path + ": zip entry '" + e.name() + "' is too large to read into memory ("
                    + e.size() + " bytes)");
        }
        long start = dataOffset(e);
        ByteBuffer raw = readAt(channel, start, (int) e.compressedSize());
        return switch (e.method()) {
            case STORED -> {
                if (e.compressedSize() != e.size()) {
                    throw new ModelFormatException(path + ": stored zip entry '" + e.name() + "' has inconsistent sizes");
                }
                yield raw;
            }
            case DEFLATED -> inflate(e, raw, ByteBuffer.allocate((int) e.size()));
            default -> throw new ModelFormatException(path + ": zip entry '" + e.name()
                    + "' uses unsupported compression method " + e.method());
        };
    }

    /** Inflates a DEFLATED entry into {@code out} (which must have exactly the entry's size remaining). */
    ByteBuffer inflate(Entry e, ByteBuffer compressed, ByteBuffer out) {
        Inflater inf = new Inflater(true);
        try {
            inf.setInput(compressed);
            while (out.hasRemaining()) {
                int n = inf.inflate(out);
                if (n == 0 && (inf.finished() || inf.needsDictionary() || inf.needsInput())) {
                    break;
                }
            }
            if (out.hasRemaining()) {
                throw new ModelFormatException(path + ": deflated zip entry '" + e.name() + "' inflates to fewer than "
                        + e.size() + " bytes (truncated or corrupt)");
            }
            out.flip();
            return out.order(ByteOrder.LITTLE_ENDIAN);
        } catch (DataFormatException ex) {
            throw new ModelFormatException(path + ": corrupt deflate data in zip entry '" + e.name() + "': "
                    + ex.getMessage(), ex);
        } finally {
            inf.end();
        }
    }

    static ByteBuffer readAt(FileChannel ch, long pos, int len) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(len).order(ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining()) {
            int n = ch.read(b, pos + b.position());
            if (n < 0) {
                throw new IOException("unexpected end of file at offset " + (pos + b.position()));
            }
        }
        b.flip();
        return b;
    }
}
