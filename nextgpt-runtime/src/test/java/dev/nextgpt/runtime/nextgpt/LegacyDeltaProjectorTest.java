package dev.nextgpt.runtime.nextgpt;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.google.gson.JsonObject;
import dev.nextgpt.runtime.io.TensorStore;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The output projectors loaded from the legacy delta checkpoint reproduce the e2e fixture's projector outputs. */
class LegacyDeltaProjectorTest {

    @ParameterizedTest
    @CsvSource({
            "a_text_to_image, img, gen_text_hidden_fcs.0., 77, 32",
            "b_image_to_video, vid, gen_text_hidden_fcs_video.0., 77, 24",
            "c_audio_to_audio, aud, gen_text_hidden_fcs_audio.0., 1, 16"})
    void projectorOutputFromDelta(String caseName, String key, String prefix, int queries, int outDim) {
        try (HfTextTokenizer tok = E2eGolden.tokenizer(); TensorStore delta = E2eGolden.delta();
             TensorStore t = E2eGolden.caseTensors(caseName); NDManager m = NDManager.newBaseManager();
             TransformerOutputProjector p = TransformerOutputProjector.load(delta, prefix, m)) {
            assertEquals(TransformerOutputProjector.Naming.LEGACY_TEXTFC, p.config().naming());
            assertEquals(16, p.config().width());
            assertEquals(queries, p.config().numQueries());
            assertEquals(outDim, p.config().outDim());

            // gen_prefix_embs = embedding rows of the re-tokenized signal string
            SignalTokens tokens = SignalTokens.legacy(tok);
            Modality modality = key.equals("img") ? Modality.IMAGE : key.equals("vid") ? Modality.VIDEO : Modality.AUDIO;
            EmbeddingLookup emb = EmbeddingLookup.ofTable(
                    delta.load(m, "llama_model.base_model.model.model.embed_tokens.weight"));
            NDArray prefixEmbs = emb.rows(m, tok.encode(tokens.signalString(modality)));
            float embErr = prefixEmbs.sub(t.load(m, key + ".gen_prefix_embs")).abs().max().getFloat();
            assertTrue(embErr == 0f, "gen_prefix_embs differ by " + embErr);

            NDArray out = p.forward(t.load(m, key + ".raw_hidden_legacy_gather"), prefixEmbs);
            float err = out.sub(t.load(m, key + ".projector_output")).abs().max().getFloat();
            System.out.printf("%s %s.projector_output max abs err %.3e (tolerance 1e-4)%n", caseName, key, err);
            assertTrue(err <= 1e-4f, caseName + " projector output err " + err);

            JsonObject sig = E2eGolden.caseNamed(caseName).getAsJsonObject("signals").getAsJsonObject(key);
            assertEquals(sig.getAsJsonArray("projector_output_shape").get(1).getAsLong(), out.getShape().get(0));
        }
    }
}
