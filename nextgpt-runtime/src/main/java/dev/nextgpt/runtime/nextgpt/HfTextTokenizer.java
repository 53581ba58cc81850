package dev.nextgpt.runtime.nextgpt;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.nextgpt.ModelFormatException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * {@link TextTokenizer} over a {@code tokenizer.json} with DJL's HuggingFace tokenizers (no special tokens added on
 * encode, no truncation or padding).
 */
public final class HfTextTokenizer implements TextTokenizer, AutoCloseable {
    private final HuggingFaceTokenizer tokenizer;
    private final long bos;
    private final long eos;

    private HfTextTokenizer(HuggingFaceTokenizer tokenizer, long bos, long eos) {
        this.tokenizer = tokenizer;
        this.bos = bos;
        this.eos = eos;
    }

    /** Opens {@code tokenizer.json} (a file or the folder holding it); BOS/EOS ids as in LLaMA unless given. */
    public static HfTextTokenizer open(Path tokenizerJson, long bos, long eos) {
        Path file = tokenizerJson.toFile().isDirectory() ? tokenizerJson.resolve("tokenizer.json") : tokenizerJson;
        try {
            HuggingFaceTokenizer t = HuggingFaceTokenizer.newInstance(file, Map.of("addSpecialTokens", "false",
                    "truncation", "false", "padding", "false"));
            return new HfTextTokenizer(t, bos, eos);
        } catch (IOException | RuntimeException e) {
            throw new ModelFormatException("cannot load tokenizer " + file + ": " + e.getMessage(), e);
        }
    }

    public static HfTextTokenizer open(Path tokenizerJson) {
        return open(tokenizerJson, 1, 2);
    }

    @Override
    public long[] encode(String text) {
        return tokenizer.encode(text, false, false).getIds();
    }

    @Override
    public String decode(long[] ids, boolean skipSpecialTokens) {
        return tokenizer.decode(ids, skipSpecialTokens);
    }

    @Override
    public long bosId() {
        return bos;
    }

    @Override
    public long eosId() {
        return eos;
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
