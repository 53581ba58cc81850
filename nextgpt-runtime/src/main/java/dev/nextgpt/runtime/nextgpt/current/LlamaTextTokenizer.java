package dev.nextgpt.runtime.nextgpt.current;

import dev.nextgpt.runtime.llm.LlamaTokenizer;
import dev.nextgpt.runtime.nextgpt.TextTokenizer;

import java.util.OptionalInt;

/** {@link TextTokenizer} view of a {@link LlamaTokenizer} (the tokenizer stays owned by the caller). */
public final class LlamaTextTokenizer implements TextTokenizer {
    private final LlamaTokenizer tokenizer;

    public LlamaTextTokenizer(LlamaTokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    public LlamaTokenizer tokenizer() {
        return tokenizer;
    }

    @Override
    public long[] encode(String text) {
        return tokenizer.encode(text, false);
    }

    @Override
    public String decode(long[] ids, boolean skipSpecialTokens) {
        return tokenizer.decode(ids, skipSpecialTokens);
    }

    @Override
    public long bosId() {
        return tokenizer.bosId();
    }

    @Override
    public long eosId() {
        return tokenizer.eosId();
    }

    @Override
    public OptionalInt singleTokenId(String token) {
        long[] ids = encode(token);
        return ids.length == 1 ? OptionalInt.of(Math.toIntExact(ids[0])) : OptionalInt.empty();
    }
}
