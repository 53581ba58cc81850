package dev.nextgpt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.times;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.mockito.ArgumentCaptor;

class ConversationTest {
    private NextGpt model;

    private static ChatResponse reply(String text, FinishReason reason) {
        return new ChatResponse(List.of(TextPart.of(text)), text, reason, 10, 3, Duration.ofMillis(5));
    }

    @BeforeEach
    void setUp() {
        model = mock(NextGpt.class);
        when(model.newConversation(any())).thenCallRealMethod();
        when(model.newConversation()).thenCallRealMethod();
    }

    @Test
    void eachSendCarriesThePreviousTurnsAndTheSystemPrompt() {
        when(model.chat(any(ChatRequest.class), any(ChatListener.class)))
                .thenReturn(reply("Hi!", FinishReason.EOS), reply("A cat.", FinishReason.EOS));
        Conversation conv = model.newConversation("Be brief.");
        ChatResponse first = conv.send(Part.text("Hello"));
        ChatResponse second = conv.send(ChatRequest.builder().text("What is this?")
                .image(new java.awt.image.BufferedImage(2, 2, java.awt.image.BufferedImage.TYPE_INT_RGB)).build());

        ArgumentCaptor<ChatRequest> sent = ArgumentCaptor.forClass(ChatRequest.class);
        verify(model, times(2)).chat(sent.capture(), any(ChatListener.class));
        ChatRequest r1 = sent.getAllValues().get(0);
        ChatRequest r2 = sent.getAllValues().get(1);
        assertEquals(List.of(), r1.history());
        assertEquals("Be brief.", r1.systemPrompt());
        assertEquals(1, r2.history().size());
        assertEquals("Hello", r2.history().get(0).userText());
        assertSame(first, r2.history().get(0).response());
        assertEquals(2, r2.parts().size());

        List<Turn> history = conv.history();
        assertEquals(2, history.size());
        assertEquals("Hi!", history.get(0).assistantText());
        assertSame(second, history.get(1).response());
        assertEquals(Modality.IMAGE, history.get(1).user().get(1).modality());
        assertThrows(UnsupportedOperationException.class, () -> history.add(history.get(0)));
        assertThrows(UnsupportedOperationException.class, () -> history.get(1).user().clear());
    }

    @Test
    void requestSystemPromptWinsAndDefaultIsNull() {
        when(model.chat(any(ChatRequest.class), any(ChatListener.class))).thenReturn(reply("ok", FinishReason.EOS));
        Conversation conv = model.newConversation("default");
        conv.send(ChatRequest.ofText("x").withSystemPrompt("override"));
        Conversation plain = model.newConversation();
        plain.send(Part.text("y"));
        ArgumentCaptor<ChatRequest> sent = ArgumentCaptor.forClass(ChatRequest.class);
        verify(model, times(2)).chat(sent.capture(), any(ChatListener.class));
        assertEquals("override", sent.getAllValues().get(0).systemPrompt());
        assertNull(sent.getAllValues().get(1).systemPrompt());
    }

    @Test
    void clearForgetsTurnsAndFailuresOrCancellationsAreNotRecorded() {
        when(model.chat(any(ChatRequest.class), any(ChatListener.class)))
                .thenReturn(reply("one", FinishReason.MAX_TOKENS))
                .thenThrow(new RuntimeFailureException("boom"))
                .thenReturn(reply("partial", FinishReason.CANCELLED))
                .thenReturn(reply("fresh", FinishReason.EOS));
        Conversation conv = new Conversation(model, null);
        conv.send(Part.text("a"));
        assertThrows(RuntimeFailureException.class, () -> conv.send(Part.text("b")));
        assertEquals(1, conv.size());
        assertEquals(FinishReason.CANCELLED, conv.send(Part.text("c")).finishReason());
        assertEquals(1, conv.size());
        conv.clear();
        assertEquals(0, conv.size());
        conv.send(Part.text("d"));
        ArgumentCaptor<ChatRequest> sent = ArgumentCaptor.forClass(ChatRequest.class);
        verify(model, times(4)).chat(sent.capture(), any(ChatListener.class));
        assertEquals(List.of(), sent.getAllValues().get(3).history(), "history after clear() is empty");
        assertEquals("d", conv.history().get(0).userText());
    }

    @Test
    void listenerIsPassedThroughAndForeignHistoryIsRejected() {
        ChatListener listener = new ChatListener() {
        };
        when(model.chat(any(ChatRequest.class), any(ChatListener.class))).thenReturn(reply("ok", FinishReason.EOS));
        Conversation conv = model.newConversation();
        conv.send(ChatRequest.ofText("hi"), listener);
        verify(model).chat(any(ChatRequest.class), org.mockito.ArgumentMatchers.same(listener));
        Turn t = conv.history().get(0);
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> conv.send(ChatRequest.ofText("x").withHistory(List.of(t))));
        assertTrue(e.getMessage().contains("history"), e.getMessage());
    }
}
