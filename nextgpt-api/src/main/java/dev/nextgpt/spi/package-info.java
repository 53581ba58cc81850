/** Service-provider interface implemented by NExT-GPT runtimes (e.g. {@code dev.nextgpt:nextgpt-runtime}). */
package dev.nextgpt.spi;
