package dev.nextgpt.runtime.io;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.nextgpt.ModelFormatException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * A checkpoint split over several files and described by an HF index ({@code *.safetensors.index.json} or
 * {@code pytorch_model.bin.index.json}: {"weight_map": {tensor: file}}). Shards are opened lazily.
 */
public final class ShardedTensorStore extends RoutedTensorStore {
    private final Path indexFile;
    private final Map<String, String> weightMap;
    private final Map<String, TensorStore> shards = new LinkedHashMap<>();
    private final Function<Path, TensorStore> opener;

    private ShardedTensorStore(Path indexFile, Map<String, String> weightMap, Function<Path, TensorStore> opener) {
        this.indexFile = indexFile;
        this.weightMap = weightMap;
        this.opener = opener;
    }

    /** Opens an index file; each shard is opened with {@code opener} on first use. */
    public static ShardedTensorStore open(Path indexFile, Function<Path, TensorStore> opener) {
        JsonObject root;
        try {
            JsonElement parsed = JsonParser.parseString(Files.readString(indexFile));
            if (!parsed.isJsonObject()) {
                throw new ModelFormatException(indexFile + ": a checkpoint index must be a JSON object");
            }
            root = parsed.getAsJsonObject();
        } catch (IOException | RuntimeException e) {
            throw new ModelFormatException("cannot read checkpoint index " + indexFile + ": " + e.getMessage(), e);
        }
        JsonElement wm = root.get("weight_map");
        if (wm == null || !wm.isJsonObject()) {
            throw new ModelFormatException(indexFile + ": missing required key 'weight_map'");
        }
        Map<String, String> map = new TreeMap<>();
        Path dir = indexFile.toAbsolutePath().getParent();
        for (Map.Entry<String, JsonElement> e : wm.getAsJsonObject().entrySet()) {
            if (!e.getValue().isJsonPrimitive() || !e.getValue().getAsJsonPrimitive().isString()) {
                throw new ModelFormatException(indexFile + ": weight_map entry of tensor '" + e.getKey()
                        + "' is not a file name: " + e.getValue());
            }
            String file = e.getValue().getAsString();
            Path shard = dir.resolve(file).normalize();
            if (!shard.startsWith(dir)) {
                throw new ModelFormatException(indexFile + ": shard '" + file + "' of tensor '" + e.getKey()
                        + "' lies outside the checkpoint folder");
            }
            if (!Files.isRegularFile(shard)) {
                throw new ModelFormatException(indexFile + ": shard file " + shard + " (for tensor '" + e.getKey()
                        + "') does not exist");
            }
            map.put(e.getKey(), file);
        }
        return new ShardedTensorStore(indexFile, Collections.unmodifiableMap(map), opener);
    }

    /** The distinct shard file names, in index order. */
    public List<String> shardFiles() {
        return new ArrayList<>(new java.util.LinkedHashSet<>(weightMap.values()));
    }

    @Override
    protected synchronized TensorStore storeFor(String name) {
        String file = weightMap.get(name);
        if (file == null) {
            throw new ModelFormatException("tensor '" + name + "' is not in the index " + indexFile);
        }
        TensorStore s = shards.get(file);
        if (s == null) {
            s = opener.apply(indexFile.toAbsolutePath().getParent().resolve(file));
            shards.put(file, s);
        }
        if (!s.contains(name)) {
            throw new ModelFormatException("index " + indexFile + " maps tensor '" + name + "' to " + file
                    + ", but that shard does not contain it");
        }
        return s;
    }

    @Override
    public Path source() {
        return indexFile;
    }

    @Override
    public Set<String> names() {
        return weightMap.keySet();
    }

    @Override
    public synchronized void close() {
        for (TensorStore s : shards.values()) {
            s.close();
        }
        shards.clear();
    }
}
