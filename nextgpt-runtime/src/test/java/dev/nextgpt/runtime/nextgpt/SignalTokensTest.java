package dev.nextgpt.runtime.nextgpt;

import com.google.gson.JsonObject;
import dev.nextgpt.ModelFormatException;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SignalTokensTest {

    /** A vocabulary-map tokenizer for the current (special token) spellings. */
    static TextTokenizer mapTokenizer(Map<String, Integer> vocab) {
        return new TextTokenizer() {
            @Override
            public long[] encode(String text) {
                Integer id = vocab.get(text);
                return id == null ? new long[] {0, 0} : new long[] {id};
            }

            @Override
            public String decode(long[] ids, boolean skipSpecialTokens) {
                throw new UnsupportedOperationException();
            }

            @Override
            public long bosId() {
                return 1;
            }

            @Override
            public long eosId() {
                return 2;
            }
        };
    }

    static Map<String, Integer> currentVocab(int base) {
        Map<String, Integer> v = new HashMap<>();
        int next = base;
        for (Modality m : Modality.values()) {
            for (String s : SignalTokens.spellings(SignalTokens.Version.CURRENT, m,
                    SignalTokens.DEFAULT_COUNTS.get(m))) {
                v.put(s, next++);
            }
        }
        return v;
    }

    @Test
    void legacyIdsComeFromTheTokenizer() {
        JsonObject ids = E2eGolden.json("system/nextgpt_config.json").getAsJsonObject("token_ids");
        try (HfTextTokenizer tok = E2eGolden.tokenizer()) {
            SignalTokens t = SignalTokens.legacy(tok);
            assertEquals(ids.get("<Img>").getAsLong(), t.imgStartId());
            assertEquals(ids.get("</Img>").getAsLong(), t.imgEndId());
            for (Modality m : Modality.values()) {
                long[] v = t.ids(m);
                assertEquals(SignalTokens.DEFAULT_COUNTS.get(m), v.length);
                for (int i = 0; i < v.length; i++) {
                    assertEquals(ids.get(m.legacySignalToken(i)).getAsLong(), v[i], m.legacySignalToken(i));
                }
                assertEquals(v.length, t.spanLength(m));
            }
            assertEquals("[IMG0] [IMG1] [IMG2] [IMG3]", t.signalString(Modality.IMAGE));
            assertArrayEquals(tok.encode(t.signalString(Modality.VIDEO)), t.ids(Modality.VIDEO));
            assertTrue(t.checkLegacyContiguousLayout(512).isEmpty());
            List<String> shifted = t.checkLegacyContiguousLayout(513);
            assertFalse(shifted.isEmpty());
            assertTrue(shifted.get(0).contains("<Img>"), shifted.get(0));
        }
    }

    @Test
    void currentSpellingsAndSpanLengths() {
        SignalTokens t = SignalTokens.current(mapTokenizer(currentVocab(32000)), 29871L);
        assertEquals(List.of("<image_00>", "<image_01>", "<image_02>", "<image_03>"), t.spellings(Modality.IMAGE));
        assertEquals("<video_23>", t.spellings(Modality.VIDEO).get(23));
        assertEquals(32000, t.firstId(Modality.IMAGE));
        assertEquals(32004, t.firstId(Modality.VIDEO));
        assertEquals(32028, t.firstId(Modality.AUDIO));
        assertEquals(7, t.spanLength(Modality.IMAGE));
        assertEquals(47, t.spanLength(Modality.VIDEO));
        assertEquals(15, t.spanLength(Modality.AUDIO));
        assertThrows(dev.nextgpt.InvalidInputException.class, t::imgStartId);
    }

    @Test
    void tokenizerWithoutSignalTokensIsRejected() {
        Map<String, Integer> v = currentVocab(100);
        v.remove("<audio_05>");
        ModelFormatException e = assertThrows(ModelFormatException.class,
                () -> SignalTokens.current(mapTokenizer(v), null));
        assertTrue(e.getMessage().contains("<audio_05>"), e.getMessage());
    }
}
