package dev.nextgpt;

import dev.nextgpt.spi.NextGptProvider;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.StringJoiner;

/**
 * Collects where the weights are and how to run, then finds a runtime with {@link ServiceLoader} and loads the
 * model. Obtain one with {@link NextGpt#builder()}. Paths are checked when given ({@link InvalidInputException}
 * naming the path); combinations are checked by {@link #toConfig()} and {@link #build()}.
 *
 * <p>Sources of weights, in order of precedence: explicit paths ({@link #withImageBind(Path)},
 * {@link #withLanguageModel(Path)}, {@link #withCheckpoint(Path)}, the decoders), then
 * {@link #withSystemLayout(Path)}. {@link #withDemoModel()} is exclusive with all of them. A decoder that is not
 * configured is not an error: when the model asks for that modality the response holds a {@link MediaRequestPart}.
 * Not thread-safe.
 */
public final class NextGptBuilder {
    static final String NO_RUNTIME_MESSAGE =
            "no NExT-GPT runtime on the class path: add dev.nextgpt:nextgpt-runtime";

    private ModelVersion version = ModelVersion.LEGACY;
    private boolean demoModel;
    private Path systemLayout;
    private Path imageBind;
    private Path languageModel;
    private Path checkpoint;
    private Path imageDecoder;
    private Path videoDecoder;
    private Path audioDecoder;
    private DeviceSpec device = DeviceSpec.cpu();
    private ComputeDtype dtype = ComputeDtype.FLOAT32;
    private final Set<String> allowRandomInit = new LinkedHashSet<>();
    private GenerationOptions defaultOptions = GenerationOptions.defaults();
    private String runtime;
    private final Map<String, String> properties = new LinkedHashMap<>();
    private ClassLoader classLoader;

    NextGptBuilder() {
    }

    /** The ImageBind-huge checkpoint ({@code imagebind_huge.pth} or a converted file/folder). */
    public NextGptBuilder withImageBind(Path path) {
        this.imageBind = requireExisting("ImageBind checkpoint", path);
        return this;
    }

    /** The Vicuna-7B weights folder (HF layout with tokenizer); same as {@link #withLanguageModel(Path)}. */
    public NextGptBuilder withVicuna7b(Path path) {
        return withLanguageModel(path);
    }

    /** The language model weights folder (HF layout with tokenizer) or file. */
    public NextGptBuilder withLanguageModel(Path path) {
        this.languageModel = requireExisting("language model", path);
        return this;
    }

    /**
     * The NExT-GPT checkpoint: input/output projectors, LoRA and resized embeddings (legacy
     * {@code 7b_tiva_v0/pytorch_model.pt} delta, or a current checkpoint folder).
     */
    public NextGptBuilder withCheckpoint(Path path) {
        this.checkpoint = requireExisting("NExT-GPT checkpoint", path);
        return this;
    }

    /** The image decoder's diffusers folder (Stable Diffusion); null = none. */
    public NextGptBuilder withImageDecoder(Path folder) {
        this.imageDecoder = optionalFolder("image decoder", folder);
        return this;
    }

    /** The video decoder's diffusers folder (Zeroscope); null = none. */
    public NextGptBuilder withVideoDecoder(Path folder) {
        this.videoDecoder = optionalFolder("video decoder", folder);
        return this;
    }

    /** The audio decoder's diffusers folder (AudioLDM); null = none. */
    public NextGptBuilder withAudioDecoder(Path folder) {
        this.audioDecoder = optionalFolder("audio decoder", folder);
        return this;
    }

    /** All three decoder folders at once; each may be null (= that modality has no decoder). */
    public NextGptBuilder withDecoders(Path image, Path video, Path audio) {
        Path i = optionalFolder("image decoder", image);
        Path v = optionalFolder("video decoder", video);
        Path a = optionalFolder("audio decoder", audio);
        this.imageDecoder = i;
        this.videoDecoder = v;
        this.audioDecoder = a;
        return this;
    }

