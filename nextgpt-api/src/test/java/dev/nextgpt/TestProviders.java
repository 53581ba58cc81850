package dev.nextgpt;

import dev.nextgpt.spi.NextGptProvider;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Test runtimes registered in src/test/resources/META-INF/services/dev.nextgpt.spi.NextGptProvider. */
final class TestProviders {
    private TestProviders() {
    }

    /** The config the last provider received. */
    static volatile NextGptConfig lastConfig;
    static volatile String lastProvider;

    /** A fake model recording which provider made it. */
    record FakeModel(String provider, NextGptConfig config) implements NextGpt {
        @Override
        public ChatResponse chat(ChatRequest request, ChatListener listener) {
            throw new UnsupportedOperationException("fake");
        }

        @Override
        public ModelInfo info() {
            return new ModelInfo(provider, config.version(), config.device(), config.dtype(), Set.of(Modality.TEXT),
                    Set.of(Modality.TEXT), Map.of(), List.of());
        }

        @Override
        public void close() {
        }
    }

    /** The preferred test runtime. */
    public static final class Preferred implements NextGptProvider {
        @Override
        public String name() {
            return "test-preferred";
        }

        @Override
        public int priority() {
            return 10;
        }

        @Override
        public NextGpt create(NextGptConfig config) {
            lastConfig = config;
            lastProvider = name();
            return new FakeModel(name(), config);
        }
    }

    /** A lower-priority test runtime that fails to load. */
    public static final class Fallback implements NextGptProvider {
        @Override
        public String name() {
            return "test-fallback";
        }

        @Override
        public int priority() {
            return 1;
        }

        @Override
        public NextGpt create(NextGptConfig config) {
            lastConfig = config;
            lastProvider = name();
            throw new IllegalStateException("fallback cannot load " + config.languageModel());
        }
    }
}
