package dev.nextgpt.runtime.media;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.clip.ClipBpeTokenizer;
import dev.nextgpt.runtime.component.ComponentRequest;
import dev.nextgpt.runtime.component.ComponentRunner;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Component runner {@code imagebind-preprocess}: options {@code modality=vision|audio|video|text},
 * {@code file=PATH} (media) or {@code text=...}, optional {@code pad=true} (vision: NExT-GPT's pad-to-square).
 * Outputs, with a batch axis of 1 as in the fixtures: {@code pixel_values} [1,3,224,224] (vision),
 * [1,3,1,128,204] (audio: the fixture's name), [1,15,3,2,224,224] (video); {@code input_ids} [1,77] int64 (text;
 * the BPE file is {@code --model} itself, or {@code bpe/bpe_simple_vocab_16e6.txt.gz} /
 * {@code bpe_simple_vocab_16e6.txt.gz} inside it, or an HF tokenizer folder).
 */
public final class ImageBindPreprocessRunner implements ComponentRunner {

    @Override
    public String kind() {
        return "imagebind-preprocess";
    }

    @Override
    public String description() {
        return "ImageBind input preprocessing: --option modality=vision|audio|video|text, file=PATH or text=...,"
                + " [pad=true]; outputs pixel_values (vision/audio/video) or input_ids (text)";
    }

    @Override
    public Map<String, NDArray> run(ComponentRequest request, NDManager manager) {
        String modality = request.option("modality")
                .orElseThrow(() -> new InvalidInputException("option modality=vision|audio|video|text is required"));
        Map<String, NDArray> out = new LinkedHashMap<>();
        switch (modality) {
            case "vision", "image" -> {
                boolean pad = request.booleanOption("pad", false);
                ImagePreprocessor p = new ImagePreprocessor(224, pad);
                float[] v = p.process(file(request));
                out.put("pixel_values", manager.create(v, new ai.djl.ndarray.types.Shape(1, 3, 224, 224)));
            }
            case "audio" -> {
                AudioPreprocessor.Result r = new AudioPreprocessor().process(file(request));
                out.put("pixel_values", manager.create(r.values(), new ai.djl.ndarray.types.Shape(withBatch(r.shape()))));
            }
            case "video" -> {
                VideoPreprocessor.Result r = new VideoPreprocessor().process(file(request));
                out.put("pixel_values", manager.create(r.values(), new ai.djl.ndarray.types.Shape(withBatch(r.shape()))));
            }
            case "text" -> {
                String text = request.option("text")
                        .orElseThrow(() -> new InvalidInputException("modality=text needs option text=..."));
                long[] ids = tokenizer(request.model()).encode(text);
                out.put("input_ids", manager.create(ids, new ai.djl.ndarray.types.Shape(1, ids.length)));
            }
            default -> throw new InvalidInputException("unknown modality '" + modality
                    + "'; expected vision, audio, video or text");
        }
        return out;
    }

    private static long[] withBatch(long[] shape) {
        long[] s = new long[shape.length + 1];
        s[0] = 1;
        System.arraycopy(shape, 0, s, 1, shape.length);
        return s;
    }

    private static Path file(ComponentRequest request) {
        String f = request.option("file")
                .orElseThrow(() -> new InvalidInputException("option file=PATH is required for this modality"));
        return Path.of(f);
    }

    static ClipBpeTokenizer tokenizer(Path model) {
        if (model == null) {
            throw new InvalidInputException("modality=text needs --model: the CLIP BPE file or a folder holding it");
        }
        if (Files.isRegularFile(model)) {
            return ClipBpeTokenizer.fromBpeGz(model);
        }
        for (String rel : new String[] {"bpe/bpe_simple_vocab_16e6.txt.gz", "bpe_simple_vocab_16e6.txt.gz"}) {
            if (Files.isRegularFile(model.resolve(rel))) {
                return ClipBpeTokenizer.fromBpeGz(model.resolve(rel));
            }
        }
        if (Files.isRegularFile(model.resolve("vocab.json"))) {
            return ClipBpeTokenizer.fromFolder(model);
        }
        throw new ModelFormatException("no CLIP tokenizer in " + model + " (expected bpe_simple_vocab_16e6.txt.gz,"
                + " bpe/bpe_simple_vocab_16e6.txt.gz or vocab.json + merges.txt)");
    }
}