    /**
     * A folder laid out like the original repository for the chosen version (legacy: {@code ckpt/pretrained_ckpt/
     * imagebind_ckpt/huge/}, {@code ckpt/pretrained_ckpt/vicuna_ckpt/7b_v0/}, {@code ckpt/delta_ckpt/nextgpt/
     * 7b_tiva_v0/}, plus the decoders' diffusers folders). The runtime resolves the individual parts inside it;
     * parts given explicitly take precedence.
     */
    public NextGptBuilder withSystemLayout(Path folder) {
        this.systemLayout = requireFolder("system layout", folder);
        return this;
    }

    /** Uses the embedded tiny random-weights model (all modalities, no files); for tests and demos. */
    public NextGptBuilder withDemoModel() {
        this.demoModel = true;
        return this;
    }

    /** The model version; default {@link ModelVersion#LEGACY}. */
    public NextGptBuilder withVersion(ModelVersion v) {
        this.version = Checks.notNull("version", v);
        return this;
    }

    /** The device; default {@link DeviceSpec#cpu()}. */
    public NextGptBuilder withDevice(DeviceSpec d) {
        this.device = Checks.notNull("device", d);
        return this;
    }

    /** The compute dtype; default {@link ComputeDtype#FLOAT32}. */
    public NextGptBuilder withDtype(ComputeDtype d) {
        this.dtype = Checks.notNull("dtype", d);
        return this;
    }

    /**
     * Explicitly permits the named parts to stay randomly initialised when their weights are missing (otherwise a
     * missing part is an error). Names: see {@link NextGptConfig}; {@code "*"} permits all. Cumulative.
     */
    public NextGptBuilder allowRandomInit(String... parts) {
        for (String p : Checks.notNull("parts", parts)) {
            if (p == null || p.isBlank()) {
                throw new InvalidInputException("allowRandomInit part names must not be null or blank");
            }
            allowRandomInit.add(p.trim());
        }
        return this;
    }

    /** Default options for requests without their own; default {@link GenerationOptions#defaults()}. */
    public NextGptBuilder withGenerationOptions(GenerationOptions options) {
        this.defaultOptions = Checks.notNull("options", options);
        return this;
    }

    /** Default text options (the other defaults are kept). */
    public NextGptBuilder withTextOptions(TextGenerationOptions options) {
        this.defaultOptions = defaultOptions.withText(Checks.notNull("options", options));
        return this;
    }

    /** Default image options (the other defaults are kept). */
    public NextGptBuilder withImageOptions(ImageGenerationOptions options) {
        this.defaultOptions = defaultOptions.withImage(Checks.notNull("options", options));
        return this;
    }

    /** Default video options (the other defaults are kept). */
    public NextGptBuilder withVideoOptions(VideoGenerationOptions options) {
        this.defaultOptions = defaultOptions.withVideo(Checks.notNull("options", options));
        return this;
    }

    /** Default audio options (the other defaults are kept). */
    public NextGptBuilder withAudioOptions(AudioGenerationOptions options) {
        this.defaultOptions = defaultOptions.withAudio(Checks.notNull("options", options));
        return this;
    }

    /** Selects a provider by {@link NextGptProvider#name()} instead of the highest priority. */
    public NextGptBuilder withRuntime(String providerName) {
        this.runtime = providerName;
        return this;
    }

    /** A runtime-specific setting passed through in {@link NextGptConfig#properties()}. */
    public NextGptBuilder withProperty(String key, String value) {
        Checks.notNull("property key", key);
        if (value == null) {
            properties.remove(key);
        } else {
            properties.put(key, value);
        }
        return this;
    }

    /**
     * The class loader searched for providers; default: the thread's context class loader, else this class's.
     */
    public NextGptBuilder withClassLoader(ClassLoader loader) {
        this.classLoader = loader;
        return this;
    }

