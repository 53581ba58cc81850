package dev.nextgpt.runtime.nextgpt.current;

import dev.nextgpt.runtime.nextgpt.LlamaTextTokenizer;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.runtime.config.JsonConfig;
import dev.nextgpt.runtime.imagebind.ImageBindConfig;
import dev.nextgpt.runtime.imagebind.ImageBindModel;
import dev.nextgpt.runtime.llm.GenerationOptions;
import dev.nextgpt.runtime.llm.LlamaGenerator;
import dev.nextgpt.runtime.llm.LlamaModel;
import dev.nextgpt.runtime.llm.LlamaTokenizer;
import dev.nextgpt.runtime.media.VideoPreprocessor;
import dev.nextgpt.runtime.nextgpt.InputProjector;
import dev.nextgpt.runtime.nextgpt.InputProjectors;
import dev.nextgpt.runtime.nextgpt.Modality;
import dev.nextgpt.runtime.nextgpt.ModalityDecoder;
import dev.nextgpt.runtime.nextgpt.TransformerOutputProjector;
import dev.nextgpt.runtime.nextgpt.current.CurrentNextGpt.MediaInput;
import dev.nextgpt.runtime.nextgpt.current.CurrentNextGpt.Output;
import dev.nextgpt.runtime.nextgpt.current.CurrentNextGpt.Request;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * End to end on a tiny current system assembled in memory: the llama fixture resized to 548 rows, a random tiny
 * ImageBind (width 32), the group / transformer projector fixtures; generation is forced with a logits processor.
 */
class CurrentNextGptTest {
    static Path dir;
    static NDManager manager;
    static CurrentCheckpointLayout layout;
    static LlamaModel llm;
    static LlamaTokenizer tokenizer;
    static ImageBindModel imagebind;
    static InputProjector inProj;
    static Map<Modality, TransformerOutputProjector> outProj = new EnumMap<>(Modality.class);
    static List<String> decoded = new ArrayList<>();
    static CurrentNextGpt pipeline;
    static long sep;

    @BeforeAll
    static void build() throws Exception {
        dir = Files.createTempDirectory("current-tiny");
        CurrentTinySystem.write(dir, Set.of());
        manager = NDManager.newBaseManager();
        layout = CurrentCheckpointLayout.openFull(dir);
        llm = LlamaModel.load(layout.llamaConfig(), layout.llm(), Device.cpu(), DataType.FLOAT32);
        tokenizer = CurrentFixtures.currentTokenizer();
        Path ibCfg = dir.resolve("imagebind.json");
        Files.writeString(ibCfg, "{\"out_embed_dim\": 32, \"vision_embed_dim\": 16, \"vision_num_blocks\": 1, "
                + "\"vision_num_heads\": 2, \"audio_embed_dim\": 16, \"audio_num_blocks\": 1, \"audio_num_heads\": 2}");
        imagebind = ImageBindModel.random(ImageBindConfig.fromJson(JsonConfig.read(ibCfg)), manager,
                EnumSet.of(dev.nextgpt.runtime.imagebind.Modality.VISION, dev.nextgpt.runtime.imagebind.Modality.AUDIO),
                11);
        inProj = InputProjectors.load(layout.all(), "model.mm_input_projector.", layout.inputProjectorType(), manager);
        for (Modality m : Modality.values()) {
            outProj.put(m, TransformerOutputProjector.load(layout.all(), CurrentTinySystem.key(m), manager));
        }
        Map<Modality, ModalityDecoder> decoders = new EnumMap<>(Modality.class);
        for (Modality m : Modality.values()) {
            long[] shape = m == Modality.AUDIO ? new long[] {1, 16} : new long[] {1, 77, 32};
            decoders.put(m, new RecordingDecoder(m, shape, decoded));
        }
        pipeline = new CurrentNextGpt(llm, tokenizer, imagebind, inProj, outProj, decoders,
                CurrentNextGpt.Settings.defaults());
        sep = CurrentSignalTokens.separatorId(new LlamaTextTokenizer(tokenizer));
    }

    @AfterAll
    static void close() throws Exception {
        inProj.close();
        outProj.values().forEach(TransformerOutputProjector::close);
        imagebind.close();
        llm.close();
        layout.close();
        tokenizer.close();
        manager.close();
        try (var s = Files.list(dir)) {
            for (Path p : s.toList()) {
                Files.delete(p);
            }
        }
        Files.delete(dir);
    }

    /** text ids, then the 2N−1 span of {@code m}. */
    private static void span(List<Long> out, Modality m) {
        long[] ids = pipeline.signalTokens().ids(m);
        for (int k = 0; k < ids.length; k++) {
            if (k > 0) {
                out.add(sep);
            }
            out.add(ids[k]);
        }
    }

    private static GenerationOptions forced(long[] script) {
        return new GenerationOptions().greedy().maxNewTokens(script.length + 3).logitsProcessor((row, seq, logits) -> {
            Arrays.fill(logits, -1e9f);
            logits[(int) script[Math.min(seq.length, script.length - 1)]] = 0f;
        });
    }

