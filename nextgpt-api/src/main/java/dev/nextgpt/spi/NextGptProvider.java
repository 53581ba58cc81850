package dev.nextgpt.spi;

import dev.nextgpt.NextGpt;
import dev.nextgpt.NextGptConfig;

/**
 * Service-provider interface of NExT-GPT runtimes. {@link dev.nextgpt.NextGptBuilder#build()} loads every provider
 * registered in {@code META-INF/services/dev.nextgpt.spi.NextGptProvider} with {@link java.util.ServiceLoader},
 * then uses the one named with {@link dev.nextgpt.NextGptBuilder#withRuntime(String)}, or else the one with the
 * highest {@link #priority()}. Implementations need a public no-argument constructor.
 */
public interface NextGptProvider {

    /** A short unique name, e.g. {@code "djl-pytorch"}. */
    String name();

    /** Preference among several providers; higher wins. */
    int priority();

    /**
     * Loads the model described by {@code config}.
     *
     * @throws dev.nextgpt.NextGptException (typed subclasses) naming what was wrong
     */
    NextGpt create(NextGptConfig config);
}
