package dev.nextgpt.runtime.audioldm;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.config.JsonConfig;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The RoBERTa (GPT-2 style) byte-level BPE tokenizer of transformers' slow {@code RobertaTokenizer}, read from a
 * tokenizer folder ({@code vocab.json}, {@code merges.txt}, optional {@code tokenizer_config.json}). Text is split
 * on the special tokens first, then with the GPT-2 pre-tokenisation regex; each piece's UTF-8 bytes are mapped to
 * the GPT-2 byte↔unicode alphabet and merged by BPE rank. Sequences are wrapped as {@code <s> … </s>}.
 * {@code add_prefix_space} is honoured. Thread-safe after construction.
 */
public final class RobertaBpeTokenizer {

    /** GPT-2 pre-tokenisation regex ({@code \s} is Unicode whitespace, as in Python's {@code regex}). */
    private static final Pattern GPT2_SPLIT = Pattern.compile(
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
            Pattern.UNICODE_CHARACTER_CLASS);

    private static final char[] BYTE_TO_CHAR = bytesToUnicode();
    private static final Map<Character, Integer> CHAR_TO_BYTE = new HashMap<>();

    static {
        for (int b = 0; b < 256; b++) {
            CHAR_TO_BYTE.put(BYTE_TO_CHAR[b], b);
        }
    }

    /** Token ids and attention mask of a batch, row-major {@code [batch][length]}. */
    public record Encoding(long[][] inputIds, long[][] attentionMask) {
        public int batchSize() {
            return inputIds.length;
        }

        public int length() {
            return inputIds.length == 0 ? 0 : inputIds[0].length;
        }
    }

    /** A special token as the tokenizer config declares it. */
    private record SpecialToken(String content, int id, boolean lstrip, boolean rstrip) {
    }

    private final Map<String, Integer> vocab;
    private final String[] idToToken;
    private final Map<String, Integer> mergeRanks;
    private final List<SpecialToken> specials;
    private final int bosId;
    private final int eosId;
    private final int padId;
    private final int unkId;
    private final int modelMaxLength;
    private final boolean addPrefixSpace;
    private final Map<String, int[]> cache = new ConcurrentHashMap<>();

    private RobertaBpeTokenizer(Map<String, Integer> vocab, Map<String, Integer> mergeRanks,
                                List<SpecialToken> specials, int bosId, int eosId, int padId, int unkId,
                                int modelMaxLength, boolean addPrefixSpace) {
        this.vocab = vocab;
        this.mergeRanks = mergeRanks;
        this.specials = specials;
        this.bosId = bosId;
        this.eosId = eosId;
        this.padId = padId;
        this.unkId = unkId;
        this.modelMaxLength = modelMaxLength;
        this.addPrefixSpace = addPrefixSpace;
        int maxId = vocab.values().stream().mapToInt(Integer::intValue).max().orElse(-1);
        this.idToToken = new String[maxId + 1];
        vocab.forEach((t, i) -> idToToken[i] = t);
    }

