package dev.nextgpt.runtime.clip;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.ModelFormatException;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;

/**
 * The OpenAI CLIP byte-level BPE tokenizer, as used by ImageBind's {@code SimpleTokenizer} and by Hugging Face's
 * {@code CLIPTokenizer} (Stable Diffusion text encoders).
 *
 * <p>Text cleanup: the basic fixes of {@code ftfy.fix_text} (HTML entities when the text holds no {@code <},
 * terminal escapes, ligatures, full-width characters, curly quotes, line breaks, control characters, NFC), then for
 * the ImageBind flavour {@code html.unescape} twice, then whitespace collapsing and lower-casing. Pre-tokenisation
 * uses CLIP's regex; every piece is UTF-8 encoded, mapped to the 256 byte-unicode symbols and merged by BPE rank.
 * {@link #encode} gives {@code [SOT] + bpe[:ctx-2] + [EOT]} padded to the context length with the padding id
 * (0 = {@code "!"} for ImageBind and SD-2/OpenCLIP folders, {@code <|endoftext|>} for SD-1.x folders).
 * ftfy's mojibake repair ({@code fix_encoding}) is not reproduced.
 */
public final class ClipBpeTokenizer {
    /** Default CLIP context length. */
    public static final int DEFAULT_CONTEXT_LENGTH = 77;
    private static final String SOT = "<|startoftext|>";
    private static final String EOT = "<|endoftext|>";
    private static final Pattern PRETOKENIZE = Pattern.compile(
            "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+",
            Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE | Pattern.UNICODE_CHARACTER_CLASS);
    private static final Pattern WHITESPACE = Pattern.compile("\\s+", Pattern.UNICODE_CHARACTER_CLASS);
    private static final Pattern TERMINAL_ESCAPE = Pattern.compile("\u001b\\[((?:\\d|;)*)([a-zA-Z])");
    private static final Pattern HTML_ENTITY = Pattern.compile("&(#[0-9]{1,7};|#[xX][0-9a-fA-F]{1,6};|[A-Za-z][A-Za-z0-9]{1,31};)");
    private static final Map<String, String> NAMED_ENTITIES = Map.ofEntries(
            Map.entry("amp", "&"), Map.entry("lt", "<"), Map.entry("gt", ">"), Map.entry("quot", "\""),
            Map.entry("apos", "'"), Map.entry("nbsp", "\u00a0"), Map.entry("copy", "\u00a9"),
            Map.entry("reg", "\u00ae"), Map.entry("trade", "\u2122"), Map.entry("hellip", "\u2026"),
            Map.entry("mdash", "\u2014"), Map.entry("ndash", "\u2013"), Map.entry("lsquo", "\u2018"),
            Map.entry("rsquo", "\u2019"), Map.entry("ldquo", "\u201c"), Map.entry("rdquo", "\u201d"),
            Map.entry("laquo", "\u00ab"), Map.entry("raquo", "\u00bb"), Map.entry("deg", "\u00b0"),
            Map.entry("eacute", "\u00e9"), Map.entry("egrave", "\u00e8"), Map.entry("aacute", "\u00e1"),
            Map.entry("agrave", "\u00e0"), Map.entry("ouml", "\u00f6"), Map.entry("uuml", "\u00fc"),
            Map.entry("auml", "\u00e4"), Map.entry("szlig", "\u00df"), Map.entry("ccedil", "\u00e7"),
            Map.entry("iuml", "\u00ef"), Map.entry("euro", "\u20ac"), Map.entry("pound", "\u00a3"),
            Map.entry("times", "\u00d7"), Map.entry("middot", "\u00b7"), Map.entry("bull", "\u2022"));

    private final Map<String, Integer> encoder;
    private final String[] decoder;
    private final Map<String, Integer> mergeRanks;
    private final Map<String, String> cache = new ConcurrentHashMap<>();
    private final char[] byteToUnicode = new char[256];
    private final Map<Character, Integer> unicodeToByte = new HashMap<>();
    private final int sotId;
    private final int eotId;
    private final int padId;
    private final int contextLength;
    private final boolean imageBindCleanup;