    @Test
    void imageAndAudioInputsThenTwoImageAndOneAudioRequests() {
        List<Long> s = new ArrayList<>(List.of(100L));
        span(s, Modality.IMAGE);             // 1..7, end 8
        s.add(101L);                          // 8
        span(s, Modality.IMAGE);             // 9..15, end 16
        s.add(102L);                          // 16
        span(s, Modality.AUDIO);             // 17..31, end 32
        s.add(103L);
        s.add(2L);                            // EOS
        long[] script = s.stream().mapToLong(Long::longValue).toArray();
        decoded.clear();
        try (NDManager m = manager.newSubManager()) {
            NDArray image = m.randomNormal(new Shape(1, 3, 224, 224));
            NDArray audio = m.randomNormal(new Shape(1, 1, 128, 204));
            Output out = pipeline.generate("describe and answer", List.of(new MediaInput(Modality.IMAGE, image),
                    new MediaInput(Modality.AUDIO, audio)), forced(script), m);
            assertTrue(out.prompt().contains("USER: <image>\n<audio>\ndescribe and answer ASSISTANT:"));
            // prompt ids: one −200, one −400 followed by the extra BOS
            int img = indexOf(out.promptIds(), -200);
            int aud = indexOf(out.promptIds(), -400);
            assertTrue(img > 0 && aud > img);
            assertEquals(1, out.promptIds()[aud + 1]);
            // splice: 8 group tokens at each placeholder (the audio one shifted by the image's 8 − 1)
            assertEquals(List.of(new CurrentSplice.Placement(0, Modality.IMAGE, 0, img, 8),
                    new CurrentSplice.Placement(0, Modality.AUDIO, 0, aud + 7, 8)), out.splice().placements());
            int promptLen = out.promptIds().length + 14;
            assertEquals(new Shape(1, promptLen, 64), out.splice().inputsEmbeds().getShape());
            NDArray imgFeat = pipeline.encodeMedia(Modality.IMAGE, image);
            NDArray audFeat = pipeline.encodeMedia(Modality.AUDIO, audio);
            assertEquals(new Shape(1, 8, 64), imgFeat.getShape());
            assertClose(imgFeat.get(0), out.splice().inputsEmbeds().get("0, " + img + ":" + (img + 8)), 1e-6);
            assertClose(audFeat.get(0), out.splice().inputsEmbeds().get("0, " + (aud + 7) + ":" + (aud + 15)), 1e-6);
            // generation followed the script and stopped on EOS
            assertArrayEquals(script, out.generatedIds());
            assertEquals(LlamaGenerator.FinishReason.EOS, out.finishReason());
            // requests, positions, returned pieces (last = start + 1 quirk)
            List<Request> imgs = out.requests().get(Modality.IMAGE);
            assertEquals(2, imgs.size());
            assertEquals(1, imgs.get(0).span().start());
            assertEquals(8, imgs.get(0).span().end());
            assertEquals(9, imgs.get(1).span().start());
            assertArrayEquals(Arrays.copyOfRange(script, 0, 8), imgs.get(0).idPiece());
            assertArrayEquals(Arrays.copyOfRange(script, 2, 16), imgs.get(1).idPiece());
            List<Request> auds = out.requests().get(Modality.AUDIO);
            assertEquals(1, auds.size());
            assertEquals(17, auds.get(0).span().start());
            assertEquals(32, auds.get(0).span().end());
            assertArrayEquals(Arrays.copyOfRange(script, 0, 32), auds.get(0).idPiece());
            assertEquals(List.of(Modality.IMAGE, Modality.IMAGE, Modality.AUDIO),
                    out.requestsInOrder().stream().map(r -> r.span().modality()).toList());
            for (Request r : out.requestsInOrder()) {
                ModalityDecoder.Output media = pipeline.decode(r, null, ModalityDecoder.Progress.NONE, null);
                assertArrayEquals(r.conditioning().toFloatArray(),
                        ((dev.nextgpt.MediaRequestPart) media.part()).conditioning());
            }
            assertEquals(List.of("IMAGE(1, 77, 32) frames=null seconds=null", "IMAGE(1, 77, 32) frames=null "
                    + "seconds=null", "AUDIO(1, 16) frames=null seconds=5.0"), decoded);
            // conditioning = projector(hidden while feeding the span + input embeddings of the span ids), checked
            // against a cache-free full forward over prompt + generated tokens
            NDArray genEmb = llm.embed(m, new long[][] {script});
            NDArray all = out.splice().inputsEmbeds().concat(genEmb, 1);
            LlamaModel.Output full = llm.forwardEmbeds(all, null, true);
            NDArray last = full.hiddenStates().get(full.hiddenStates().size() - 1);
            for (Request r : out.requestsInOrder()) {
                int a = promptLen + r.span().start();
                int b = promptLen + r.span().end();
                NDArray h = last.get(":, " + a + ":" + b + ", :");
                NDArray e = llm.embed(m, new long[][] {Arrays.copyOfRange(script, r.span().start(), r.span().end())});
                NDArray ref = outProj.get(r.span().modality()).forward(h, e);
                if (r.span().modality() == Modality.AUDIO) {
                    ref = ref.reshape(1, 16);
                }
                assertClose(ref, r.conditioning(), 1e-4);
            }
        }
    }