    /**
     * Reads a tokenizer folder. Special token strings, {@code model_max_length} and {@code add_prefix_space} come
     * from {@code tokenizer_config.json} when present (RoBERTa defaults otherwise).
     */
    public static RobertaBpeTokenizer fromFolder(Path dir) {
        Path vocabFile = dir.resolve("vocab.json");
        Path mergesFile = dir.resolve("merges.txt");
        if (!Files.isRegularFile(vocabFile) || !Files.isRegularFile(mergesFile)) {
            throw new ModelFormatException("tokenizer folder " + dir + " needs vocab.json and merges.txt");
        }
        Map<String, Integer> vocab = new LinkedHashMap<>();
        try {
            JsonElement root = JsonParser.parseString(Files.readString(vocabFile, StandardCharsets.UTF_8));
            for (Map.Entry<String, JsonElement> e : root.getAsJsonObject().entrySet()) {
                vocab.put(e.getKey(), e.getValue().getAsInt());
            }
        } catch (IOException | RuntimeException e) {
            throw new ModelFormatException("cannot read " + vocabFile + ": " + e.getMessage(), e);
        }
        Map<String, Integer> ranks = new HashMap<>();
        try {
            int rank = 0;
            for (String line : Files.readAllLines(mergesFile, StandardCharsets.UTF_8)) {
                if (line.startsWith("#version") || line.isBlank()) {
                    continue;
                }
                String[] parts = line.trim().split(" ");
                if (parts.length != 2) {
                    throw new ModelFormatException(mergesFile + ": merge line '" + line + "' is not two symbols");
                }
                ranks.putIfAbsent(parts[0] + " " + parts[1], rank++);
            }
        } catch (IOException e) {
            throw new ModelFormatException("cannot read " + mergesFile + ": " + e.getMessage(), e);
        }

        Path cfgFile = dir.resolve("tokenizer_config.json");
        JsonConfig cfg = Files.isRegularFile(cfgFile) ? JsonConfig.read(cfgFile) : new JsonConfig(cfgFile,
                new JsonObject());
        Map<String, boolean[]> stripFlags = new HashMap<>();
        cfg.optObject("added_tokens_decoder").ifPresent(atd -> {
            for (Map.Entry<String, JsonElement> e : atd.json().entrySet()) {
                JsonObject o = e.getValue().getAsJsonObject();
                String content = o.get("content").getAsString();
                stripFlags.put(content, new boolean[] {flag(o, "lstrip"), flag(o, "rstrip")});
                vocab.putIfAbsent(content, Integer.parseInt(e.getKey()));
            }
        });
        String bos = tokenString(cfg, "bos_token", "<s>");
        String eos = tokenString(cfg, "eos_token", "</s>");
        String pad = tokenString(cfg, "pad_token", "<pad>");
        String unk = tokenString(cfg, "unk_token", "<unk>");
        String mask = tokenString(cfg, "mask_token", "<mask>");
        List<SpecialToken> specials = new ArrayList<>();
        for (String s : new String[] {bos, eos, pad, unk, mask, tokenString(cfg, "cls_token", bos),
                tokenString(cfg, "sep_token", eos)}) {
            if (specials.stream().anyMatch(t -> t.content().equals(s))) {
                continue;
            }
            Integer id = vocab.get(s);
            if (id == null) {
                throw new ModelFormatException(vocabFile + ": special token '" + s + "' is not in the vocabulary");
            }
            boolean[] f = stripFlags.getOrDefault(s, new boolean[] {s.equals(mask), false});
            specials.add(new SpecialToken(s, id, f[0], f[1]));
        }
        // Longer tokens first so that "</s>" wins over a hypothetical "<s" prefix match.
        specials.sort((a, b) -> Integer.compare(b.content().length(), a.content().length()));
        long maxLen = cfg.getLong("model_max_length", 512);
        int modelMax = maxLen > Integer.MAX_VALUE ? Integer.MAX_VALUE : (int) maxLen;
        return new RobertaBpeTokenizer(vocab, ranks, List.copyOf(specials), vocab.get(bos), vocab.get(eos),
                vocab.get(pad), vocab.get(unk), modelMax, cfg.getBoolean("add_prefix_space", false));
    }

    private static boolean flag(JsonObject o, String key) {
        return o.has(key) && o.get(key).getAsBoolean();
    }

    private static String tokenString(JsonConfig cfg, String key, String fallback) {
        if (!cfg.has(key)) {
            return fallback;
        }
        JsonElement el = cfg.json().get(key);
        if (el.isJsonObject()) {
            return el.getAsJsonObject().get("content").getAsString();
        }
        return el.getAsString();
    }

    public int bosTokenId() {
        return bosId;
    }

    public int eosTokenId() {
        return eosId;
    }

    public int padTokenId() {
        return padId;
    }

    public int unkTokenId() {
        return unkId;
    }

    /** {@code model_max_length} from the tokenizer config. */
    public int modelMaxLength() {
        return modelMaxLength;
    }

    public int vocabSize() {
        return vocab.size();
    }

