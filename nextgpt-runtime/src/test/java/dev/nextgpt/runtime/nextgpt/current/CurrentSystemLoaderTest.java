package dev.nextgpt.runtime.nextgpt.current;

import dev.nextgpt.runtime.nextgpt.LlamaTextTokenizer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.ImagePart;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.llm.GenerationOptions;
import dev.nextgpt.runtime.llm.LlamaModel;
import dev.nextgpt.runtime.nextgpt.Modality;
import dev.nextgpt.runtime.nextgpt.ModalityDecoder;
import dev.nextgpt.runtime.nextgpt.current.CurrentNextGpt.MediaInput;
import dev.nextgpt.runtime.nextgpt.current.CurrentNextGpt.Output;
import dev.nextgpt.runtime.nextgpt.current.CurrentNextGpt.Request;
import dev.nextgpt.runtime.nextgpt.current.CurrentSystemLoader.LoadOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link CurrentNextGpt#load} on tiny current systems written to disk in the three C layouts ({@link CurrentTinyDisk}):
 * forced signal spans, the conditioning checked against a cache-free full forward of the loaded LLM and projectors,
 * the loading rules checked on the effective weights (LoRA merge, resized embeddings, adapter rows), and the same
 * conditioning across layouts holding the same effective weights.
 */
class CurrentSystemLoaderTest {
    static Path dir;
    static CurrentTinyDisk tiny;
    static NDManager manager;

    @BeforeAll
    static void setUp() throws IOException {
        dir = Files.createTempDirectory("current-load");
        tiny = new CurrentTinyDisk();
        manager = NDManager.newBaseManager();
    }

