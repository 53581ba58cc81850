package dev.nextgpt.runtime.nextgpt.current;

import dev.nextgpt.AudioPart;
import dev.nextgpt.ChatRequest;
import dev.nextgpt.ChatResponse;
import dev.nextgpt.ImagePart;
import dev.nextgpt.MediaRequestPart;
import dev.nextgpt.ModelVersion;
import dev.nextgpt.NextGpt;
import dev.nextgpt.Part;
import dev.nextgpt.TextPart;
import dev.nextgpt.VideoPart;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A tiny current system on disk through the public API: {@code NextGpt.builder().withSystemLayout(dir)}. */
class CurrentChatTest {
    static Path dir;

    @BeforeAll
    static void setUp() throws IOException {
        dir = Files.createTempDirectory("current-chat");
        try (CurrentTinyDisk tiny = new CurrentTinyDisk()) {
            tiny.writeFull(dir.resolve("system"), false, false, Set.of());
        }
    }

    @AfterAll
    static void tearDown() throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    @Test
    void nextgptLlamaFolderChatsWithTypedParts() {
        Path media = CurrentFixtures.resource("nextgpt-e2e/system/media/bird_image.jpg").getParent();
        try (NextGpt g = NextGpt.builder().withSystemLayout(dir.resolve("system"))
                .withImageOptions(dev.nextgpt.ImageGenerationOptions.defaults().withSteps(2))
                .withProperty("nextgpt.force_signals", "image,audio").build()) {
            assertEquals(ModelVersion.CURRENT, g.info().version());
            ChatResponse r = g.chat(ChatRequest.of(ImagePart.fromFile(media.resolve("bird_image.jpg")),
                    AudioPart.fromFile(media.resolve("bird_audio.wav")), TextPart.of("what is this?")));
            List<Part> parts = r.parts();
            // image from the SD folder named in image_decoder; audio (HF id, no local folder) as a media request
            int img = -1;
            int aud = -1;
            for (int i = 0; i < parts.size(); i++) {
                if (parts.get(i) instanceof ImagePart) {
                    img = i;
                }
                if (parts.get(i) instanceof MediaRequestPart m) {
                    aud = i;
                    assertEquals(dev.nextgpt.Modality.AUDIO, m.modality());
                    assertEquals(16, m.conditioning().length);
                }
            }
            assertTrue(img >= 0 && aud > img, parts.toString());
            assertInstanceOf(TextPart.class, parts.get(0), "free tokens come first");
            assertTrue(r.promptTokens() > 16, "prompt with 2 × 8 media tokens");
        }
    }

    @Test
    void videoInputFromAnMp4File() {
        Path mp4 = CurrentFixtures.resource("imagebind/media/test.mp4");
        try (NextGpt g = NextGpt.builder().withSystemLayout(dir.resolve("system"))
                .withProperty("nextgpt.force_signals", "audio").build()) {
            assertTrue(g.info().inputModalities().contains(dev.nextgpt.Modality.VIDEO));
            ChatResponse r = g.chat(ChatRequest.of(VideoPart.fromFile(mp4), TextPart.of("what happens?")));
            // the v1 prompt with <video>\n; its −300 becomes the 8 group-projector rows
            String prompt = CurrentPromptBuilder.Template.conversation(CurrentPromptBuilder.Template.VICUNA_V1.system(),
                    List.of(CurrentPromptBuilder.Turn.open(CurrentPromptBuilder.userMessage(
                            List.of(dev.nextgpt.runtime.nextgpt.Modality.VIDEO), "what happens?"))));
            try (var tok = CurrentFixtures.currentTokenizer()) {
                long[] ids = CurrentPromptBuilder.tokenizerMultipleToken(prompt,
                        new dev.nextgpt.runtime.nextgpt.LlamaTextTokenizer(tok));
                assertEquals(ids.length - 1 + 8, r.promptTokens());
            }
            assertInstanceOf(TextPart.class, r.parts().get(0), "free tokens come first");
            assertTrue(r.parts().stream().anyMatch(p -> p instanceof MediaRequestPart m
                    && m.modality() == dev.nextgpt.Modality.AUDIO), r.parts().toString());
        }
    }
}
