package dev.nextgpt.train.data;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.nextgpt.ModelFormatException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The tokenization rules of the legacy NExT-GPT code (transformers 4.29 slow {@code LlamaTokenizer} with non-special
 * added tokens, {@code add_special_tokens=False}): split the text on added tokens (leftmost-longest) and on
 * {@code <s>}, {@code </s>}, {@code <unk>}; strip all whitespace (newlines too) on both sides of every added token;
 * encode each remaining piece on its own with SentencePiece (so each gets the dummy-prefix "▁").
 * The SentencePiece step is done by the base {@code tokenizer.json} (without added tokens).
 */
public final class LegacyTokenizer implements AutoCloseable {
    private static final Set<String> SPECIAL = Set.of("<s>", "</s>", "<unk>");

    private final HuggingFaceTokenizer base;
    private final Map<String, Long> added;
    private final Map<String, Long> specialIds;
    private final List<String> matchOrder;

    private LegacyTokenizer(HuggingFaceTokenizer base, Map<String, Long> added, Map<String, Long> specialIds) {
        this.base = base;
        this.added = added;
        this.specialIds = specialIds;
        List<String> all = new ArrayList<>(added.keySet());
        all.addAll(specialIds.keySet());
        all.sort((a, b) -> Integer.compare(b.length(), a.length()));
        this.matchOrder = all;
    }

    /**
     * Loads the base SentencePiece-equivalent {@code tokenizer.json} and the added tokens (token → id, e.g. the
     * legacy {@code added_tokens.json}).
     */
    public static LegacyTokenizer load(Path baseTokenizerJson, Map<String, Integer> addedTokens) {
        try {
            HuggingFaceTokenizer base = HuggingFaceTokenizer.newInstance(baseTokenizerJson,
                    Map.of("addSpecialTokens", "false", "modelMaxLength", "1000000", "truncation", "false"));
            Map<String, Long> added = new LinkedHashMap<>();
            addedTokens.forEach((k, v) -> added.put(k, v.longValue()));
            Map<String, Long> special = new LinkedHashMap<>();
            for (String s : SPECIAL) {
                long[] ids = base.encode(s, false, false).getIds();
                if (ids.length == 1) {
                    special.put(s, ids[0]);
                }
            }
            return new LegacyTokenizer(base, Collections.unmodifiableMap(added), special);
        } catch (IOException | RuntimeException e) {
            throw new ModelFormatException("cannot load tokenizer " + baseTokenizerJson + ": " + e.getMessage(), e);
        }
    }

    /** Id of an added token (e.g. {@code [IMG0]}). */
    public long addedId(String token) {
        Long id = added.get(token);
        if (id == null) {
            throw new ModelFormatException("token '" + token + "' is not an added token of this tokenizer");
        }
        return id;
    }

    /** Encodes without BOS, following the legacy slow-tokenizer rules. */
    public long[] encode(String text) {
        List<String> pieces = new ArrayList<>();
        List<Boolean> isToken = new ArrayList<>();
        int pos = 0;
        int start = 0;
        while (pos < text.length()) {
            String hit = null;
            for (String t : matchOrder) {
                if (text.startsWith(t, pos)) {
                    hit = t;
                    break;
                }
            }
            if (hit == null) {
                pos++;
                continue;
            }
            if (pos > start) {
                pieces.add(text.substring(start, pos));
                isToken.add(false);
            }
            pieces.add(hit);
            isToken.add(true);
            pos += hit.length();
            start = pos;
        }
        if (start < text.length()) {
            pieces.add(text.substring(start));
            isToken.add(false);
        }
        for (int i = 0; i < pieces.size(); i++) {
            if (isToken.get(i) && added.containsKey(pieces.get(i))) {
                if (i + 1 < pieces.size() && !isToken.get(i + 1)) {
                    pieces.set(i + 1, pieces.get(i + 1).stripLeading());
                }
                if (i > 0 && !isToken.get(i - 1)) {
                    pieces.set(i - 1, pieces.get(i - 1).stripTrailing());
                }
            }
        }
        List<Long> ids = new ArrayList<>();
        for (int i = 0; i < pieces.size(); i++) {
            String p = pieces.get(i);
            if (isToken.get(i)) {
                Long id = added.containsKey(p) ? added.get(p) : specialIds.get(p);
                ids.add(id);
            } else if (!p.isEmpty()) {
                for (long id : base.encode(p, false, false).getIds()) {
                    ids.add(id);
                }
            }
        }
        long[] out = new long[ids.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ids.get(i);
        }
        return out;
    }

    /** Decodes ids (added tokens are written as their text). */
    public String decode(long[] ids, boolean skipSpecial) {
        return base.decode(ids, skipSpecial);
    }

    @Override
    public void close() {
        base.close();
    }
}
