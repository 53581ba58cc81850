package dev.nextgpt.runtime.chat;

import dev.nextgpt.NextGpt;
import dev.nextgpt.NextGptConfig;
import dev.nextgpt.spi.NextGptProvider;

/** The DJL (PyTorch engine) NExT-GPT runtime, found by {@code NextGpt.builder().build()} through ServiceLoader. */
public final class DjlNextGptProvider implements NextGptProvider {
    /** Runtime name ({@code withRuntime("djl")}). */
    public static final String NAME = "djl";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public int priority() {
        return 100;
    }

    @Override
    public NextGpt create(NextGptConfig config) {
        // a nextgpt_llama system folder (or version CURRENT) runs the current pipeline, everything else the legacy one
        if (DjlCurrentNextGpt.handles(config)) {
            return DjlCurrentNextGpt.create(config);
        }
        return DjlNextGpt.create(config);
    }
}
