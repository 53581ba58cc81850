/**
 * The {@link dev.nextgpt.NextGpt} implementation of the DJL runtime ({@link dev.nextgpt.runtime.chat.DjlNextGpt},
 * registered as {@link dev.nextgpt.runtime.chat.DjlNextGptProvider}) and the embedded demo model
 * ({@link dev.nextgpt.runtime.chat.DemoModel}).
 */
package dev.nextgpt.runtime.chat;
