package dev.nextgpt.train.check;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.config.JsonConfig;
import dev.nextgpt.runtime.io.SafetensorsFile;
import dev.nextgpt.runtime.llm.LlamaConfig;
import dev.nextgpt.train.data.CaptionText;
import dev.nextgpt.train.data.LegacyBatchBuilder;
import dev.nextgpt.train.data.LegacyBatchBuilder.Modality;
import dev.nextgpt.train.data.LegacyBatchBuilder.Turn;
import dev.nextgpt.train.data.LegacyTokenizer;
import dev.nextgpt.train.model.LegacyTrainingModel;
import dev.nextgpt.train.model.ParameterStore;
import dev.nextgpt.train.model.TrainingLlama;
import dev.nextgpt.train.optim.AdamW;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * One case of the legacy training fixture ({@code golden/nextgpt-train}), rebuilt from its raw inputs only: the
 * samples of {@code cases.json} (captions / conversations), the ImageBind features and caption embeddings
 * ({@code input.sampleK.*}), {@code config.json}, {@code training_config.json}, the tokenizer and the W0 weights.
 */
public final class LegacyFixtureCase {
    private final Path dir;
    private final JsonObject json;
    private final JsonObject trainingConfig;
    private final int stage;
    private final LlamaConfig llm;
    private final TrainingLlama.Lora lora;
    private final Map<Modality, long[]> signalIds;
    private final LegacyTrainingModel.Example example;

    private LegacyFixtureCase(Path dir, JsonObject json, JsonObject trainingConfig, LlamaConfig llm,
                              TrainingLlama.Lora lora, Map<Modality, long[]> signalIds,
                              LegacyTrainingModel.Example example) {
        this.dir = dir;
        this.json = json;
        this.trainingConfig = trainingConfig;
        this.stage = json.get("stage").getAsInt();
        this.llm = llm;
        this.lora = lora;
        this.signalIds = signalIds;
        this.example = example;
    }