    /**
     * Validates the combination and returns the immutable configuration (without loading anything).
     *
     * @throws UnsupportedConfigurationException for contradictory or incomplete settings
     */
    public NextGptConfig toConfig() {
        if (demoModel) {
            List<String> real = new ArrayList<>();
            addIf(real, "withSystemLayout", systemLayout);
            addIf(real, "withImageBind", imageBind);
            addIf(real, "withLanguageModel", languageModel);
            addIf(real, "withCheckpoint", checkpoint);
            addIf(real, "withImageDecoder", imageDecoder);
            addIf(real, "withVideoDecoder", videoDecoder);
            addIf(real, "withAudioDecoder", audioDecoder);
            if (!real.isEmpty()) {
                throw new UnsupportedConfigurationException("withDemoModel() uses embedded random weights and "
                        + "cannot be combined with real weights: " + String.join(", ", real));
            }
        } else if (systemLayout == null && languageModel == null
                && !allowRandomInit.contains(NextGptConfig.LANGUAGE_MODEL)
                && !allowRandomInit.contains(NextGptConfig.ALL)) {
            throw new UnsupportedConfigurationException("no language model configured: call withDemoModel(), "
                    + "withSystemLayout(folder) or withLanguageModel(folder)");
        }
        return new NextGptConfig(version, demoModel, systemLayout, imageBind, languageModel, checkpoint,
                imageDecoder, videoDecoder, audioDecoder, device, dtype, allowRandomInit, defaultOptions, runtime,
                properties);
    }

    /**
     * Validates, finds the runtime via {@code ServiceLoader<NextGptProvider>} and loads the model.
     *
     * @throws UnsupportedConfigurationException if no runtime is on the class path, the named runtime is absent,
     *                                           or the settings are contradictory
     * @throws NextGptException                  (typed) from the runtime when loading fails
     */
    public NextGpt build() {
        NextGptConfig config = toConfig();
        NextGptProvider provider = selectProvider(loadProviders());
        NextGpt model;
        try {
            model = provider.create(config);
        } catch (NextGptException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new RuntimeFailureException("NExT-GPT runtime '" + provider.name() + "' failed to load the model: "
                    + e, e);
        }
        if (model == null) {
            throw new RuntimeFailureException("NExT-GPT runtime '" + provider.name() + "' returned no model");
        }
        return model;
    }

    private List<NextGptProvider> loadProviders() {
        ClassLoader loader = classLoader;
        if (loader == null) {
            loader = Thread.currentThread().getContextClassLoader();
        }
        if (loader == null) {
            loader = NextGptBuilder.class.getClassLoader();
        }
        List<NextGptProvider> providers = new ArrayList<>();
        try {
            for (NextGptProvider p : ServiceLoader.load(NextGptProvider.class, loader)) {
                providers.add(p);
            }
        } catch (ServiceConfigurationError e) {
            throw new UnsupportedConfigurationException("a NExT-GPT runtime is registered but cannot be loaded: "
                    + e.getMessage(), e);
        }
        return providers;
    }

    private NextGptProvider selectProvider(List<NextGptProvider> providers) {
        if (providers.isEmpty()) {
            throw new UnsupportedConfigurationException(NO_RUNTIME_MESSAGE);
        }
        if (runtime != null) {
            StringJoiner names = new StringJoiner(", ");
            for (NextGptProvider p : providers) {
                if (runtime.equals(p.name())) {
                    return p;
                }
                names.add(p.name());
            }
            throw new UnsupportedConfigurationException("NExT-GPT runtime '" + runtime + "' is not on the class "
                    + "path; available: " + names);
        }
        return providers.stream()
                .max(Comparator.comparingInt(NextGptProvider::priority)
                        .thenComparing(NextGptProvider::name, Comparator.reverseOrder()))
                .orElseThrow();
    }

    private static void addIf(List<String> out, String method, Path p) {
        if (p != null) {
            out.add(method + "(" + p + ")");
        }
    }

    private static Path requireExisting(String what, Path path) {
        if (path == null) {
            throw new InvalidInputException(what + " path must not be null");
        }
        if (!Files.exists(path)) {
            throw new InvalidInputException(what + " does not exist: " + path.toAbsolutePath());
        }
        if (!Files.isReadable(path)) {
            throw new InvalidInputException(what + " is not readable: " + path.toAbsolutePath());
        }
        return path;
    }

    private static Path requireFolder(String what, Path path) {
        requireExisting(what, path);
        if (!Files.isDirectory(path)) {
            throw new InvalidInputException(what + " must be a folder, but is a file: " + path.toAbsolutePath());
        }
        return path;
    }

    private static Path optionalFolder(String what, Path path) {
        return path == null ? null : requireFolder(what, path);
    }
}