    @Test
    void videoInputIsSplicedAtItsPlaceholder() {
        VideoPreprocessor.Result v = new VideoPreprocessor(new VideoPreprocessor.Options(2, 5, 2,
                imagebind.config().imageSize())).process(CurrentFixtures.resource("imagebind/media/test.mp4"));
        assertArrayEquals(new long[] {15, 3, 2, 224, 224}, v.shape());
        List<Long> s = new ArrayList<>(List.of(100L));
        span(s, Modality.IMAGE);
        s.add(2L);
        long[] script = s.stream().mapToLong(Long::longValue).toArray();
        decoded.clear();
        try (NDManager m = manager.newSubManager()) {
            NDArray video = m.create(v.values(), new Shape(1, 15, 3, 2, 224, 224));
            Output out = pipeline.generate("what happens?", List.of(new MediaInput(Modality.VIDEO, video)),
                    forced(script), m);
            assertTrue(out.prompt().contains("USER: <video>\nwhat happens? ASSISTANT:"), out.prompt());
            // −300 followed by the extra BOS of tokenizer_multiple_token
            int vid = indexOf(out.promptIds(), -300);
            assertTrue(vid > 0);
            assertEquals(1, out.promptIds()[vid + 1]);
            assertEquals(-1, indexOf(out.promptIds(), -200));
            assertEquals(List.of(new CurrentSplice.Placement(0, Modality.VIDEO, 0, vid, 8)),
                    out.splice().placements());
            assertEquals(new Shape(1, out.promptIds().length + 7, 64), out.splice().inputsEmbeds().getShape());
            // feature = projector(ImageBind vision patch tokens, normalised per token, averaged over the 15 clips)
            ImageBindModel.Encoding e = imagebind.encode(dev.nextgpt.runtime.imagebind.Modality.VISION, video);
            assertEquals(new Shape(1, 256, 32), e.nextgpt().getShape());   // 16 × 16 patches, no CLS
            NDArray expected = inProj.forward(e.nextgpt());
            assertEquals(new Shape(1, 8, 64), expected.getShape());
            assertClose(expected.get(0), out.splice().inputsEmbeds().get("0, " + vid + ":" + (vid + 8)), 0);
            // the text around the placeholder is untouched: the extra BOS row follows the 8 video rows
            assertClose(llm.embed(m, new long[][] {{1}}).get(0),
                    out.splice().inputsEmbeds().get("0, " + (vid + 8) + ":" + (vid + 9)), 0);
            assertArrayEquals(script, out.generatedIds());
            assertEquals(1, out.requests().get(Modality.IMAGE).size());
        }
    }

    @Test
    void capAndMalformedSpans() {
        List<Long> s = new ArrayList<>(List.of(100L));
        span(s, Modality.VIDEO);
        s.add(2L);
        long[] ok = s.stream().mapToLong(Long::longValue).toArray();
        try (NDManager m = manager.newSubManager()) {
            Output out = pipeline.generate("a video please", List.of(), forced(ok), m);
            assertEquals(1, out.requests().get(Modality.VIDEO).size());
            assertEquals(47, out.requests().get(Modality.VIDEO).get(0).span().length());
            assertEquals(-1, indexOf(out.promptIds(), -200));
            long[] bad = {100, pipeline.signalTokens().firstId(Modality.IMAGE), sep, 100, sep, 100, sep, 100, 2};
            InvalidInputException e = assertThrows(InvalidInputException.class,
                    () -> pipeline.generate("x", List.of(), forced(bad), m));
            assertTrue(e.getMessage().contains("malformed IMAGE signal span"), e.getMessage());
            // text only: no request, decoded text without specials
            Output text = pipeline.generate("hi", List.of(), forced(new long[] {100, 101, 2}), m);
            assertTrue(text.requests().isEmpty());
            assertEquals(tokenizer.decode(new long[] {100, 101, 2}, true), text.text());
        }
    }

    private static void assertClose(NDArray expected, NDArray actual, double tol) {
        assertEquals(expected.getShape(), actual.getShape());
        float[] e = expected.toFloatArray();
        float[] a = actual.toFloatArray();
        double max = 0;
        for (int i = 0; i < e.length; i++) {
            max = Math.max(max, Math.abs(e[i] - a[i]));
        }
        System.out.printf("CurrentNextGptTest max abs err %.3e%n", max);
        assertTrue(max <= tol, "max abs err " + max + " > " + tol);
    }

    private static int indexOf(long[] a, long v) {
        for (int i = 0; i < a.length; i++) {
            if (a[i] == v) {
                return i;
            }
        }
        return -1;
    }
}