    /** The base {@code tokenizer.json} next to the fixture: {@code tokenizer/tokenizer.json} or {@code ../nextgpt-train-extra/tokenizer.json}. */
    public static Optional<Path> findTokenizerJson(Path fixtureDir) {
        for (Path p : List.of(fixtureDir.resolve("tokenizer/tokenizer.json"),
                fixtureDir.resolveSibling("nextgpt-train-extra").resolve("tokenizer.json"),
                fixtureDir.resolveSibling("llama").resolve("tokenizer.json"))) {
            if (Files.isRegularFile(p)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }

    /** Loads case {@code name} of the fixture in {@code dir}, tokenizing with the base {@code tokenizerJson}. */
    public static LegacyFixtureCase load(Path dir, String name, Path tokenizerJson) {
        JsonObject cases = readJson(dir.resolve("cases.json"));
        JsonObject cs = null;
        List<String> names = new ArrayList<>();
        for (JsonElement e : cases.getAsJsonArray("cases")) {
            String n = e.getAsJsonObject().get("name").getAsString();
            names.add(n);
            if (n.equals(name)) {
                cs = e.getAsJsonObject();
            }
        }
        if (cs == null) {
            throw new InvalidInputException("case '" + name + "' is not in " + dir.resolve("cases.json") + " (cases: "
                    + names + ")");
        }
        JsonObject tc = readJson(dir.resolve("training_config.json"));
        LlamaConfig llm = LlamaConfig.parse(JsonConfig.read(dir.resolve("config.json")), Optional.empty());
        List<String> targets = new ArrayList<>();
        tc.getAsJsonArray("lora_targets").forEach(t -> targets.add(t.getAsString()));
        TrainingLlama.Lora lora = new TrainingLlama.Lora(tc.get("lora_r").getAsInt(), tc.get("lora_alpha").getAsDouble(),
                tc.get("lora_dropout_used").getAsDouble(), new HashSet<>(targets), "default");
        Map<Modality, long[]> signal = new EnumMap<>(Modality.class);
        Map<Modality, Integer> counts = new EnumMap<>(Modality.class);
        JsonObject idx = tc.getAsJsonObject("gen_token_idx");
        for (Modality m : List.of(Modality.IMAGE, Modality.VIDEO, Modality.AUDIO)) {
            JsonArray a = idx.getAsJsonArray(m.name().toLowerCase(Locale.ROOT));
            long[] ids = new long[a.size()];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = a.get(i).getAsLong();
            }
            signal.put(m, ids);
            counts.put(m, ids.length);
        }
        Map<String, Integer> added = new LinkedHashMap<>();
        readJson(dir.resolve("tokenizer/added_tokens.json")).entrySet()
                .forEach(e -> added.put(e.getKey(), e.getValue().getAsInt()));
        LegacyBatchBuilder.Batch batch;
        int stage = cs.get("stage").getAsInt();
        String type = cs.get("dataset_type").getAsString();
        Modality output = outputModality(type);
        boolean withMedia = type.endsWith("ToText") && !type.equals("TextToText");
        try (LegacyTokenizer tok = LegacyTokenizer.load(tokenizerJson, added)) {
            LegacyBatchBuilder builder = new LegacyBatchBuilder(tok, tc.get("bos_id").getAsLong(),
                    tc.get("pad_id").getAsLong(), tc.get("max_length").getAsInt(), counts);
            List<LegacyBatchBuilder.Instance> instances = new ArrayList<>();
            for (JsonElement e : cs.getAsJsonArray("samples")) {
                JsonObject s = e.getAsJsonObject();
                if (stage == 3) {
                    List<Turn> turns = new ArrayList<>();
                    for (JsonElement t : s.getAsJsonArray("conversation")) {
                        JsonObject o = t.getAsJsonObject();
                        turns.add(new Turn(o.get("from").getAsString(), o.get("value").getAsString(),
                                o.has("input_modality") ? modality(o.get("input_modality").getAsString()) : null,
                                o.has("output_modality") ? modality(o.get("output_modality").getAsString()) : null));
                    }
                    instances.add(builder.stage3(turns));
                } else {
                    String caption = CaptionText.process(s.get("raw_caption").getAsString());
                    instances.add(stage == 1 ? builder.stage1(caption, tc.get("stage1_prompt").getAsString())
                            : builder.stage2(caption, output));
                }
            }
            batch = builder.collate(instances, withMedia);
        }
        float[][] features = null;
        float[][] captions = null;
        try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("cases/" + name + ".safetensors"))) {
            JsonArray samples = cs.getAsJsonArray("samples");
            if (withMedia) {
                features = new float[samples.size()][];
                for (int i = 0; i < features.length; i++) {
                    features[i] = f.readFloats("input." + samples.get(i).getAsJsonObject().get("feature").getAsString());
                }
            }
            if (output != Modality.TEXT) {
                captions = new float[samples.size()][];
                for (int i = 0; i < captions.length; i++) {
                    captions[i] = f.readFloats("input."
                            + samples.get(i).getAsJsonObject().get("caption_emb").getAsString());
                }
            }
        }
        return new LegacyFixtureCase(dir, cs, tc, llm, lora, signal,
                new LegacyTrainingModel.Example(batch, features, output, captions));
    }

    /** Builds the model at W0 with the original trainable set of the case's stage. */
    public LegacyTrainingModel buildModel(NDManager manager, DataType dtype) {
        ParameterStore store = LegacyTrainingModel.loadWeights(manager, dtype, stage, llm,
                dir.resolve("weights/nextgpt_stage12_W0.safetensors"),
                stage == 3 ? dir.resolve("weights/lora_W0.safetensors") : null, stage == 3 ? lora : null, 0);
        LegacyTrainingModel model = new LegacyTrainingModel(stage, store,
                new TrainingLlama(llm, LegacyTrainingModel.llmPrefix(stage), stage == 3 ? lora : null), signalIds,
                trainingConfig.get("textfc_heads").getAsInt());
        model.setTrainable(LegacyTrainingModel.originalTrainableParts(stage));
        return model;
    }

    public String name() {
        return json.get("name").getAsString();
    }

    public int stage() {
        return stage;
    }

    public JsonObject json() {
        return json;
    }

    public LegacyTrainingModel.Example example() {
        return example;
    }

    /** Whether the case has two stored AdamW steps. */
    public boolean hasOptimizerSteps() {
        return json.has("adamw") && json.get("adamw").isJsonObject();
    }

    /** The AdamW hyper-parameters of the case's optimiser file. */
    public AdamW.Hyper adamHyper() {
        JsonObject a = adamw();
        JsonArray betas = a.getAsJsonArray("betas");
        return new AdamW.Hyper(betas.get(0).getAsDouble(), betas.get(1).getAsDouble(), a.get("eps").getAsDouble(),
                a.get("weight_decay").getAsDouble());
    }

    public double learningRate() {
        return adamw().get("lr").getAsDouble();
    }

    public double clipNorm() {
        return adamw().get("clip_global_norm").getAsDouble();
    }

    private JsonObject adamw() {
        if (!hasOptimizerSteps()) {
            throw new InvalidInputException("case '" + name() + "' has no optimiser steps");
        }
        return json.getAsJsonObject("adamw");
    }

    static Modality modality(String s) {
        return Modality.valueOf(s.toUpperCase(Locale.ROOT));
    }

    /** TextToImage → IMAGE etc.; every *ToText type → TEXT. */
    public static Modality outputModality(String datasetType) {
        return switch (datasetType) {
            case "TextToImage" -> Modality.IMAGE;
            case "TextToVideo" -> Modality.VIDEO;
            case "TextToAudio" -> Modality.AUDIO;
            case "ImageToText", "VideoToText", "AudioToText", "TextToText" -> Modality.TEXT;
            default -> throw new InvalidInputException("unknown dataset_type '" + datasetType + "'");
        };
    }

    private static JsonObject readJson(Path p) {
        try {
            return JsonParser.parseString(Files.readString(p)).getAsJsonObject();
        } catch (IOException | RuntimeException e) {
            throw new ModelFormatException("cannot read JSON " + p + ": " + e.getMessage(), e);
        }
    }
}
