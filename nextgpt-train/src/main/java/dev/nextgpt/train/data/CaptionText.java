package dev.nextgpt.train.data;

import java.util.regex.Pattern;

/** Caption normalisation of the legacy NExT-GPT datasets ({@code process_caption}). */
public final class CaptionText {
    private static final Pattern PUNCTUATION = Pattern.compile("[\"()*#:;~]");
    private static final Pattern WHITESPACE_RUN = Pattern.compile("\\s{2,}");

    private CaptionText() {
    }

    /**
     * Lower-cases, replaces each of {@code " ( ) * # : ; ~} by a space, collapses runs of two or more whitespace
     * characters to one space, strips trailing newlines and then surrounding spaces.
     */
    public static String process(String caption) {
        String s = caption.toLowerCase(java.util.Locale.ROOT);
        s = PUNCTUATION.matcher(s).replaceAll(" ");
        s = WHITESPACE_RUN.matcher(s).replaceAll(" ");
        int end = s.length();
        while (end > 0 && s.charAt(end - 1) == '\n') {
            end--;
        }
        s = s.substring(0, end);
        int b = 0;
        int e = s.length();
        while (b < e && s.charAt(b) == ' ') {
            b++;
        }
        while (e > b && s.charAt(e - 1) == ' ') {
            e--;
        }
        return s.substring(b, e);
    }
}