    /** Token ids of {@code text} without {@code <s>}/{@code </s>}. */
    public int[] tokenize(String text) {
        if (text == null) {
            throw new InvalidInputException("text to tokenize is null");
        }
        if (addPrefixSpace) {
            text = " " + text;
        }
        List<Integer> out = new ArrayList<>();
        splitOnSpecials(text, out);
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Splits on special tokens (honouring lstrip/rstrip) and BPE-encodes the text between them. */
    private void splitOnSpecials(String text, List<Integer> out) {
        int pos = 0;
        int segmentStart = 0;
        boolean stripLeadingNext = false;
        while (pos <= text.length()) {
            SpecialToken hit = null;
            if (pos < text.length()) {
                for (SpecialToken s : specials) {
                    if (text.startsWith(s.content(), pos)) {
                        hit = s;
                        break;
                    }
                }
            }
            if (hit == null && pos < text.length()) {
                pos++;
                continue;
            }
            String segment = text.substring(segmentStart, pos);
            if (stripLeadingNext) {
                segment = segment.stripLeading();
            }
            if (hit != null && hit.lstrip()) {
                segment = segment.stripTrailing();
            }
            encodeOrdinary(segment, out);
            if (hit == null) {
                break;
            }
            out.add(hit.id());
            pos += hit.content().length();
            segmentStart = pos;
            stripLeadingNext = hit.rstrip();
        }
    }

    private void encodeOrdinary(String text, List<Integer> out) {
        if (text.isEmpty()) {
            return;
        }
        Matcher m = GPT2_SPLIT.matcher(text);
        while (m.find()) {
            String piece = m.group();
            byte[] bytes = piece.getBytes(StandardCharsets.UTF_8);
            StringBuilder sb = new StringBuilder(bytes.length);
            for (byte b : bytes) {
                sb.append(BYTE_TO_CHAR[b & 0xff]);
            }
            for (int id : cache.computeIfAbsent(sb.toString(), this::bpeIds)) {
                out.add(id);
            }
        }
    }

    /** BPE over one pre-token (already in the byte-unicode alphabet): repeatedly merge the lowest-ranked pair. */
    private int[] bpeIds(String word) {
        List<String> symbols = new ArrayList<>(word.length());
        word.codePoints().forEach(cp -> symbols.add(new String(Character.toChars(cp))));
        while (symbols.size() > 1) {
            int bestRank = Integer.MAX_VALUE;
            String bestA = null;
            String bestB = null;
            for (int i = 0; i + 1 < symbols.size(); i++) {
                Integer r = mergeRanks.get(symbols.get(i) + " " + symbols.get(i + 1));
                if (r != null && r < bestRank) {
                    bestRank = r;
                    bestA = symbols.get(i);
                    bestB = symbols.get(i + 1);
                }
            }
            if (bestA == null) {
                break;
            }
            List<String> merged = new ArrayList<>(symbols.size());
            for (int i = 0; i < symbols.size(); i++) {
                if (i + 1 < symbols.size() && symbols.get(i).equals(bestA) && symbols.get(i + 1).equals(bestB)) {
                    merged.add(bestA + bestB);
                    i++;
                } else {
                    merged.add(symbols.get(i));
                }
            }
            symbols.clear();
            symbols.addAll(merged);
        }
        int[] ids = new int[symbols.size()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = vocab.getOrDefault(symbols.get(i), unkId);
        }
        return ids;
    }

    /** {@code <s> ids </s>} of one text, truncated (at the end) so that the result fits {@code maxLength}. */
    public int[] encodeWithSpecials(String text, int maxLength) {
        if (maxLength < 2) {
            throw new InvalidInputException("max_length must be at least 2 for <s> … </s>, got " + maxLength);
        }
        int[] body = tokenize(text);
        int n = Math.min(body.length, maxLength - 2);
        int[] ids = new int[n + 2];
        ids[0] = bosId;
        System.arraycopy(body, 0, ids, 1, n);
        ids[n + 1] = eosId;
        return ids;
    }

    /**
     * Tokenises a batch as {@code tokenizer(texts, padding="max_length", max_length=maxLength, truncation=True)}
     * does: {@code <s> … </s>}, truncated, right-padded with {@code <pad>}; attention mask 1 on real tokens.
     */
    public Encoding encodeBatch(List<String> texts, int maxLength) {
        long[][] ids = new long[texts.size()][maxLength];
        long[][] mask = new long[texts.size()][maxLength];
        for (int b = 0; b < texts.size(); b++) {
            int[] one = encodeWithSpecials(texts.get(b), maxLength);
            Arrays.fill(ids[b], padId);
            for (int i = 0; i < one.length; i++) {
                ids[b][i] = one[i];
                mask[b][i] = 1;
            }
        }
        return new Encoding(ids, mask);
    }

    /** Padded to {@link #modelMaxLength()}, as AudioLDM's pipeline tokenises prompts. */
    public Encoding encodeBatch(List<String> texts) {
        return encodeBatch(texts, modelMaxLength);
    }

    /** Decodes ids back to text (special tokens kept unless {@code skipSpecial}); invalid UTF-8 is replaced. */
    public String decode(long[] ids, boolean skipSpecial) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        StringBuilder sb = new StringBuilder();
        for (long id : ids) {
            if (id < 0 || id >= idToToken.length || idToToken[(int) id] == null) {
                throw new InvalidInputException("token id " + id + " is outside the vocabulary (size "
                        + idToToken.length + ")");
            }
            String tok = idToToken[(int) id];
            boolean special = specials.stream().anyMatch(s -> s.id() == id);
            if (special) {
                if (!skipSpecial) {
                    sb.append(bytes.toString(StandardCharsets.UTF_8));
                    bytes.reset();
                    sb.append(tok);
                }
                continue;
            }
            for (int i = 0; i < tok.length(); i++) {
                Integer b = CHAR_TO_BYTE.get(tok.charAt(i));
                if (b != null) {
                    bytes.write(b);
                }
            }
        }
        sb.append(bytes.toString(StandardCharsets.UTF_8));
        return sb.toString();
    }

    /** GPT-2's reversible byte → printable unicode character table. */
    private static char[] bytesToUnicode() {
        char[] table = new char[256];
        boolean[] direct = new boolean[256];
        for (int b = '!'; b <= '~'; b++) {
            direct[b] = true;
        }
        for (int b = 0xA1; b <= 0xAC; b++) {
            direct[b] = true;
        }
        for (int b = 0xAE; b <= 0xFF; b++) {
            direct[b] = true;
        }
        int n = 0;
        for (int b = 0; b < 256; b++) {
            table[b] = direct[b] ? (char) b : (char) (256 + n++);
        }
        return table;
    }
}
