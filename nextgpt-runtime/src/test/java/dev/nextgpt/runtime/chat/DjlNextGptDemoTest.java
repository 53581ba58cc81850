package dev.nextgpt.runtime.chat;

import ai.djl.ndarray.NDArray;
import dev.nextgpt.AudioPart;
import dev.nextgpt.ChatListener;
import dev.nextgpt.ChatRequest;
import dev.nextgpt.ChatResponse;
import dev.nextgpt.Conversation;
import dev.nextgpt.ImagePart;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.NextGpt;
import dev.nextgpt.Part;
import dev.nextgpt.TextGenerationOptions;
import dev.nextgpt.TextPart;
import dev.nextgpt.VideoPart;
import dev.nextgpt.runtime.nextgpt.LegacyPromptBuilder;
import dev.nextgpt.runtime.nextgpt.LegacyNextGpt;
import dev.nextgpt.runtime.nextgpt.Modality;
import dev.nextgpt.runtime.nextgpt.ModalityDecoder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The runtime provider on the embedded demo model: ServiceLoader discovery, multimodal chat, history, memory. */
class DjlNextGptDemoTest {
    private static NextGpt forced;
    private static NextGpt plain;

    /** Records the conditioning shapes it receives and delegates to the demo's real decoder. */
    static final class RecordingDecoder implements ModalityDecoder {
        final ModalityDecoder inner;
        final List<long[]> shapes = new ArrayList<>();

        RecordingDecoder(ModalityDecoder inner) {
            this.inner = inner;
        }

        @Override
        public Modality modality() {
            return inner.modality();
        }

        @Override
        public long[] conditioningShape() {
            return inner.conditioningShape();
        }

        @Override
        public Output decode(NDArray conditioning, Options options, Progress progress, BooleanSupplier cancelled) {
            shapes.add(conditioning.getShape().getShape());
            return inner.decode(conditioning, options, progress, cancelled);
        }

        @Override
        public void close() {
            inner.close();
        }
    }

    @BeforeAll
    static void build() {
        forced = NextGpt.builder().withDemoModel().withProperty(DjlNextGpt.FORCE_SIGNALS, "image,video,audio")
                .build();
        plain = NextGpt.builder().withDemoModel().build();
    }

    @AfterAll
    static void close() {
        forced.close();
        plain.close();
    }

    private static ImagePart image() {
        Random r = new Random(1);
        int[] px = new int[48 * 40];
        for (int i = 0; i < px.length; i++) {
            px[i] = 0xFF000000 | r.nextInt(0xFFFFFF);
        }
        return ImagePart.ofArgb(48, 40, px);
    }

