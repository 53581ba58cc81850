package dev.nextgpt;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class ChatTypesTest {

    @Test
    void builderCollectsPartsInOrderAndOptions() {
        CancellationToken token = new CancellationToken();
        ChatRequest r = ChatRequest.builder()
                .text("look")
                .part(ImagePart.ofArgb(1, 1, new int[] {0xFF000000}))
                .text("and listen")
                .audioOptions(AudioGenerationOptions.defaults().withSeconds(4))
                .systemPrompt("sys")
                .cancellation(token)
                .build();
        assertEquals(List.of(Modality.TEXT, Modality.IMAGE, Modality.TEXT),
                r.parts().stream().map(Part::modality).toList());
        assertEquals("look\nand listen", r.text());
        assertEquals(4.0, r.options().audio().seconds());
        assertEquals(TextGenerationOptions.defaults(), r.options().text());
        assertEquals("sys", r.systemPrompt());
        assertFalse(r.cancellation().isCancelled());
        token.cancel();
        assertTrue(r.cancellation().isCancelled());
    }

    @Test
    void requestWithoutOptionsUsesTheInstanceDefaults() {
        ChatRequest r = ChatRequest.ofText("hi");
        assertNull(r.options());
        GenerationOptions defaults = GenerationOptions.defaults()
                .withText(TextGenerationOptions.defaults().withGreedy(true));
        assertTrue(r.optionsOr(defaults).text().greedy());
        assertEquals(List.of(), r.history());
    }

    @Test
    void requestRejectsEmptyAndOutputOnlyParts() {
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> ChatRequest.builder().build());
        assertTrue(e.getMessage().contains("at least one part"), e.getMessage());
        MediaRequestPart req = new MediaRequestPart(Modality.AUDIO, new float[512], new int[] {1, 1, 512}, "m");
        e = assertThrows(InvalidInputException.class, () -> ChatRequest.of(Part.text("x"), req));
        assertTrue(e.getMessage().contains("parts[1]"), e.getMessage());
    }

    @Test
    void mediaRequestPartChecksShapeAndCopies() {
        float[] c = {1, 2, 3, 4, 5, 6};
        MediaRequestPart p = new MediaRequestPart(Modality.IMAGE, c, new int[] {1, 2, 3},
                "image requested but no image decoder is configured");
        c[0] = 9;
        assertEquals(1f, p.conditioning()[0]);
        assertArrayEquals(new int[] {1, 2, 3}, p.shape());
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> new MediaRequestPart(Modality.VIDEO, new float[5], new int[] {1, 2, 3}, "m"));
        assertTrue(e.getMessage().contains("[1, 2, 3]") && e.getMessage().contains("5"), e.getMessage());
        assertThrows(InvalidInputException.class,
                () -> new MediaRequestPart(Modality.TEXT, new float[1], new int[] {1}, "m"));
    }

    @Test
    void responseFiltersPartsByType() {
        ImagePart img = ImagePart.ofArgb(1, 1, new int[] {-1});
        MediaRequestPart vid = new MediaRequestPart(Modality.VIDEO, new float[2], new int[] {1, 2}, "no decoder");
        ChatResponse r = new ChatResponse(List.of(Part.text("Here: "), img, vid), "Here: ", FinishReason.EOS, 5, 2,
                Duration.ofSeconds(1));
        assertEquals(List.of(img), r.images());
        assertEquals(List.of(vid), r.mediaRequests());
        assertEquals(List.of(), r.audios());
        assertEquals(img, r.firstImage().orElseThrow());
        assertThrows(InvalidInputException.class,
                () -> new ChatResponse(List.of(), "", FinishReason.EOS, -1, 0, Duration.ZERO));
    }

    @Test
    void listenerDefaultsAreNoOps() {
        ChatListener l = new ChatListener() {
        };
        org.junit.jupiter.api.Assertions.assertDoesNotThrow(() -> {
            l.onTextDelta("x");
            l.onMediaProgress(Modality.IMAGE, 1, 50);
            l.onPart(Part.text("x"));
            l.onError(new RuntimeException());
            l.onComplete(new ChatResponse(List.of(), "", FinishReason.EOS, 0, 0, Duration.ZERO));
        });
    }
}
