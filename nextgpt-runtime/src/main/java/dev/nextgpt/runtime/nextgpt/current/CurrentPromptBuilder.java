package dev.nextgpt.runtime.nextgpt.current;

import dev.nextgpt.InvalidInputException;
import dev.nextgpt.runtime.nextgpt.Modality;
import dev.nextgpt.runtime.nextgpt.TextTokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * Prompt text and token ids of the current (2024, LLaVA-style) NExT-GPT (reference §2.3, §2.4):
 * <ul>
 *   <li>the {@code SeparatorStyle.TWO} templates {@link Template#VICUNA_V1} (training, "curious user") and
 *       {@link Template#LLAVA_V1} ({@code predict.py}, "curious human"):
 *       {@code system + " USER: m1 ASSISTANT: a1</s>USER: m2 ASSISTANT:"};</li>
 *   <li>media placeholders {@code <image>}, {@code <video>}, {@code <audio>} in user messages;</li>
 *   <li>{@link #tokenizerMultipleToken}: {@code nextgpt/mm_utils.py tokenizer_multiple_token}, quirks included.</li>
 * </ul>
 */
public final class CurrentPromptBuilder {
    /** {@code IMAGE_TOKEN_INDEX}: id of an {@code <image>} placeholder. */
    public static final long IMAGE_TOKEN_INDEX = -200;
    /** {@code VIDEO_TOKEN_INDEX}. */
    public static final long VIDEO_TOKEN_INDEX = -300;
    /** {@code AUDIO_TOKEN_INDEX}. */
    public static final long AUDIO_TOKEN_INDEX = -400;
    /** {@code IGNORE_INDEX} of labels. */
    public static final long IGNORE_INDEX = -100;

    /** The two v1 conversation templates (same format, different system text). */
    public enum Template {
        /** {@code conv_vicuna_v1}, used for training ({@code --version v1}). */
        VICUNA_V1("A chat between a curious user and an artificial intelligence assistant. The assistant gives "
                + "helpful, detailed, and polite answers to the user's questions."),
        /** {@code conv_llava_v1}, used by {@code predict.py}. */
        LLAVA_V1("A chat between a curious human and an artificial intelligence assistant. The assistant gives "
                + "helpful, detailed, and polite answers to the human's questions.");

        /** Roles, separators of {@code SeparatorStyle.TWO}. */
        public static final String USER = "USER";
        public static final String ASSISTANT = "ASSISTANT";
        public static final String SEP = " ";
        public static final String SEP2 = "</s>";

        private final String system;

        Template(String system) {
            this.system = system;
        }

        public String system() {
            return system;
        }

        /**
         * {@code conv.get_prompt()}: {@code system + SEP}, then per message {@code role + ": " + message} followed by
         * SEP (user) or SEP2 (assistant); a null or empty message writes only {@code role + ":"} (the open slot).
         */
        public String prompt(List<Turn> turns) {
            return conversation(system, turns);
        }

        /** {@link #prompt} with another system text (the v1 format with a configurable system prompt). */
        public static String conversation(String system, List<Turn> turns) {
            if (turns.isEmpty()) {
                throw new InvalidInputException("a conversation needs at least one turn");
            }
            StringBuilder sb = new StringBuilder(system).append(SEP);
            for (int i = 0; i < turns.size(); i++) {
                Turn t = turns.get(i);
                if (t.assistant() == null && i < turns.size() - 1) {
                    throw new InvalidInputException("only the last turn may lack an assistant answer (turn " + i
                            + " of " + turns.size() + ")");
                }
                append(sb, USER, t.user(), SEP);
                append(sb, ASSISTANT, t.assistant(), SEP2);
            }
            return sb.toString();
        }

        private static void append(StringBuilder sb, String role, String message, String sep) {
            if (message == null || message.isEmpty()) {
                sb.append(role).append(':');
            } else {
                sb.append(role).append(": ").append(message).append(sep);
            }
        }

        /** The text that ends an answer ({@code sep2}, i.e. EOS). */
        public String stopString() {
            return SEP2;
        }
    }

    /** One exchange; {@code assistant == null} is the open slot for the model (last turn only). */
    public record Turn(String user, String assistant) {
        public Turn {
            if (user == null) {
                throw new InvalidInputException("a conversation turn needs a user message");
            }
        }

        public static Turn open(String user) {
            return new Turn(user, null);
        }
    }

    private CurrentPromptBuilder() {
    }

    /** The placeholder text of {@code m}: {@code <image>}, {@code <video>}, {@code <audio>}. */
    public static String placeholder(Modality m) {
        return "<" + m.name().toLowerCase(java.util.Locale.ROOT) + ">";
    }

    /** The placeholder id of {@code m}: −200, −300, −400. */
    public static long placeholderId(Modality m) {
        return switch (m) {
            case IMAGE -> IMAGE_TOKEN_INDEX;
            case VIDEO -> VIDEO_TOKEN_INDEX;
            case AUDIO -> AUDIO_TOKEN_INDEX;
        };
    }

    /** The modality of a placeholder id, or null for an ordinary token id. */
    public static Modality modalityOfPlaceholder(long id) {
        if (id == IMAGE_TOKEN_INDEX) {
            return Modality.IMAGE;
        }
        if (id == VIDEO_TOKEN_INDEX) {
            return Modality.VIDEO;
        }
        if (id == AUDIO_TOKEN_INDEX) {
            return Modality.AUDIO;
        }
        return null;
    }

    /**
     * A user message with input media: one {@code "<placeholder>\n"} per item, in the given order, then the text (the
     * LLaVA layout {@code "<image>\n" + text}).
     */
    public static String userMessage(List<Modality> media, String text) {
        StringBuilder sb = new StringBuilder();
        for (Modality m : media) {
            sb.append(placeholder(m)).append('\n');
        }
        return sb.append(text).toString();
    }

    /** Single-turn inference prompt: {@code system + " USER: " + userMessage + " ASSISTANT:"}. */
    public static String inferencePrompt(Template template, List<Modality> media, String text) {
        return template.prompt(List.of(Turn.open(userMessage(media, text))));
    }

    /**
     * {@code tokenizer_multiple_token}: splits on {@code <video>}, each piece on {@code <audio>}, each of those on
     * {@code <image>}; every innermost chunk is tokenized with BOS. Within one {@code <image>} split, the leading BOS
     * is kept once and the chunks after a placeholder lose theirs ({@code tokenizer_image_token}); but every
     * {@code <audio>}/{@code <video>} piece is its own {@code tokenizer_image_token} call, so an extra BOS follows
     * each {@code <video>} or {@code <audio>} placeholder. Example: {@code "ab<video>\ncd"} →
     * {@code [1, ab…, −300, 1, ▁, \n, cd…]}, {@code "ab<image>\ncd"} → {@code [1, ab…, −200, ▁, \n, cd…]}.
     */
    public static long[] tokenizerMultipleToken(String prompt, TextTokenizer tokenizer) {
        List<Long> out = new ArrayList<>();
        String[] videoChunks = split(prompt, placeholder(Modality.VIDEO));
        for (int v = 0; v < videoChunks.length; v++) {
            String[] audioChunks = split(videoChunks[v], placeholder(Modality.AUDIO));
            for (int a = 0; a < audioChunks.length; a++) {
                for (long id : tokenizerImageToken(audioChunks[a], tokenizer)) {
                    out.add(id);
                }
                if (a < audioChunks.length - 1) {
                    out.add(AUDIO_TOKEN_INDEX);
                }
            }
            if (v < videoChunks.length - 1) {
                out.add(VIDEO_TOKEN_INDEX);
            }
        }
        return out.stream().mapToLong(Long::longValue).toArray();
    }

    /**
     * {@code tokenizer_image_token}: chunks between {@code <image>} placeholders, each tokenized with BOS; if the
     * first chunk starts with BOS it is kept once and stripped from every chunk; placeholders become −200.
     */
    public static long[] tokenizerImageToken(String prompt, TextTokenizer tokenizer) {
        String[] chunks = split(prompt, placeholder(Modality.IMAGE));
        List<long[]> tokenized = new ArrayList<>();
        for (String c : chunks) {
            tokenized.add(withBos(c, tokenizer));
        }
        List<Long> out = new ArrayList<>();
        int offset = 0;
        long bos = tokenizer.bosId();
        if (!tokenized.isEmpty() && tokenized.get(0).length > 0 && tokenized.get(0)[0] == bos) {
            offset = 1;
            out.add(bos);
        }
        for (int i = 0; i < tokenized.size(); i++) {
            if (i > 0) {
                // insert_separator puts [IMAGE]*(offset+1) between chunks, then slices [offset:] of it
                out.add(IMAGE_TOKEN_INDEX);
            }
            long[] x = tokenized.get(i);
            for (int k = offset; k < x.length; k++) {
                out.add(x[k]);
            }
        }
        return out.stream().mapToLong(Long::longValue).toArray();
    }

    /** {@code tokenizer(text).input_ids}: BOS (if the tokenizer has one) then the ids. */
    public static long[] withBos(String text, TextTokenizer tokenizer) {
        long[] ids = tokenizer.encode(text);
        if (tokenizer.bosId() < 0) {
            return ids;
        }
        long[] out = new long[ids.length + 1];
        out[0] = tokenizer.bosId();
        System.arraycopy(ids, 0, out, 1, ids.length);
        return out;
    }

    /** Python {@code str.split(sep)}: keeps empty pieces, {@code n} separators give {@code n+1} pieces. */
    static String[] split(String s, String sep) {
        List<String> parts = new ArrayList<>();
        int from = 0;
        while (true) {
            int i = s.indexOf(sep, from);
            if (i < 0) {
                parts.add(s.substring(from));
                break;
            }
            parts.add(s.substring(from, i));
            from = i + sep.length();
        }
        return parts.toArray(new String[0]);
    }

    /** Number of placeholders of each modality in {@code ids} (index = {@link Modality#ordinal()}). */
    public static int[] countPlaceholders(long[] ids) {
        int[] n = new int[Modality.values().length];
        for (long id : ids) {
            Modality m = modalityOfPlaceholder(id);
            if (m != null) {
                n[m.ordinal()]++;
            }
        }
        return n;
    }
}
