/**
 * Public API of the NExT-GPT SDK: build a model with {@link dev.nextgpt.NextGpt#builder()}, send
 * {@link dev.nextgpt.ChatRequest}s made of {@link dev.nextgpt.Part}s (text, image, audio, video) and read
 * {@link dev.nextgpt.ChatResponse}s, optionally streaming with a {@link dev.nextgpt.ChatListener} or chatting over
 * several turns with a {@link dev.nextgpt.Conversation}. This module depends only on the JDK; the implementation is
 * found at run time through {@link dev.nextgpt.spi.NextGptProvider}. Errors are typed subclasses of
 * {@link dev.nextgpt.NextGptException} whose messages name the offending file, field or value.
 */
package dev.nextgpt;