    private ClipBpeTokenizer(Map<String, Integer> encoder, List<String> merges, String padToken, int contextLength,
                             boolean imageBindCleanup, String source) {
        this.encoder = encoder;
        int maxId = encoder.values().stream().mapToInt(Integer::intValue).max().orElse(-1);
        this.decoder = new String[maxId + 1];
        encoder.forEach((k, v) -> decoder[v] = k);
        this.mergeRanks = new HashMap<>(merges.size() * 2);
        for (int i = 0; i < merges.size(); i++) {
            mergeRanks.putIfAbsent(merges.get(i), i);
        }
        List<Integer> bs = byteUnicodeOrder();
        int n = 0;
        for (int b = 0; b < 256; b++) {
            char c = bs.contains(b) ? (char) b : (char) (256 + n++);
            byteToUnicode[b] = c;
            unicodeToByte.put(c, b);
        }
        this.sotId = requireId(SOT, source);
        this.eotId = requireId(EOT, source);
        this.padId = requireId(padToken, source);
        this.contextLength = contextLength;
        this.imageBindCleanup = imageBindCleanup;
        cache.put(SOT, SOT);
        cache.put(EOT, EOT);
    }

    private int requireId(String token, String source) {
        Integer id = encoder.get(token);
        if (id == null) {
            throw new ModelFormatException("tokenizer " + source + " has no id for token '" + token + "'");
        }
        return id;
    }

    /** The printable bytes that map to themselves in {@code bytes_to_unicode}, in CLIP's order. */
    private static List<Integer> byteUnicodeOrder() {
        List<Integer> bs = new ArrayList<>();
        for (int b = '!'; b <= '~'; b++) {
            bs.add(b);
        }
        for (int b = 0xA1; b <= 0xAC; b++) {
            bs.add(b);
        }
        for (int b = 0xAE; b <= 0xFF; b++) {
            bs.add(b);
        }
        return bs;
    }