    @AfterAll
    static void tearDown() throws IOException {
        tiny.close();
        manager.close();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    private static long[] script(CurrentNextGpt g) {
        long sep = CurrentSignalTokens.separatorId(new LlamaTextTokenizer(g.tokenizer()));
        List<Long> s = new ArrayList<>(List.of(100L));
        for (Modality m : List.of(Modality.IMAGE, Modality.AUDIO)) {
            long[] ids = g.signalTokens().ids(m);
            for (int k = 0; k < ids.length; k++) {
                if (k > 0) {
                    s.add(sep);
                }
                s.add(ids[k]);
            }
            s.add(101L);
        }
        s.add(2L);
        return s.stream().mapToLong(Long::longValue).toArray();
    }

    private static GenerationOptions forced(long[] script) {
        return new GenerationOptions().greedy().maxNewTokens(script.length + 3).logitsProcessor((row, seq, logits) -> {
            Arrays.fill(logits, -1e9f);
            logits[(int) script[Math.min(seq.length, script.length - 1)]] = 0f;
        });
    }

    /** Runs an image + audio input prompt with forced image and audio spans; checks against a full forward. */
    private static List<Request> runAndCheck(CurrentNextGpt g, NDManager m) {
        long[] script = script(g);
        m.getEngine().setRandomSeed(3);
        NDArray image = m.randomNormal(new Shape(1, 3, 224, 224));
        NDArray audio = m.randomNormal(new Shape(1, 1, 128, 204));
        Output out = g.generate("what is this? draw it and play it", List.of(new MediaInput(Modality.IMAGE, image),
                new MediaInput(Modality.AUDIO, audio)), forced(script), m);
        assertArrayEquals(script, out.generatedIds());
        assertEquals(List.of(Modality.IMAGE, Modality.AUDIO),
                out.requestsInOrder().stream().map(r -> r.span().modality()).toList());
        int promptLen = (int) out.splice().inputsEmbeds().getShape().get(1);
        LlamaModel llm = g.llm();
        NDArray all = out.splice().inputsEmbeds().concat(llm.embed(m, new long[][] {script}), 1);
        LlamaModel.Output full = llm.forwardEmbeds(all, null, true);
        NDArray last = full.hiddenStates().get(full.hiddenStates().size() - 1);
        for (Request r : out.requestsInOrder()) {
            NDArray h = last.get(":, " + (promptLen + r.span().start()) + ":" + (promptLen + r.span().end()) + ", :");
            NDArray e = llm.embed(m, new long[][] {Arrays.copyOfRange(script, r.span().start(), r.span().end())});
            NDArray ref = g.outputProjector(r.span().modality()).orElseThrow().forward(h, e);
            if (r.span().modality() == Modality.AUDIO) {
                ref = ref.reshape(1, ref.getShape().get(2));
            }
            assertClose(ref.toFloatArray(), r.conditioning().toFloatArray(), 1e-4, "conditioning vs full forward");
        }
        assertEquals(new Shape(1, 77, 48), out.requestsInOrder().get(0).conditioning().getShape());
        assertEquals(new Shape(1, 16), out.requestsInOrder().get(1).conditioning().getShape());
        return out.requestsInOrder();
    }

    private static List<float[]> conds(List<Request> requests) {
        return requests.stream().map(r -> r.conditioning().toFloatArray()).toList();
    }

    private static void assertClose(float[] e, float[] a, double tol, String what) {
        assertEquals(e.length, a.length);
        double max = 0;
        for (int i = 0; i < e.length; i++) {
            max = Math.max(max, Math.abs(e[i] - a[i]));
        }
        System.out.printf("CurrentSystemLoaderTest %s: max abs err %.3e%n", what, max);
        assertTrue(max <= tol, what + ": max abs err " + max + " > " + tol);
    }

    private static float[] weight(CurrentNextGpt g, String name) {
        try (NDManager m = manager.newSubManager()) {
            return g.llm().weight(m, name).toFloatArray();
        }
    }

    @Test
    void fullLoraRunAndAdapterLayoutsLoadAndAgree() throws IOException {
        Path full = tiny.writeFull(dir.resolve("full"), false, true, Set.of());
        Path run = tiny.writeLoraRun(dir.resolve("lora-run"));
        Path adapterFull = tiny.writeFull(dir.resolve("full-adapter-rows"), true, false, Set.of());
        Path adapter = tiny.writeAdapter(dir.resolve("adapter"));
        assertEquals(CurrentSystemLoader.Kind.FULL, CurrentSystemLoader.detect(full));
        assertEquals(CurrentSystemLoader.Kind.LORA_RUN, CurrentSystemLoader.detect(run));
        assertEquals(CurrentSystemLoader.Kind.ADAPTER_FILES, CurrentSystemLoader.detect(adapter));

        List<float[]> fullConds;
        try (CurrentNextGpt g = CurrentNextGpt.load(full, LoadOptions.defaults());
             NDManager m = manager.newSubManager()) {
            assertEquals(548, g.llm().embeddingRows());
            assertTrue(g.imagebind().isPresent());
            assertTrue(g.decoder(Modality.IMAGE).isPresent(), "SD folder in image_decoder");
            assertFalse(g.decoder(Modality.VIDEO).isPresent(), "an HF id is not a local folder");
            assertTrue(g.loadNotes().stream().anyMatch(n -> n.contains("video_decoder")), g.loadNotes().toString());
            List<Request> requests = runAndCheck(g, m);
            fullConds = conds(requests);
            // the image decoder runs the folder's schedule with Euler sampling (C: EulerDiscreteScheduler)
            Request img = requests.get(0);
            ModalityDecoder.Options o = ModalityDecoder.Options.defaults().withSteps(2).withSeed(5L);
            ModalityDecoder.Output media = g.decode(img, o, ModalityDecoder.Progress.NONE, null);
            ImagePart part = assertInstanceOf(ImagePart.class, media.part());
            try (var euler = CurrentSystemLoader.loadEulerStableDiffusion(CurrentTinyDisk.sdDir())) {
                ImagePart ref = (ImagePart) euler.decode(img.conditioning(), o, null, () -> false).part();
                assertArrayEquals(ref.toPngBytes(), part.toPngBytes());
            }
        }
        try (CurrentNextGpt g = CurrentNextGpt.load(run, LoadOptions.defaults().withBaseModel(
                CurrentFixtures.llamaDir())); NDManager m = manager.newSubManager()) {
            // W + α/r·B·A on the targets; the projector's q_proj LoRA is left out and reported
            try (var eff = tiny.effectiveLlm(false, true)) {
                for (String t : CurrentTinyDisk.LORA_TARGETS) {
                    assertClose(eff.readFloats(t + ".weight"), weight(g, t + ".weight"), 1e-6, "merged " + t);
                }
                assertClose(eff.readFloats("model.embed_tokens.weight"), weight(g, "model.embed_tokens.weight"), 0,
                        "trainable embed_tokens");
            }
            assertTrue(g.loadNotes().stream().anyMatch(n -> n.contains(CurrentTinyDisk.PROJECTOR_LORA)),
                    g.loadNotes().toString());
            List<float[]> runConds = conds(runAndCheck(g, m));
            for (int i = 0; i < runConds.size(); i++) {
                assertClose(fullConds.get(i), runConds.get(i), 1e-4, "LoRA run vs full layout");
            }
        }
        List<float[]> adapterFullConds;
        try (CurrentNextGpt g = CurrentNextGpt.load(adapterFull, LoadOptions.defaults().withDecoders(false));
             NDManager m = manager.newSubManager()) {
            adapterFullConds = conds(runAndCheck(g, m));
        }
        try (CurrentNextGpt g = CurrentNextGpt.load(adapter, LoadOptions.defaults());
             NDManager m = manager.newSubManager()) {
            // C resize: mean rows, the adapter's 36 rows over the new input rows; lm_head mean rows
            try (var eff = tiny.effectiveLlm(true, false)) {
                assertClose(eff.readFloats("model.embed_tokens.weight"), weight(g, "model.embed_tokens.weight"), 0,
                        "embed_tokens with adapter rows");
                assertClose(eff.readFloats("lm_head.weight"), weight(g, "lm_head.weight"), 0, "lm_head mean rows");
            }
            assertTrue(g.decoder(Modality.IMAGE).isEmpty());
            List<float[]> conds = conds(runAndCheck(g, m));
            for (int i = 0; i < conds.size(); i++) {
                assertClose(adapterFullConds.get(i), conds.get(i), 1e-4, "adapter files vs full layout");
            }
        }
    }

    @Test
    void missingTensorsAreNamedAndOnlyAllowedPartsAreRandom() throws IOException {
        String llmMissing = "model.layers.1.mlp.up_proj.weight";
        String vidMissing = CurrentTinyDisk.outKey(Modality.VIDEO) + "tfm.decoder.norm.weight";
        String audMissing = CurrentTinyDisk.outKey(Modality.AUDIO) + "query_embs";
        Path broken = tiny.writeFull(dir.resolve("broken"), false, false, Set.of(llmMissing, vidMissing, audMissing));
        ModelFormatException e = assertThrows(ModelFormatException.class,
                () -> CurrentNextGpt.load(broken, LoadOptions.defaults().withDecoders(false)));
        assertTrue(e.getMessage().contains(llmMissing), e.getMessage());
        assertTrue(e.getMessage().contains("tfm.decoder.norm.weight"), e.getMessage());
        assertTrue(e.getMessage().contains("query_embs"), e.getMessage());
        // allowing the projectors still fails on the LLM tensor
        ModelFormatException e2 = assertThrows(ModelFormatException.class, () -> CurrentNextGpt.load(broken,
                LoadOptions.defaults().withDecoders(false).withAllowRandomInit(Set.of("output_projectors"))));
        assertTrue(e2.getMessage().contains(llmMissing), e2.getMessage());
        assertFalse(e2.getMessage().contains("query_embs"), e2.getMessage());

        Path partial = tiny.writeFull(dir.resolve("partial"), false, false, Set.of(vidMissing));
        assertThrows(ModelFormatException.class,
                () -> CurrentNextGpt.load(partial, LoadOptions.defaults().withDecoders(false)));
        try (CurrentNextGpt g = CurrentNextGpt.load(partial, LoadOptions.defaults().withDecoders(false)
                .withAllowRandomInit(Set.of(CurrentSystemLoader.outputProjectorPart(Modality.VIDEO))))) {
            assertEquals(Set.of("video_output_projector"), g.randomInitParts());
        }
        // a LoRA run without a base folder says how to give it
        Path run = tiny.writeLoraRun(dir.resolve("run-no-base"));
        ModelFormatException e3 = assertThrows(ModelFormatException.class,
                () -> CurrentNextGpt.load(run, LoadOptions.defaults()));
        assertTrue(e3.getMessage().contains("withBaseModel"), e3.getMessage());
    }

    @Test
    void widthsAreValidatedBeforeLoading() throws IOException {
        Path full = tiny.writeFull(dir.resolve("wrong-width"), false, false, Set.of());
        String cfg = Files.readString(full.resolve("config.json")).replace("\"mm_hidden_size\": 16",
                "\"mm_hidden_size\": 24");
        Files.writeString(full.resolve("config.json"), cfg);
        ModelFormatException e = assertThrows(ModelFormatException.class,
                () -> CurrentNextGpt.load(full, LoadOptions.defaults().withDecoders(false)));
        assertTrue(e.getMessage().contains("mm_hidden_size"), e.getMessage());
    }
}
