package dev.nextgpt.runtime.nextgpt;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.nextgpt.InvalidInputException;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SignalSpanDetectorTest {

    @Test
    void legacyCasesMatchTheOriginalGenerate() {
        try (HfTextTokenizer tok = E2eGolden.tokenizer()) {
            SignalTokens tokens = SignalTokens.legacy(tok);
            SignalSpanDetector det = new SignalSpanDetector(tokens, 1);
            for (JsonObject c : E2eGolden.cases()) {
                String name = c.get("name").getAsString();
                long[] seq = E2eGolden.longs(c.getAsJsonArray("sequences"));
                List<SignalSpanDetector.SignalSpan> spans = det.detect(seq);
                JsonObject signals = c.getAsJsonObject("signals");
                assertEquals(signals.size(), spans.size(), name);
                JsonArray ret = c.getAsJsonArray("generate_return");
                if (spans.isEmpty()) {
                    assertEquals(ret.get(0).getAsString(), SignalSpanDetector.textOnly(seq, tok), name);
                    continue;
                }
                for (SignalSpanDetector.SignalSpan s : spans) {
                    JsonObject sig = signals.getAsJsonObject(s.modality().shortKey());
                    assertEquals(sig.get("gen_idx_in_sequences").getAsInt(), s.start(), name);
                    assertArrayEquals(E2eGolden.longs(sig.getAsJsonArray("signal_ids")), s.ids(), name);
                    // hidden-state rows: the positions where the signal tokens are inputs, in generated-only ids
                    assertEquals(sig.get("first_signal_index_in_generated_ids").getAsInt(), s.start() - 1, name);
                    List<String> texts = det.legacyReturnedTexts(seq, List.of(s), tok);
                    String expected = ret.get(0).getAsJsonObject().getAsJsonArray(s.modality().shortKey()).get(0)
                            .getAsString();
                    assertEquals(expected, texts.get(0), name);
                    System.out.println(name + ": " + s.modality() + " span [" + s.start() + ", " + s.end()
                            + ") text '" + texts.get(0) + "'");
                }
            }
        }
    }

    @Test
    void signalHiddenRowsAreTheLegacyGather() {
        try (HfTextTokenizer tok = E2eGolden.tokenizer(); ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager()) {
            SignalSpanDetector det = new SignalSpanDetector(SignalTokens.legacy(tok), 1);
            for (String[] c : new String[][] {{"a_text_to_image", "img"}, {"b_image_to_video", "vid"},
                    {"c_audio_to_audio", "aud"}}) {
                try (dev.nextgpt.runtime.io.TensorStore t = E2eGolden.caseTensors(c[0])) {
                    long[] seq = t.readLongs("gen.sequences");
                    SignalSpanDetector.SignalSpan span = det.detect(seq).get(0);
                    ai.djl.ndarray.NDArray perStep = t.load(m, "gen.hidden_last_per_step");
                    ai.djl.ndarray.NDArray rows = SignalSpanDetector.signalHidden(perStep, span, 1);
                    assertEquals(0f, rows.sub(t.load(m, c[1] + ".raw_hidden_legacy_gather")).abs().max().getFloat(),
                            c[0]);
                    // without the leading-BOS offset the slice is the shifted (wrong) one
                    ai.djl.ndarray.NDArray generatedOnly = SignalSpanDetector.signalHidden(perStep,
                            det.detect(java.util.Arrays.copyOfRange(seq, 1, seq.length)).get(0), 0);
                    assertEquals(0f, generatedOnly.sub(rows).abs().max().getFloat(), c[0]);
                    SignalSpanDetector.SignalSpan tooLate = new SignalSpanDetector.SignalSpan(span.modality(), 0,
                            (int) perStep.getShape().get(0) - 1, (int) perStep.getShape().get(0) + 3, span.ids());
                    assertThrows(InvalidInputException.class, () -> SignalSpanDetector.signalHidden(perStep, tooLate, 0));
                }
            }
        }
    }

    @Test
    void spansComeInOrderAndRespectTheCap() {
        try (HfTextTokenizer tok = E2eGolden.tokenizer()) {
            SignalTokens tokens = SignalTokens.legacy(tok);
            long[] aud = tokens.ids(Modality.AUDIO);
            long[] img = tokens.ids(Modality.IMAGE);
            long[] ids = concat(new long[] {1, 320}, aud, new long[] {273}, img, new long[] {259}, img, new long[] {271});
            List<SignalSpanDetector.SignalSpan> spans = new SignalSpanDetector(tokens, 5).detect(ids);
            assertEquals(List.of(Modality.AUDIO, Modality.IMAGE, Modality.IMAGE),
                    spans.stream().map(SignalSpanDetector.SignalSpan::modality).toList());
            assertEquals(2, spans.get(0).start());
            assertEquals(1, spans.get(2).occurrence());
            List<SignalSpanDetector.SignalSpan> capped = new SignalSpanDetector(tokens,
                    Map.of(Modality.IMAGE, 1, Modality.AUDIO, 0)).detect(ids);
            assertEquals(1, capped.size());
            assertEquals(Modality.IMAGE, capped.get(0).modality());
            // legacy quirk: the second image text starts right after the first [IMG0] (last = start + 1)
            List<SignalSpanDetector.SignalSpan> images = new SignalSpanDetector(tokens, 5).detect(ids, Modality.IMAGE);
            List<String> texts = new SignalSpanDetector(tokens, 5).legacyReturnedTexts(ids, images, tok);
            assertTrue(texts.get(1).startsWith(tok.decode(new long[] {img[1], img[2], img[3]}, true)), texts.get(1));
        }
    }

    @Test
    void malformedLegacySpansAreErrors() {
        try (HfTextTokenizer tok = E2eGolden.tokenizer()) {
            SignalTokens tokens = SignalTokens.legacy(tok);
            SignalSpanDetector det = new SignalSpanDetector(tokens, 1);
            long[] img = tokens.ids(Modality.IMAGE);
            InvalidInputException truncated = assertThrows(InvalidInputException.class,
                    () -> det.detect(new long[] {1, 320, img[0], img[1]}));
            assertTrue(truncated.getMessage().contains("IMAGE"), truncated.getMessage());
            InvalidInputException wrong = assertThrows(InvalidInputException.class,
                    () -> det.detect(new long[] {1, img[0], img[1], img[3], img[2], 271}));
            assertTrue(wrong.getMessage().contains("[IMG2]"), wrong.getMessage());
        }
    }

    @Test
    void currentSpansHaveSeparators() {
        long sep = 29871;
        SignalTokens tokens = SignalTokens.current(SignalTokensTest.mapTokenizer(SignalTokensTest.currentVocab(32000)),
                sep);
        SignalSpanDetector det = new SignalSpanDetector(tokens, 5);
        long[] ids = {3, 4, 32000, sep, 32001, sep, 32002, sep, 32003, 2};
        List<SignalSpanDetector.SignalSpan> spans = det.detect(ids);
        assertEquals(1, spans.size());
        assertEquals(2, spans.get(0).start());
        assertEquals(9, spans.get(0).end());
        assertArrayEquals(new long[] {3, 4, 32000, sep, 32001, sep, 32002, sep, 32003},
                det.currentReturnedIdPieces(ids, spans).get(0));
        long[] contiguous = {3, 32000, 32001, 32002, 32003, 2, 2, 2};
        assertThrows(InvalidInputException.class, () -> det.detect(contiguous));
        long[] badSep = {3, 32000, 5, 32001, sep, 32002, sep, 32003, 2};
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> det.detect(badSep));
        assertTrue(e.getMessage().contains("separator"), e.getMessage());
    }

    private static long[] concat(long[]... parts) {
        int n = 0;
        for (long[] p : parts) {
            n += p.length;
        }
        long[] out = new long[n];
        int i = 0;
        for (long[] p : parts) {
            System.arraycopy(p, 0, out, i, p.length);
            i += p.length;
        }
        return out;
    }
}
