package dev.nextgpt.runtime.nextgpt;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.nextgpt.runtime.io.TensorStore;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LegacyPromptBuilderTest {

    @Test
    void tokenizerMatchesTheSlowTokenizerOnAllFixtureStrings() {
        try (HfTextTokenizer tok = E2eGolden.tokenizer()) {
            int n = 0;
            for (JsonElement e : E2eGolden.json("tokenizer_cases.json").getAsJsonArray("cases")) {
                JsonObject c = e.getAsJsonObject();
                String text = c.get("text").getAsString();
                long[] ids = E2eGolden.longs(c.getAsJsonArray("ids"));
                assertArrayEquals(ids, tok.encode(text), text);
                if (!text.contains("[") && !text.contains("<")) {
                    // decoding differs only around added tokens (README §6)
                    assertEquals(c.get("decoded_skip_special").getAsString(), tok.decode(ids, true), text);
                }
                n++;
            }
            assertEquals(22, n);
            assertEquals(List.of(271L, 265L, 2L), LegacyPromptBuilder.legacyStopIds(tok));
        }
    }

    @Test
    void demoPromptStrings() {
        assertEquals("### Human:  generate a picture of a bird",
                LegacyPromptBuilder.demoPrompt(List.of(), LegacyPromptBuilder.MediaPaths.none(),
                        "generate a picture of a bird"));
        assertEquals("### Human: <Image>p.jpg</Image>  describe it",
                LegacyPromptBuilder.demoPrompt(List.of(), LegacyPromptBuilder.MediaPaths.image("p.jpg"),
                        "describe it"));
        String q1 = LegacyPromptBuilder.humanMessage(LegacyPromptBuilder.MediaPaths.image("a.jpg"), "what is it");
        List<LegacyPromptBuilder.Turn> history = List.of(new LegacyPromptBuilder.Turn(q1, "a bird"),
                new LegacyPromptBuilder.Turn(" more", "ok"));
        assertEquals("### Human: <Image>a.jpg</Image>  what is it\n### Assistant: a bird\n###"
                        + " Human:  more\n### Assistant: ok\n### Human: <Audio>s.wav</Audio>  and this",
                LegacyPromptBuilder.demoPrompt(history, LegacyPromptBuilder.MediaPaths.audio("s.wav"), "and this"));
        // the spec's worked example
        assertEquals(List.of("### Human:", "Image>p.jpg</Image", " describe it\n### Assistant:"),
                LegacyPromptBuilder.splitPieces("### Human: <Image>p.jpg</Image>  describe it"));
    }

    @Test
    void piecesLayoutAndEmbeddingsMatchEveryCase() {
        try (HfTextTokenizer tok = E2eGolden.tokenizer(); TensorStore delta = E2eGolden.delta();
             NDManager m = NDManager.newBaseManager()) {
            SignalTokens tokens = SignalTokens.legacy(tok);
            LegacyPromptBuilder builder = new LegacyPromptBuilder(tok, tokens);
            EmbeddingLookup emb = EmbeddingLookup.ofTable(
                    delta.load(m, "llama_model.base_model.model.model.embed_tokens.weight"));
            for (JsonObject c : E2eGolden.cases()) {
                String name = c.get("name").getAsString();
                LegacyPromptBuilder.MediaPaths media = new LegacyPromptBuilder.MediaPaths(
                        paths(c, "image"), paths(c, "audio"), paths(c, "video"));
                String prompt = LegacyPromptBuilder.demoPrompt(List.of(), media, c.get("prompt_input").getAsString());
                assertEquals(c.get("prompt_text").getAsString(), prompt, name);
                assertEquals(c.get("full_text").getAsString(), prompt + LegacyPromptBuilder.ASSISTANT_SUFFIX, name);

                List<LegacyPromptBuilder.Piece> pieces = builder.pieces(prompt);
                JsonArray expectedPieces = c.getAsJsonArray("split_pieces");
                assertEquals(expectedPieces.size(), pieces.size(), name);
                for (int i = 0; i < pieces.size(); i++) {
                    JsonObject ep = expectedPieces.get(i).getAsJsonObject();
                    LegacyPromptBuilder.Piece p = pieces.get(i);
                    assertEquals(ep.get("piece").getAsString(), p.text(), name);
                    if (ep.get("type").getAsString().equals("text")) {
                        assertNull(p.media(), name);
                        assertArrayEquals(E2eGolden.longs(ep.getAsJsonArray("ids")), p.ids(), name + " piece " + i);
                    } else {
                        assertEquals(ep.get("type").getAsString(), p.media().name().toLowerCase(), name);
                        assertEquals(strings(ep.getAsJsonArray("paths")), p.paths(), name);
                    }
                }
                List<LegacyPromptBuilder.Segment> layout = builder.layout(pieces);
                JsonArray el = c.getAsJsonArray("inputs_embeds_layout");
                assertEquals(el.size(), layout.size(), name);
                for (int i = 0; i < layout.size(); i++) {
                    assertEquals(el.get(i).getAsJsonArray().get(0).getAsString(), layout.get(i).kind(), name);
                    assertEquals(el.get(i).getAsJsonArray().get(1).getAsInt(), layout.get(i).length(), name);
                }

                try (TensorStore t = E2eGolden.caseTensors(name); NDManager cm = m.newSubManager()) {
                    // the media feature (ImageBind + llama_proj) is the fixture's llama_proj.output for now
                    MediaFeatureEncoder enc = (mod, path, mm) -> t.load(mm, "llama_proj.output");
                    NDArray embeds = builder.inputEmbeddings(pieces, emb, enc, cm);
                    assertEquals(c.get("inputs_embeds_len").getAsInt(), embeds.getShape().get(0), name);
                    float err = embeds.sub(t.load(cm, "input.inputs_embeds")).abs().max().getFloat();
                    System.out.printf("%s inputs_embeds max abs err %.3e (tolerance 1e-5)%n", name, err);
                    assertTrue(err <= 1e-5f, name + " inputs_embeds err " + err);
                }
            }
        }
    }

    @Test
    void severalFilesInOneTagAreSummed() {
        try (HfTextTokenizer tok = E2eGolden.tokenizer(); NDManager m = NDManager.newBaseManager()) {
            LegacyPromptBuilder builder = new LegacyPromptBuilder(tok, SignalTokens.legacy(tok));
            List<LegacyPromptBuilder.Piece> pieces = builder.pieces("### Human: <Image>a.jpg</Image><Image>b.jpg</Image>  hi");
            assertEquals(List.of("a.jpg", "b.jpg"), pieces.get(1).paths());
            NDArray table = m.arange(0f, 550f * 4f).reshape(550, 4);
            NDArray out = builder.inputEmbeddings(pieces, EmbeddingLookup.ofTable(table),
                    (mod, path, mm) -> mm.create(path.equals("a.jpg") ? new float[] {1, 2, 3, 4}
                            : new float[] {10, 20, 30, 40}), m);
            int featureRow = 1 + pieces.get(0).ids().length + 1;
            assertArrayEquals(new float[] {11, 22, 33, 44}, out.get(featureRow).toFloatArray());
            assertArrayEquals(table.get(512).toFloatArray(), out.get(featureRow - 1).toFloatArray());
            assertArrayEquals(table.get(1).toFloatArray(), out.get(featureRow + 2).toFloatArray());
        }
    }

    private static List<String> paths(JsonObject c, String key) {
        JsonElement e = c.get(key);
        if (e == null || e.isJsonNull()) {
            return List.of();
        }
        return e.isJsonArray() ? strings(e.getAsJsonArray()) : List.of(e.getAsString());
    }

    private static List<String> strings(JsonArray a) {
        List<String> out = new ArrayList<>();
        a.forEach(x -> out.add(x.getAsString()));
        return out;
    }
}
