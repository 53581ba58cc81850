package dev.nextgpt.runtime.io;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.nextgpt.runtime.testutil.Golden;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;

/** Locates test resources (copied golden fixtures and generated files) and small comparison helpers. */
final class IoTestFiles {
    private IoTestFiles() {
    }

    static Path resource(String path) {
        return Golden.resource(path);
    }

    static Path golden(String path) {
        return resource("golden/" + path);
    }

    static Path generated(String path) {
        return resource("generated/" + path);
    }

    static JsonObject json(Path p) {
        try {
            return JsonParser.parseString(Files.readString(p)).getAsJsonObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static byte[] bytes(ByteBuffer b) {
        ByteBuffer d = b.duplicate();
        d.rewind();
        byte[] out = new byte[d.remaining()];
        d.get(out);
        return out;
    }

    static String hex(ByteBuffer b) {
        return HexFormat.of().formatHex(bytes(b));
    }
}
