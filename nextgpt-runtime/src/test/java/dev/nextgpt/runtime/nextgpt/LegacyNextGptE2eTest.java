package dev.nextgpt.runtime.nextgpt;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.nextgpt.ImagePart;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.io.TensorStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The whole legacy procedure on the tiny system of {@code golden/nextgpt-e2e}, loaded from its original files
 * ({@code pytorch_model.bin}, {@code pytorch_model.pt}, {@code imagebind_huge.pth}, {@code sd/}), against the values
 * the original code produced (README §4, tolerances §8).
 */
class LegacyNextGptE2eTest {
    private static LegacyNextGpt model;
    private static NDManager manager;

    @BeforeAll
    static void load() {
        model = LegacyNextGpt.load(system(), LegacyNextGpt.LoadOptions.defaults());
        manager = NDManager.newBaseManager();
    }

    @AfterAll
    static void close() {
        manager.close();
        model.close();
    }

    static Path system() {
        return E2eGolden.dir().resolve("system");
    }

    private static double maxAbs(NDArray a, NDArray b) {
        assertArrayEquals(b.getShape().getShape(), a.getShape().getShape(), "shape");
        return a.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).sub(b).abs().max().getFloat();
    }

    private static void close(String what, NDArray actual, NDArray expected, double tol) {
        double d = maxAbs(actual, expected);
        System.out.printf("e2e %-40s max abs %.3g (tol %.3g)%n", what, d, tol);
        assertTrue(d <= tol, what + ": max abs " + d + " > " + tol);
    }

    private static List<String> returned(JsonObject c) {
        List<String> out = new ArrayList<>();
        for (JsonElement e : c.getAsJsonArray("generate_return")) {
            if (e.isJsonPrimitive()) {
                out.add(e.getAsString());
            } else {
                for (Map.Entry<String, JsonElement> x : e.getAsJsonObject().entrySet()) {
                    out.add(x.getValue().getAsJsonArray().get(0).getAsString());
                }
            }
        }
        return out;
    }

    private LegacyNextGpt.Result run(String name, NDManager m) {
        JsonObject c = E2eGolden.caseNamed(name);
        return model.generate(LegacyNextGpt.Request.of(c.get("prompt_text").getAsString(), system()), m);
    }

    private void checkCommon(String name, LegacyNextGpt.Result r, TensorStore exp, NDManager m) {
        JsonObject c = E2eGolden.caseNamed(name);
        assertArrayEquals(E2eGolden.longs(c.getAsJsonArray("sequences")), r.sequences(), name + " sequences");
        assertArrayEquals(exp.readLongs("gen.sequences"), r.sequences(), name);
        close(name + " input.inputs_embeds", r.inputsEmbeds(), exp.load(m, "input.inputs_embeds"), 1e-5);
        close(name + " gen.step_logits", r.stepLogits(), exp.load(m, "gen.step_logits"), 1e-4);
        NDArray hExp = exp.load(m, "gen.hidden_last_per_step");
        long n = hExp.getShape().get(0);
        close(name + " gen.hidden_last_per_step", r.hiddenPerStep().get("0:" + n), hExp, 1e-4);
        assertEquals(returned(c), r.returnedTexts(), name + " returned texts");
    }

    private void checkSignal(String name, String key, LegacyNextGpt.Result r, TensorStore exp, NDManager m) {
        JsonObject c = E2eGolden.caseNamed(name);
        JsonObject sig = c.getAsJsonObject("signals").getAsJsonObject(key);
        assertEquals(1, r.signals().size(), name);
        LegacyNextGpt.Signal s = r.signals().get(0);
        assertEquals(sig.get("gen_idx_in_sequences").getAsInt(), s.span().start(), name + " gen_idx");
        close(name + " " + key + ".raw_hidden_legacy_gather", s.rawHidden(), exp.load(m,
                key + ".raw_hidden_legacy_gather"), 1e-4);
        close(name + " " + key + ".gen_prefix_embs", s.prefixEmbeddings(), exp.load(m, key + ".gen_prefix_embs"),
                1e-5);
        close(name + " " + key + ".projector_output", s.projectorOutput(), exp.load(m, key + ".projector_output"),
                1e-4);
    }

    @Test
    void textToImageWithStableDiffusion() {
        try (NDManager m = manager.newSubManager(); TensorStore exp = E2eGolden.caseTensors("a_text_to_image")) {
            LegacyNextGpt.Result r = run("a_text_to_image", m);
            checkCommon("a_text_to_image", r, exp, m);
            checkSignal("a_text_to_image", "img", r, exp, m);
            LegacyNextGpt.Signal s = r.signals().get(0);
            assertEquals(Modality.IMAGE, s.span().modality());
            close("a sd.prompt_embeds", s.conditioning(), exp.load(m, "sd.prompt_embeds"), 1e-4);
            StableDiffusionDecoder sd = (StableDiffusionDecoder) model.decoder(Modality.IMAGE).orElseThrow();
            NDArray uc = exp.load(m, "sd.encoded_prompt_embeds_uncond_cond");
            close("a sd negative (empty prompt) embeds", sd.negativeEmbeds(), uc.get("0:1"), 1e-5);
            List<int[]> progress = new ArrayList<>();
            ModalityDecoder.Output out = model.decode(s, ModalityDecoder.Options.defaults().withSteps(4)
                    .withGuidanceScale(7.5).withInitialLatents(exp.load(m, "sd.latents_init")),
                    (step, total) -> progress.add(new int[] {step, total}), () -> false);
            assertEquals(5, progress.size(), "PNDM 4 steps = 5 loop iterations");
            NDArray perStepExp = exp.load(m, "sd.per_step_latents");
            double scale = perStepExp.abs().max().getFloat();
            close("a sd.per_step_latents (iterations 1..4)", out.tensors().get("sd.per_loop_latents").get("1:5"),
                    perStepExp, 1e-3 * scale);
            NDArray finalExp = exp.load(m, "sd.final_latents");
            close("a sd.final_latents", out.tensors().get("sd.final_latents"), finalExp,
                    1e-3 * finalExp.abs().max().getFloat());
            close("a sd.image_float", out.tensors().get("sd.image_float"), exp.load(m, "sd.image_float"), 1e-3);
            NDArray u8 = out.tensors().get("sd.image_uint8").toType(ai.djl.ndarray.types.DataType.INT32, false);
            NDArray u8exp = exp.load(m, "sd.image_uint8").toType(ai.djl.ndarray.types.DataType.INT32, false);
            assertTrue(u8.sub(u8exp).abs().max().getInt() <= 1, "uint8 image within ±1");
            ImagePart img = assertInstanceOf(ImagePart.class, out.part());
            assertEquals(32, img.width());
            assertEquals(32, img.height());
        }
    }

    @Test
    void imageToVideo() {
        try (NDManager m = manager.newSubManager(); TensorStore exp = E2eGolden.caseTensors("b_image_to_video")) {
            LegacyNextGpt.Result r = run("b_image_to_video", m);
            assertEquals(1, r.features().size());
            close("b imagebind.vision.embedding", r.features().get(0).imagebindEmbedding(),
                    exp.load(m, "imagebind.vision.embedding"), 1e-4);
            close("b llama_proj.output", r.features().get(0).projected(), exp.load(m, "llama_proj.output"), 1e-5);
            checkCommon("b_image_to_video", r, exp, m);
            checkSignal("b_image_to_video", "vid", r, exp, m);
            close("b vid.decoder_prompt_embeds", r.signals().get(0).conditioning(),
                    exp.load(m, "vid.decoder_prompt_embeds"), 1e-4);
        }
    }

    @Test
    void audioToAudio() {
        try (NDManager m = manager.newSubManager(); TensorStore exp = E2eGolden.caseTensors("c_audio_to_audio")) {
            LegacyNextGpt.Result r = run("c_audio_to_audio", m);
            close("c imagebind.audio.embedding", r.features().get(0).imagebindEmbedding(),
                    exp.load(m, "imagebind.audio.embedding"), 1e-4);
            close("c llama_proj.output", r.features().get(0).projected(), exp.load(m, "llama_proj.output"), 1e-5);
            checkCommon("c_audio_to_audio", r, exp, m);
            checkSignal("c_audio_to_audio", "aud", r, exp, m);
            close("c aud.decoder_prompt_embeds", r.signals().get(0).conditioning(),
                    exp.load(m, "aud.decoder_prompt_embeds"), 1e-4);
        }
    }

    @Test
    void textOnly() {
        try (NDManager m = manager.newSubManager(); TensorStore exp = E2eGolden.caseTensors("d_text_only")) {
            LegacyNextGpt.Result r = run("d_text_only", m);
            checkCommon("d_text_only", r, exp, m);
            assertTrue(r.signals().isEmpty());
            assertEquals("I am a tiny assistant.", model.displayText(r));
        }
    }

    @Test
    void streamingDeltasConcatenateToTheAnswer() {
        try (NDManager m = manager.newSubManager()) {
            StringBuilder sb = new StringBuilder();
            JsonObject c = E2eGolden.caseNamed("d_text_only");
            LegacyNextGpt.Result r = model.generate(LegacyNextGpt.Request.of(c.get("prompt_text").getAsString(),
                    system()).withTextStreamer(sb::append), m);
            assertEquals(model.tokenizer().decode(r.generatedIds(), true), sb.toString());
        }
    }

    @Test
    void missingDeltaTensorsAreNamedUnlessRandomInitIsAllowed(@org.junit.jupiter.api.io.TempDir Path tmp)
            throws IOException {
        Path sys = tmp.resolve("system");
        copyTree(system(), sys);
        Path delta = sys.resolve("ckpt/delta_ckpt/nextgpt/7b_tiva_v0");
        Files.delete(delta.resolve("pytorch_model.pt"));
        try (TensorStore full = dev.nextgpt.runtime.io.SafetensorsFile.open(
                delta.resolve("pytorch_model.safetensors"))) {
            dev.nextgpt.runtime.io.SafetensorsWriter w = new dev.nextgpt.runtime.io.SafetensorsWriter();
            try (NDManager m = NDManager.newBaseManager()) {
                for (String n : full.names()) {
                    if (!n.startsWith("gen_text_hidden_fcs_audio.")) {
                        w.add(n, full.load(m, n));
                    }
                }
                Files.delete(delta.resolve("pytorch_model.safetensors"));
                w.write(delta.resolve("pytorch_model.safetensors"));
            }
        }
        LegacyNextGpt.LoadOptions noSd = LegacyNextGpt.LoadOptions.defaults().withImageDecoder(false);
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> LegacyNextGpt.load(sys, noSd));
        assertTrue(e.getMessage().contains("gen_text_hidden_fcs_audio.0.fc.weight"), e.getMessage());
        try (LegacyNextGpt g = LegacyNextGpt.load(sys, noSd.withAllowRandomInit(Set.of("output_projectors")))) {
            assertEquals(Set.of(ParameterAudit.PART_AUDIO_OUTPUT_PROJECTOR), g.randomInitParts());
            // no file gives the audio width once its tensors are gone: the released value (512) is used
            assertEquals(ParameterAudit.REAL_7B_TIVA_V0.audioOut(),
                    g.projector(Modality.AUDIO).orElseThrow().config().outDim());
        }
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (var s = Files.walk(from)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t);
                }
            }
        }
    }
}
