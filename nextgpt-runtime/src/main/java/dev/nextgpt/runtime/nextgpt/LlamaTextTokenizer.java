package dev.nextgpt.runtime.nextgpt;

import dev.nextgpt.runtime.llm.LlamaTokenizer;

/** {@link TextTokenizer} over the LLM's {@link LlamaTokenizer} (ids without BOS; special tokens skipped on request). */
public final class LlamaTextTokenizer implements TextTokenizer {
    private final LlamaTokenizer tokenizer;

    public LlamaTextTokenizer(LlamaTokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    public LlamaTokenizer llamaTokenizer() {
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
}