    /**
     * Loads ImageBind's / OpenAI CLIP's {@code bpe_simple_vocab_16e6.txt.gz}: merges lines 1..48894, vocabulary of
     * 256 byte symbols, the same with {@code </w>}, one entry per merge and the two special tokens (49408 ids);
     * pads with id 0 and applies ImageBind's double {@code html.unescape}.
     */
    public static ClipBpeTokenizer fromBpeGz(Path bpeGz) {
        List<String> lines = new ArrayList<>();
        try (InputStream in = new GZIPInputStream(Files.newInputStream(bpeGz));
             BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                lines.add(line);
            }
        } catch (IOException e) {
            throw new ModelFormatException("cannot read CLIP BPE merges file " + bpeGz + ": " + e.getMessage(), e);
        }
        int last = Math.min(lines.size(), 49152 - 256 - 2 + 1);
        if (last <= 1) {
            throw new ModelFormatException("CLIP BPE merges file " + bpeGz + " holds no merges");
        }
        List<String> merges = new ArrayList<>(lines.subList(1, last));
        Map<String, Integer> vocab = new HashMap<>();
        List<Integer> order = byteUnicodeOrder();
        List<String> symbols = new ArrayList<>();
        int n = 0;
        char[] table = new char[256];
        for (int b = 0; b < 256; b++) {
            table[b] = order.contains(b) ? (char) b : (char) (256 + n++);
        }
        for (int b : order) {
            symbols.add(String.valueOf(table[b]));
        }
        for (int b = 0; b < 256; b++) {
            if (!order.contains(b)) {
                symbols.add(String.valueOf(table[b]));
            }
        }
        List<String> all = new ArrayList<>(symbols);
        for (String s : symbols) {
            all.add(s + "</w>");
        }
        for (String m : merges) {
            String[] p = m.split(" ");
            if (p.length != 2) {
                throw new ModelFormatException("CLIP BPE merges file " + bpeGz + ": bad merge line '" + m + "'");
            }
            all.add(p[0] + p[1]);
        }
        all.add(SOT);
        all.add(EOT);
        for (int i = 0; i < all.size(); i++) {
            vocab.put(all.get(i), i);
        }
        return new ClipBpeTokenizer(vocab, merges, symbols.get(0), DEFAULT_CONTEXT_LENGTH, true, bpeGz.toString());
    }

    /**
     * Loads a Hugging Face / diffusers CLIP tokenizer folder: {@code vocab.json}, {@code merges.txt} and the
     * padding token and {@code model_max_length} from {@code tokenizer_config.json} / {@code special_tokens_map.json}
     * (no pad token given: pads with {@code <|endoftext|>}).
     */
    public static ClipBpeTokenizer fromFolder(Path tokenizerDir) {
        Path vocabFile = tokenizerDir.resolve("vocab.json");
        Path mergesFile = tokenizerDir.resolve("merges.txt");
        if (!Files.isRegularFile(vocabFile) || !Files.isRegularFile(mergesFile)) {
            throw new ModelFormatException("tokenizer folder " + tokenizerDir + " must hold vocab.json and merges.txt");
        }
        Map<String, Integer> vocab = new HashMap<>();
        try {
            JsonObject o = JsonParser.parseString(Files.readString(vocabFile, StandardCharsets.UTF_8)).getAsJsonObject();
            for (Map.Entry<String, JsonElement> e : o.entrySet()) {
                vocab.put(e.getKey(), e.getValue().getAsInt());
            }
        } catch (IOException | RuntimeException e) {
            throw new ModelFormatException("cannot parse " + vocabFile + ": " + e.getMessage(), e);
        }
        List<String> merges = new ArrayList<>();
        try {
            List<String> lines = Files.readAllLines(mergesFile, StandardCharsets.UTF_8);
            for (int i = 0; i < lines.size(); i++) {
                String l = lines.get(i).strip();
                if (l.isEmpty() || (i == 0 && l.startsWith("#version"))) {
                    continue;
                }
                merges.add(l);
            }
        } catch (IOException e) {
            throw new ModelFormatException("cannot read " + mergesFile + ": " + e.getMessage(), e);
        }
        String pad = EOT;
        int maxLength = DEFAULT_CONTEXT_LENGTH;
        for (String name : new String[] {"special_tokens_map.json", "tokenizer_config.json"}) {
            Path f = tokenizerDir.resolve(name);
            if (!Files.isRegularFile(f)) {
                continue;
            }
            try {
                JsonObject o = JsonParser.parseString(Files.readString(f, StandardCharsets.UTF_8)).getAsJsonObject();
                String p = tokenString(o.get("pad_token"));
                if (p != null) {
                    pad = p;
                }
                JsonElement ml = o.get("model_max_length");
                if (ml != null && ml.isJsonPrimitive() && ml.getAsDouble() < 1e6) {
                    maxLength = ml.getAsInt();
                }
            } catch (IOException | RuntimeException e) {
                throw new ModelFormatException("cannot parse " + f + ": " + e.getMessage(), e);
            }
        }
        return new ClipBpeTokenizer(vocab, merges, pad, maxLength, false, tokenizerDir.toString());
    }

    private static String tokenString(JsonElement e) {
        if (e == null || e.isJsonNull()) {
            return null;
        }
        if (e.isJsonObject()) {
            JsonElement c = e.getAsJsonObject().get("content");
            return c == null ? null : c.getAsString();
        }
        return e.getAsString();
    }

    public int contextLength() {
        return contextLength;
    }

    public int startOfTextId() {
        return sotId;
    }

    public int endOfTextId() {
        return eotId;
    }

    public int padId() {
        return padId;
    }

    public int vocabSize() {
        return decoder.length;
    }

    /**
     * Token ids padded to the context length: {@code [SOT] + bpe + [EOT]}; long texts are cut so that EOT stays at
     * the last position (ImageBind original and HF {@code truncation=True}).
     */
    public long[] encode(String text) {
        return toContext(tokenize(text), true);
    }

    /**
     * NExT-GPT's copy of ImageBind's tokenizer: {@code ([SOT] + bpe + [EOT])[:ctx]}, so long texts lose the EOT.
     */
    public long[] encodeDroppingEotOnOverflow(String text) {
        return toContext(tokenize(text), false);
    }

    private long[] toContext(int[] bpe, boolean keepEot) {
        long[] out = new long[contextLength];
        Arrays.fill(out, padId);
        out[0] = sotId;
        int room = keepEot ? contextLength - 2 : contextLength - 1;
        int n = Math.min(bpe.length, room);
        for (int i = 0; i < n; i++) {
            out[1 + i] = bpe[i];
        }
        if (1 + n < contextLength) {
            out[1 + n] = eotId;
        }
        return out;
    }

    /** Attention mask of {@link #encode}: 1 for SOT, the kept tokens and EOT, 0 for padding. */
    public long[] attentionMask(String text) {
        int len = Math.min(tokenize(text).length + 2, contextLength);
        long[] mask = new long[contextLength];
        Arrays.fill(mask, 0, len, 1L);
        return mask;
    }

    /** The raw BPE ids of the cleaned text (no SOT/EOT, no padding, no truncation). */
    public int[] tokenize(String text) {
        if (text == null) {
            throw new InvalidInputException("text to tokenize must not be null");
        }
        String cleaned = clean(text);
        List<Integer> ids = new ArrayList<>();
        Matcher m = PRETOKENIZE.matcher(cleaned);
        while (m.find()) {
            String piece = m.group();
            StringBuilder sb = new StringBuilder();
            for (byte b : piece.getBytes(StandardCharsets.UTF_8)) {
                sb.append(byteToUnicode[b & 0xFF]);
            }
            for (String tok : bpe(sb.toString()).split(" ")) {
                Integer id = encoder.get(tok);
                if (id == null) {
                    throw new ModelFormatException("BPE token '" + tok + "' is not in the tokenizer vocabulary");
                }
                ids.add(id);
            }
        }
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    /** The BPE pieces of a text (e.g. {@code "a</w>"}), for debugging. */
    public List<String> pieces(String text) {
        List<String> out = new ArrayList<>();
        for (int id : tokenize(text)) {
            out.add(decoder[id]);
        }
        return out;
    }

    /** Decodes ids back to text; SOT is skipped and decoding stops at the first EOT (what follows is padding). */
    public String decode(long[] ids) {
        int[] ints = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            ints[i] = Math.toIntExact(ids[i]);
        }
        return decode(ints);
    }

    /** Decodes ids back to text; SOT is skipped and decoding stops at the first EOT (what follows is padding). */
    public String decode(int[] ids) {
        StringBuilder sb = new StringBuilder();
        for (int id : ids) {
            if (id == sotId) {
                continue;
            }
            if (id == eotId) {
                break;
            }
            if (id < 0 || id >= decoder.length || decoder[id] == null) {
                throw new InvalidInputException("token id " + id + " is outside the vocabulary (size "
                        + decoder.length + ")");
            }
            sb.append(decoder[id]);
        }
        String s = sb.toString();
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        for (int i = 0; i < s.length(); i++) {
            if (s.startsWith("</w>", i)) {
                bytes.write(' ');
                i += 3;
                continue;
            }
            Integer b = unicodeToByte.get(s.charAt(i));
            if (b != null) {
                bytes.write(b);
            }
        }
        return new String(bytes.toByteArray(), StandardCharsets.UTF_8).strip();
    }

    private String bpe(String token) {
        String cached = cache.get(token);
        if (cached != null) {
            return cached;
        }
        List<String> word = new ArrayList<>();
        int[] cps = token.codePoints().toArray();
        for (int i = 0; i < cps.length; i++) {
            String s = new String(Character.toChars(cps[i]));
            word.add(i == cps.length - 1 ? s + "</w>" : s);
        }
        while (word.size() > 1) {
            int best = Integer.MAX_VALUE;
            String first = null;
            String second = null;
            for (int i = 0; i < word.size() - 1; i++) {
                Integer r = mergeRanks.get(word.get(i) + " " + word.get(i + 1));
                if (r != null && r < best) {
                    best = r;
                    first = word.get(i);
                    second = word.get(i + 1);
                }
            }
            if (first == null) {
                break;
            }
            List<String> merged = new ArrayList<>(word.size());
            int i = 0;
            while (i < word.size()) {
                if (i < word.size() - 1 && word.get(i).equals(first) && word.get(i + 1).equals(second)) {
                    merged.add(first + second);
                    i += 2;
                } else {
                    merged.add(word.get(i));
                    i++;
                }
            }
            word = merged;
        }
        String result = String.join(" ", word);
        if (cache.size() < 100_000) {
            cache.put(token, result);
        }
        return result;
    }

    /** ftfy basics (+ ImageBind's double html.unescape), whitespace collapsing, lower-casing. */
    String clean(String text) {
        String t = fixText(text);
        if (imageBindCleanup) {
            t = htmlUnescape(htmlUnescape(t)).strip();
        }
        t = WHITESPACE.matcher(t).replaceAll(" ").strip();
        return t.toLowerCase(Locale.ROOT);
    }

    /** The subset of {@code ftfy.fix_text} defaults that matter for CLIP prompts. */
    static String fixText(String text) {
        String t = text;
        if (t.indexOf('<') < 0) {
            t = htmlUnescape(t);
        }
        t = TERMINAL_ESCAPE.matcher(t).replaceAll("");
        StringBuilder sb = new StringBuilder(t.length());
        for (int i = 0; i < t.length(); ) {
            int cp = t.codePointAt(i);
            i += Character.charCount(cp);
            if (cp >= 0x2018 && cp <= 0x201B) {
                sb.append('\'');
            } else if (cp >= 0x201C && cp <= 0x201F) {
                sb.append('"');
            } else if ((cp >= 0xFB00 && cp <= 0xFB06) || cp == 0x0132 || cp == 0x0133 || cp == 0x0149
                    || (cp >= 0x01C4 && cp <= 0x01CC) || (cp >= 0x01F1 && cp <= 0x01F3)
                    || cp == 0x3000 || (cp >= 0xFF01 && cp <= 0xFFEE)) {
                sb.append(Normalizer.normalize(new String(Character.toChars(cp)), Normalizer.Form.NFKC));
            } else if (cp == 0x2028 || cp == 0x2029 || cp == 0x0085) {
                sb.append('\n');
            } else if (cp == '\r') {
                sb.append('\n');
                if (i < t.length() && t.charAt(i) == '\n') {
                    i++;
                }
            } else if (isRemovedControl(cp)) {
                continue;
            } else {
                sb.appendCodePoint(cp);
            }
        }
        return Normalizer.normalize(sb, Normalizer.Form.NFC);
    }

    private static boolean isRemovedControl(int cp) {
        return (cp <= 0x08) || cp == 0x0B || (cp >= 0x0E && cp <= 0x1F) || cp == 0x7F
                || (cp >= 0x206A && cp <= 0x206F) || cp == 0xFEFF || (cp >= 0xFFF9 && cp <= 0xFFFC)
                || (cp >= 0x1D173 && cp <= 0x1D17A) || (cp >= 0xE0000 && cp <= 0xE007F);
    }

    /** Python's {@code html.unescape} for numeric references and the common named entities. */
    static String htmlUnescape(String s) {
        if (s.indexOf('&') < 0) {
            return s;
        }
        Matcher m = HTML_ENTITY.matcher(s);
        StringBuilder sb = new StringBuilder();
        while (m.find()) {
            String body = m.group(1);
            body = body.substring(0, body.length() - 1);
            String rep;
            if (body.startsWith("#")) {
                int cp;
                try {
                    cp = body.startsWith("#x") || body.startsWith("#X") ? Integer.parseInt(body.substring(2), 16)
                            : Integer.parseInt(body.substring(1));
                } catch (NumberFormatException e) {
                    cp = 0xFFFD;
                }
                rep = (cp <= 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) ? "\uFFFD"
                        : new String(Character.toChars(cp));
            } else {
                rep = NAMED_ENTITIES.get(body);
                if (rep == null) {
                    rep = m.group();
                }
            }
            m.appendReplacement(sb, Matcher.quoteReplacement(rep));
        }
        m.appendTail(sb);
        return sb.toString();
    }
}
