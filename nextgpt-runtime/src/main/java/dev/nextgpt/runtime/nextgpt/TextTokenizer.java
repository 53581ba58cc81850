package dev.nextgpt.runtime.nextgpt;

import java.util.OptionalInt;

/**
 * The few tokenizer operations the NExT-GPT glue needs (implemented by the LLM tokenizer; see
 * {@link HfTextTokenizer} for a DJL HuggingFace-tokenizers adapter).
 */
public interface TextTokenizer {

    /** Ids of {@code text} without special tokens ({@code add_special_tokens=False}). */
    long[] encode(String text);

    /**
     * Text of {@code ids}; with {@code skipSpecialTokens} the special tokens ({@code <s>}, {@code </s>},
     * {@code <unk>}) are dropped, added non-special tokens are kept.
     */
    String decode(long[] ids, boolean skipSpecialTokens);

    long bosId();

    long eosId();

    /** The id of a token that encodes to exactly one id, if it does. */
    default OptionalInt singleTokenId(String token) {
        long[] ids = encode(token);
        return ids.length == 1 ? OptionalInt.of(Math.toIntExact(ids[0])) : OptionalInt.empty();
    }
}