    private static AudioPart audio() {
        Random r = new Random(2);
        float[] x = new float[16000 * 3];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (0.1 * r.nextGaussian());
        }
        return AudioPart.ofMono(x, 16000);
    }

    @Test
    void videoInputGoesThroughImageBindVisionClipsLikeTheLegacyDemo() throws Exception {
        Path mp4 = Path.of(DjlNextGptDemoTest.class.getClassLoader()
                .getResource("golden/imagebind/media/test.mp4").toURI());
        dev.nextgpt.GenerationOptions o = dev.nextgpt.GenerationOptions.defaults()
                .withText(TextGenerationOptions.defaults().withMaxNewTokens(2));
        ChatResponse withVideo = plain.chat(ChatRequest.of(VideoPart.fromFile(mp4), TextPart.of("what happens?"))
                .withOptions(o));
        ChatResponse textOnly = plain.chat(ChatRequest.of(TextPart.of("what happens?")).withOptions(o));
        // <Img> feature </Img> before the text, as for images and audio, and a BOS before the following text piece
        assertEquals(textOnly.promptTokens() + 4, withVideo.promptTokens());

        LegacyNextGpt p = ((DjlNextGpt) plain).pipeline();
        try (ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager()) {
            String prompt = LegacyPromptBuilder.demoPrompt(List.of(), new LegacyPromptBuilder.MediaPaths(List.of(),
                    List.of(), List.of(mp4.toString())), "what happens?");
            assertTrue(prompt.contains("<Video>" + mp4 + "</Video>"), prompt);
            LegacyNextGpt.Result r = p.generate(LegacyNextGpt.Request.of(prompt, null).withMaxNewTokens(1), m);
            assertEquals(1, r.features().size());
            LegacyNextGpt.Feature f = r.features().get(0);
            assertEquals(Modality.VIDEO, f.modality());
            assertArrayEquals(new long[] {1, 16}, f.imagebindEmbedding().getShape().getShape());
            // the generate path encodes the file exactly as imagebindEmbedding(VIDEO) does (5 clips x 3 crops)
            NDArray direct = p.imagebindEmbedding(Modality.VIDEO, mp4, m);
            assertEquals(0f, direct.sub(f.imagebindEmbedding()).abs().max().getFloat(), 1e-6f);
            // spliced after <Img>: row 1 + (### Human: ids) ... find it by value
            NDArray rows = r.inputsEmbeds();
            boolean found = false;
            for (int i = 0; i < rows.getShape().get(0); i++) {
                if (rows.get(i).sub(f.projected().squeeze(0)).abs().max().getFloat() < 1e-6f) {
                    found = true;
                }
            }
            assertTrue(found, "llama_proj(video embedding) is one of the input rows");
        }
    }

    @Test
    void seededSamplingIsReproducibleAndDiffersFromGreedy() {
        TextGenerationOptions sampled = TextGenerationOptions.defaults().withMaxNewTokens(12).withTemperature(1.5)
                .withTopP(1.0).withTopK(0).withSeed(7L);
        ChatRequest q = ChatRequest.ofText("tell me a story");
        ChatResponse a = plain.chat(q.withOptions(dev.nextgpt.GenerationOptions.defaults().withText(sampled)));
        ChatResponse b = plain.chat(q.withOptions(dev.nextgpt.GenerationOptions.defaults().withText(sampled)));
        ChatResponse other = plain.chat(q.withOptions(dev.nextgpt.GenerationOptions.defaults()
                .withText(sampled.withSeed(8L))));
        ChatResponse greedy = plain.chat(q.withOptions(dev.nextgpt.GenerationOptions.defaults()
                .withText(sampled.withGreedy(true))));
        ChatResponse greedy2 = plain.chat(q.withOptions(dev.nextgpt.GenerationOptions.defaults()
                .withText(TextGenerationOptions.defaults().withMaxNewTokens(12).withGreedy(true).withTopK(5))));
        assertEquals(a.text(), b.text(), "same seed, same answer");
        assertEquals(greedy.text(), greedy2.text(), "greedy ignores the sampling settings");
        assertFalse(a.text().equals(greedy.text()) && other.text().equals(greedy.text()),
                "sampling at temperature 1.5 over the random demo vocabulary should leave the arg-max path: "
                        + a.text() + " | " + other.text() + " | " + greedy.text());
        // a stop string ends the answer early
        String first = greedy.text().strip();
        if (first.length() > 2) {
            String stop = first.substring(1, 2);
            ChatResponse stopped = plain.chat(q.withOptions(dev.nextgpt.GenerationOptions.defaults()
                    .withText(sampled.withGreedy(true).withStopStrings(stop))));
            assertEquals(dev.nextgpt.FinishReason.STOP_STRING, stopped.finishReason(), stopped.text());
            assertTrue(stopped.generatedTokens() < greedy.generatedTokens() || greedy.finishReason()
                    != dev.nextgpt.FinishReason.MAX_TOKENS);
        }
    }

    @Test
    void providerIsFoundAndDescribesTheDemo() {
        assertInstanceOf(DjlNextGpt.class, plain);
        assertEquals("djl", plain.info().runtime());
        assertTrue(plain.info().canGenerate(dev.nextgpt.Modality.IMAGE));
        assertTrue(plain.info().canGenerate(dev.nextgpt.Modality.VIDEO));
        assertTrue(plain.info().canGenerate(dev.nextgpt.Modality.AUDIO));
        assertTrue(plain.info().randomlyInitialised().contains("*"));
    }

    @Test
    void imageAudioTextInForcedSignalsOutInOrder() {
        DjlNextGpt impl = (DjlNextGpt) forced;
        java.util.Map<Modality, RecordingDecoder> rec = new java.util.EnumMap<>(Modality.class);
        for (Modality m : Modality.values()) {
            RecordingDecoder d = new RecordingDecoder(impl.pipeline().decoder(m).orElseThrow());
            rec.put(m, d);
            impl.pipeline().setDecoder(m, d);
        }
        try {
            List<String> events = new ArrayList<>();
            StringBuilder streamed = new StringBuilder();
            ChatListener listener = new ChatListener() {
                @Override
                public void onTextDelta(String delta) {
                    streamed.append(delta);
                    if (events.isEmpty() || !events.get(events.size() - 1).equals("text")) {
                        events.add("text");
                    }
                }

                @Override
                public void onMediaProgress(dev.nextgpt.Modality modality, int step, int totalSteps) {
                    events.add("progress " + modality + " " + step + "/" + totalSteps);
                }

                @Override
                public void onPart(Part part) {
                    events.add("part " + part.getClass().getSimpleName());
                }

                @Override
                public void onComplete(ChatResponse response) {
                    events.add("complete");
                }
            };
            // parts in any order: text first, then audio, then image
            ChatResponse r = forced.chat(ChatRequest.of(TextPart.of("what do you see and hear?"), audio(), image())
                    .withOptions(dev.nextgpt.GenerationOptions.defaults()
                            .withImage(dev.nextgpt.ImageGenerationOptions.defaults().withSteps(4))
                            .withVideo(dev.nextgpt.VideoGenerationOptions.defaults().withSteps(2).withFrames(2)
                                    .withSize(24, 16).withSeed(5L))
                            .withAudio(dev.nextgpt.AudioGenerationOptions.defaults().withSteps(2).withSeconds(0.1))),
                    listener);
            List<Part> parts = r.parts();
            assertEquals(4, parts.size(), parts.toString());
            assertInstanceOf(TextPart.class, parts.get(0));
            ImagePart img = assertInstanceOf(ImagePart.class, parts.get(1));
            assertEquals(32, img.width());
            VideoPart video = assertInstanceOf(VideoPart.class, parts.get(2));
            assertEquals(2, video.frames().size());
            assertEquals(24, video.frames().get(0).width());
            assertEquals(16, video.frames().get(0).height());
            assertEquals(8.0, video.fps());
            AudioPart sound = assertInstanceOf(AudioPart.class, parts.get(3));
            assertEquals(16000, sound.sampleRate());
            assertTrue(sound.frameCount() > 0);
            assertArrayEquals(new long[] {1, 77, 32}, rec.get(Modality.IMAGE).shapes.get(0));
            assertArrayEquals(new long[] {1, 77, 32}, rec.get(Modality.VIDEO).shapes.get(0));
            assertArrayEquals(new long[] {1, 512}, rec.get(Modality.AUDIO).shapes.get(0));
            for (RecordingDecoder d : rec.values()) {
                assertEquals(1, d.shapes.size());
            }
            // 3 free tokens + 4 + 24 + 8 signal tokens + ###
            assertEquals(DjlNextGpt.FORCED_FREE_TOKENS + 4 + 24 + 8 + 1, r.generatedTokens());
            // prompt: [BOS ### Human:] <Img> f </Img> <Img> f </Img> [BOS text + suffix]
            assertTrue(r.promptTokens() > 6);
            assertEquals(List.of("text", "progress IMAGE 1/5", "progress IMAGE 2/5", "progress IMAGE 3/5",
                    "progress IMAGE 4/5", "progress IMAGE 5/5", "part ImagePart", "progress VIDEO 1/2",
                    "progress VIDEO 2/2", "part VideoPart", "progress AUDIO 1/2", "progress AUDIO 2/2",
                    "part AudioPart", "complete"), events);
            assertFalse(r.text().contains("[IMG0]"));
            assertTrue(streamed.toString().startsWith(r.text()), streamed + " vs " + r.text());
        } finally {
            for (Modality m : Modality.values()) {
                impl.pipeline().setDecoder(m, rec.get(m).inner);
            }
        }
    }

    @Test
    void conversationReplaysHistoryWithTheLegacyTemplate() {
        Conversation c = plain.newConversation();
        ChatRequest first = ChatRequest.of(image(), TextPart.of("describe it"));
        ChatResponse r1 = c.send(first.withOptions(dev.nextgpt.GenerationOptions.defaults()
                .withText(TextGenerationOptions.defaults().withMaxNewTokens(5))));
        ChatResponse r2 = c.send(ChatRequest.of(TextPart.of("and now?")).withOptions(
                dev.nextgpt.GenerationOptions.defaults().withText(TextGenerationOptions.defaults()
                        .withMaxNewTokens(5))));
        assertEquals(2, c.size());
        DjlNextGpt impl = (DjlNextGpt) plain;
        String expected = LegacyPromptBuilder.demoPrompt(List.of(new LegacyPromptBuilder.Turn(
                LegacyPromptBuilder.humanMessage(LegacyPromptBuilder.MediaPaths.image("/tmp/x.png"), "describe it"),
                r1.text())), LegacyPromptBuilder.MediaPaths.none(), "and now?");
        assertEquals(impl.pipeline().promptRows(expected), r2.promptTokens());
        assertTrue(r2.promptTokens() > r1.promptTokens());
    }

    @Test
    void promptLongerThanTheContextFailsBeforeCompute() {
        String longText = "bird ".repeat(2000);
        List<Throwable> errors = new ArrayList<>();
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> plain.chat(
                ChatRequest.ofText(longText), new ChatListener() {
                    @Override
                    public void onError(Throwable error) {
                        errors.add(error);
                    }
                }));
        assertTrue(e.getMessage().contains("max_position_embeddings"), e.getMessage());
        assertEquals(1, errors.size());
    }

    @Test
    void twoHundredCallsDoNotGrowNativeMemory() throws Exception {
        DjlNextGpt impl = (DjlNextGpt) plain;
        ChatRequest req = ChatRequest.ofText("hello").withOptions(dev.nextgpt.GenerationOptions.defaults()
                .withText(TextGenerationOptions.defaults().withMaxNewTokens(2)));
        for (int i = 0; i < 20; i++) {
            plain.chat(req);
        }
        int arrays = impl.openArrays();
        int pipelineArrays = impl.pipeline().managedArrays();
        long rss0 = rssKb();
        for (int i = 0; i < 200; i++) {
            plain.chat(req);
        }
        long grown = rssKb() - rss0;
        System.out.println("200 demo calls: RSS growth " + grown + " kB, open arrays " + arrays + " -> "
                + impl.openArrays());
        assertEquals(arrays, impl.openArrays());
        assertEquals(pipelineArrays, impl.pipeline().managedArrays());
        assertTrue(grown < 64 * 1024, "RSS grew by " + grown + " kB over 200 calls");
    }

    private static long rssKb() throws Exception {
        Path status = Path.of("/proc/self/status");
        if (!Files.isReadable(status)) {
            return 0;
        }
        System.gc();
        for (String line : Files.readAllLines(status)) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return 0;
    }

    @SuppressWarnings("unused")
    private static String str(long[] a) {
        return Arrays.toString(a);
    }
}
