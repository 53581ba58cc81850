package dev.nextgpt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NextGptBuilderTest {
    @TempDir
    Path dir;

    private Path folder(String name) throws IOException {
        return Files.createDirectories(dir.resolve(name));
    }

    private Path file(String name) throws IOException {
        return Files.write(dir.resolve(name), new byte[] {1});
    }

    @Test
    void serviceLoaderFindsTheHighestPriorityProviderAndPassesTheConfig() throws IOException {
        Path llm = folder("vicuna");
        Path ckpt = file("pytorch_model.pt");
        Path sd = folder("sd");
        Path ib = file("imagebind_huge.pth");
        TextGenerationOptions text = TextGenerationOptions.defaults().withMaxNewTokens(32);
        NextGpt gpt = NextGpt.builder()
                .withVicuna7b(llm)
                .withCheckpoint(ckpt)
                .withImageBind(ib)
                .withDecoders(sd, null, null)
                .withVersion(ModelVersion.CURRENT)
                .withDevice(DeviceSpec.gpu(1))
                .withDtype(ComputeDtype.BFLOAT16)
                .allowRandomInit(NextGptConfig.OUTPUT_PROJECTORS)
                .withTextOptions(text)
                .withProperty("k", "v")
                .build();
        TestProviders.FakeModel fake = assertInstanceOf(TestProviders.FakeModel.class, gpt);
        assertEquals("test-preferred", fake.provider());
        NextGptConfig c = TestProviders.lastConfig;
        assertSame(c, fake.config());
        assertEquals(ModelVersion.CURRENT, c.version());
        assertFalse(c.demoModel());
        assertEquals(llm, c.languageModel());
        assertEquals(ckpt, c.checkpoint());
        assertEquals(ib, c.imageBind());
        assertEquals(Optional.of(sd), c.decoder(Modality.IMAGE));
        assertEquals(Optional.empty(), c.decoder(Modality.VIDEO));
        assertNull(c.audioDecoder());
        assertEquals(DeviceSpec.gpu(1), c.device());
        assertEquals(ComputeDtype.BFLOAT16, c.dtype());
        assertEquals(Set.of("output_projectors"), c.allowRandomInit());
        assertTrue(c.allowsRandomInit(NextGptConfig.OUTPUT_PROJECTORS));
        assertFalse(c.allowsRandomInit(NextGptConfig.IMAGEBIND));
        assertEquals(32, c.defaultOptions().text().maxNewTokens());
        assertEquals(ImageGenerationOptions.defaults(), c.defaultOptions().image());
        assertEquals(Optional.of("v"), c.property("k"));
        assertEquals("test-preferred", gpt.info().runtime());
    }

    @Test
    void namedRuntimeIsUsedAndItsFailureIsTyped() {
        RuntimeFailureException e = assertThrows(RuntimeFailureException.class,
                () -> NextGpt.builder().withDemoModel().withRuntime("test-fallback").build());
        assertEquals("test-fallback", TestProviders.lastProvider);
        assertTrue(e.getMessage().contains("test-fallback"), e.getMessage());
        assertTrue(TestProviders.lastConfig.demoModel());

        UnsupportedConfigurationException u = assertThrows(UnsupportedConfigurationException.class,
                () -> NextGpt.builder().withDemoModel().withRuntime("nope").build());
        assertTrue(u.getMessage().contains("'nope'") && u.getMessage().contains("test-preferred"), u.getMessage());
    }

    @Test
    void noProviderGivesAClearError() throws IOException {
        try (URLClassLoader empty = new URLClassLoader(new URL[0], null)) {
            UnsupportedConfigurationException e = assertThrows(UnsupportedConfigurationException.class,
                    () -> NextGpt.builder().withDemoModel().withClassLoader(empty).build());
            assertEquals("no NExT-GPT runtime on the class path: add dev.nextgpt:nextgpt-runtime", e.getMessage());
        }
    }

    @Test
    void pathsAreValidatedWhenGiven() throws IOException {
        Path missing = dir.resolve("no/such/ckpt.pt");
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> NextGpt.builder().withCheckpoint(missing));
        assertTrue(e.getMessage().contains(missing.toAbsolutePath().toString()), e.getMessage());
        assertTrue(e.getMessage().contains("checkpoint"), e.getMessage());

        e = assertThrows(InvalidInputException.class, () -> NextGpt.builder().withImageBind(missing));
        assertTrue(e.getMessage().contains("ImageBind"), e.getMessage());
        e = assertThrows(InvalidInputException.class, () -> NextGpt.builder().withLanguageModel(null));
        assertTrue(e.getMessage().contains("language model"), e.getMessage());

        Path aFile = file("not-a-folder");
        e = assertThrows(InvalidInputException.class, () -> NextGpt.builder().withSystemLayout(aFile));
        assertTrue(e.getMessage().contains("must be a folder") && e.getMessage().contains("not-a-folder"),
                e.getMessage());
        e = assertThrows(InvalidInputException.class,
                () -> NextGpt.builder().withDecoders(null, missing, null));
        assertTrue(e.getMessage().contains("video decoder"), e.getMessage());
        assertNull(NextGpt.builder().withDemoModel().withDecoders(null, null, null).toConfig().imageDecoder());
    }

    @Test
    void incompatibleCombinationsAreRejected() throws IOException {
        Path ckpt = file("delta.pt");
        Path layout = folder("layout");
        UnsupportedConfigurationException e = assertThrows(UnsupportedConfigurationException.class,
                () -> NextGpt.builder().withDemoModel().withCheckpoint(ckpt).withSystemLayout(layout).toConfig());
        assertTrue(e.getMessage().contains("withCheckpoint(" + ckpt + ")"), e.getMessage());
        assertTrue(e.getMessage().contains("withSystemLayout(" + layout + ")"), e.getMessage());

        e = assertThrows(UnsupportedConfigurationException.class, () -> NextGpt.builder().toConfig());
        assertTrue(e.getMessage().contains("no language model configured"), e.getMessage());
        // explicitly allowing a random LLM makes an empty configuration acceptable
        assertTrue(NextGpt.builder().allowRandomInit("*").toConfig().allowsRandomInit("imagebind"));
        assertEquals(layout, NextGpt.builder().withSystemLayout(layout).toConfig().systemLayout());
        assertThrows(InvalidInputException.class, () -> NextGpt.builder().allowRandomInit(" "));
    }

    @Test
    void defaultsAreLegacyCpuFloat32() {
        NextGptConfig c = NextGpt.builder().withDemoModel().toConfig();
        assertTrue(c.demoModel());
        assertEquals(ModelVersion.LEGACY, c.version());
        assertEquals(DeviceSpec.cpu(), c.device());
        assertEquals(ComputeDtype.FLOAT32, c.dtype());
        assertEquals(GenerationOptions.defaults(), c.defaultOptions());
        assertNull(c.runtime());
        assertThrows(UnsupportedOperationException.class, () -> c.properties().put("a", "b"));
    }

    @Test
    void deviceSpecParses() {
        assertEquals(DeviceSpec.cpu(), DeviceSpec.parse("CPU"));
        assertEquals(DeviceSpec.gpu(0), DeviceSpec.parse("gpu"));
        assertEquals(DeviceSpec.gpu(3), DeviceSpec.parse("cuda:3"));
        assertEquals("gpu:2", DeviceSpec.gpu(2).toString());
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> DeviceSpec.parse("tpu:1"));
        assertTrue(e.getMessage().contains("tpu:1"), e.getMessage());
        assertThrows(InvalidInputException.class, () -> DeviceSpec.parse("gpu:x"));
        assertThrows(InvalidInputException.class, () -> DeviceSpec.gpu(-1));
    }
}
