package dev.nextgpt.runtime.nextgpt.current;

import dev.nextgpt.runtime.llm.LlamaTokenizer;

import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertNotNull;

/** Test resources shared by the current-version tests. */
final class CurrentFixtures {
    private CurrentFixtures() {
    }

    static Path resource(String relative) {
        URL url = CurrentFixtures.class.getResource("/golden/" + relative);
        assertNotNull(url, "test resource golden/" + relative + " missing");
        try {
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static Path llamaDir() {
        return resource("llama/config.json").getParent();
    }

    /** The llama fixture tokenizer (vocab 512) with the 36 current signal tokens added as special tokens (512..547). */
    static LlamaTokenizer currentTokenizer() {
        try (LlamaTokenizer base = LlamaTokenizer.load(llamaDir())) {
            return base.withCurrentSignalTokens();
        }
    }
}
