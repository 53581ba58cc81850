package dev.nextgpt.train.trainer;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.runtime.config.JsonConfig;
import dev.nextgpt.runtime.llm.LlamaConfig;
import dev.nextgpt.train.data.DatasetRecords;
import dev.nextgpt.train.data.LegacyBatchBuilder;
import dev.nextgpt.train.data.LegacyBatchBuilder.Modality;
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
import java.util.EnumSet;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Builds a {@link NextGptTrainer} from the JSON config of {@code nextgpt train} (fields in {@code docs/training.md}).
 * Relative paths are resolved against the config file's folder.
 */
public final class TrainingConfig {
    private TrainingConfig() {
    }

    /** A trainer and the resources it owns (close after training). */
    public record Setup(NextGptTrainer trainer, LegacyTrainingModel model, LegacyTokenizer tokenizer,
                        NDManager manager, AutoCloseable features) implements AutoCloseable {
        public Setup(NextGptTrainer trainer, LegacyTrainingModel model, LegacyTokenizer tokenizer,
                     NDManager manager) {
            this(trainer, model, tokenizer, manager, null);
        }

        @Override
        public void close() {
            trainer.close();
            model.close();
            tokenizer.close();
            if (features != null) {
                try {
                    features.close();
                } catch (Exception e) {
                    throw new IllegalStateException("cannot close the feature source: " + e.getMessage(), e);
                }
            }
            manager.close();
        }
    }

    public static Setup load(Path file, int stage, Consumer<String> progress) {
        JsonObject c;
        try {
            c = JsonParser.parseString(Files.readString(file)).getAsJsonObject();
        } catch (IOException | RuntimeException e) {
            throw new InvalidInputException("cannot read training config " + file + ": " + e.getMessage(), e);
        }
        Path base = file.toAbsolutePath().getParent();
        JsonConfig jc = new JsonConfig(file, c);
        Path llamaConfig = path(base, jc.getString("llama_config"));
        LlamaConfig llm = Files.isDirectory(llamaConfig) ? LlamaConfig.load(llamaConfig)
                : LlamaConfig.parse(JsonConfig.read(llamaConfig), Optional.empty());
        Map<String, Integer> added = new LinkedHashMap<>();
        try {
            JsonParser.parseString(Files.readString(path(base, jc.getString("added_tokens")))).getAsJsonObject()
                    .entrySet().forEach(e -> added.put(e.getKey(), e.getValue().getAsInt()));
        } catch (IOException e) {
            throw new InvalidInputException(file + ": cannot read added_tokens: " + e.getMessage(), e);
        }
        LegacyTokenizer tok = LegacyTokenizer.load(path(base, jc.getString("tokenizer_json")), added);
        NDManager manager = NDManager.newBaseManager();
        ImageBindFeatures imageBind = null;
        try {
            Map<Modality, Integer> counts = new EnumMap<>(Modality.class);
            JsonObject sig = c.has("signal_tokens") ? c.getAsJsonObject("signal_tokens") : new JsonObject();
            counts.put(Modality.IMAGE, sig.has("image") ? sig.get("image").getAsInt() : 4);
            counts.put(Modality.VIDEO, sig.has("video") ? sig.get("video").getAsInt() : 24);
            counts.put(Modality.AUDIO, sig.has("audio") ? sig.get("audio").getAsInt() : 8);
            LegacyBatchBuilder builder = new LegacyBatchBuilder(tok, llm.bosTokenId(), jc.getLong("pad_id", 2),
                    jc.getInt("max_length", 512), counts);
            Map<Modality, long[]> signalIds = new EnumMap<>(Modality.class);
            for (Modality m : counts.keySet()) {
                signalIds.put(m, builder.signalIds(m));
            }
            TrainingLlama.Lora lora = null;
            if (stage == 3) {
                JsonObject l = c.has("lora") ? c.getAsJsonObject("lora") : new JsonObject();
                Set<String> targets = new HashSet<>();
                if (l.has("targets")) {
                    l.getAsJsonArray("targets").forEach(t -> targets.add(t.getAsString()));
                } else {
                    targets.addAll(List.of("q_proj", "k_proj", "v_proj", "o_proj"));
                }
                lora = new TrainingLlama.Lora(l.has("r") ? l.get("r").getAsInt() : 32,
                        l.has("alpha") ? l.get("alpha").getAsDouble() : 32,
                        l.has("dropout") ? l.get("dropout").getAsDouble() : 0.1, targets, "default");
            }
            long seed = jc.getLong("seed", 13);
            ParameterStore store = LegacyTrainingModel.loadWeights(manager, DataType.FLOAT32, stage, llm,
                    path(base, jc.getString("weights")),
                    c.has("lora_weights") && !c.get("lora_weights").isJsonNull()
                            ? path(base, c.get("lora_weights").getAsString()) : null, lora, seed);
            LegacyTrainingModel model = new LegacyTrainingModel(stage, store,
                    new TrainingLlama(llm, LegacyTrainingModel.llmPrefix(stage), lora), signalIds,
                    jc.getInt("projector_heads", 4));
            FeatureSource features;
            if (c.has("imagebind") && !c.get("imagebind").isJsonNull()) {
                imageBind = ImageBindFeatures.load(path(base, c.get("imagebind").getAsString()), manager);
                features = FeatureSource.cached(imageBind);
            } else {
                features = FeatureSource.cached(FeatureSource.precomputed(
                        path(base, jc.getString("features_dir", "features"))));
            }
            LegacyExampleFactory factory = new LegacyExampleFactory(stage, builder,
                    jc.getString("stage1_prompt", "generate a caption"), features, null);
            NextGptTrainer.Builder b = NextGptTrainer.builder().model(model)
                    .data(datasets(base, c.getAsJsonArray("datasets"), stage, progress), factory)
                    .batchSize(jc.getInt("batch_size", 2))
                    .gradientAccumulation(jc.getInt("gradient_accumulation", 1))
                    .totalSteps(jc.getLong("total_steps", 1000))
                    .warmupSteps(jc.getLong("warmup_steps", 0))
                    .learningRate(jc.getDouble("learning_rate", 4e-4))
                    .clipNorm(jc.getDouble("clip_norm", 1.0))
                    .seed(seed)
                    .noWeightDecayForBiasAndNorm(jc.getBoolean("no_decay_bias_norm", false))
                    .checkpointEvery(jc.getInt("checkpoint_every", 0))
                    .evalEvery(jc.getInt("eval_every", 0))
                    .logEvery(jc.getInt("log_every", 10))
                    .progress(progress);
            if (c.has("precision")) {
                b.precision(Precision.parse(jc.getString("precision")));
            }
            if (c.has("loss_scaler")) {
                JsonObject ls = c.getAsJsonObject("loss_scaler");
                b.lossScaler(new dev.nextgpt.train.optim.DynamicLossScaler(get(ls, "initial", 65536),
                        (int) get(ls, "window", 1000), (int) get(ls, "hysteresis", 2), get(ls, "min", 1)));
            }
            if (c.has("adam")) {
                JsonObject a = c.getAsJsonObject("adam");
                b.adam(new AdamW.Hyper(get(a, "beta1", 0.9), get(a, "beta2", 0.95), get(a, "eps", 1e-8),
                        get(a, "weight_decay", 0.001)));
            }
            if (c.has("trainable")) {
                Set<LegacyTrainingModel.Part> parts = EnumSet.noneOf(LegacyTrainingModel.Part.class);
                c.getAsJsonArray("trainable").forEach(p -> parts.add(part(file, p.getAsString())));
                b.trainableParts(parts);
            }
            if (c.has("lr_scale")) {
                c.getAsJsonObject("lr_scale").entrySet()
                        .forEach(e -> b.learningRateScale(part(file, e.getKey()), e.getValue().getAsDouble()));
            }
            if (c.has("output_dir")) {
                b.outputDir(path(base, c.get("output_dir").getAsString()));
            }
            if (c.has("metrics_file")) {
                b.metricsFile(path(base, c.get("metrics_file").getAsString()));
            }
            if (c.has("resume_from") && !c.get("resume_from").isJsonNull()) {
                b.resumeFrom(path(base, c.get("resume_from").getAsString()));
            }
            if (c.has("eval_datasets")) {
                b.evalData(datasets(base, c.getAsJsonArray("eval_datasets"), stage, progress), factory);
            }
            return new Setup(b.build(), model, tok, manager, imageBind);
        } catch (RuntimeException e) {
            if (imageBind != null) {
                imageBind.close();
            }
            manager.close();
            tok.close();
            throw e;
        }
    }

    private static List<List<TrainingSample>> datasets(Path base, JsonArray arr, int stage, Consumer<String> progress) {
        List<List<TrainingSample>> out = new ArrayList<>();
        for (JsonElement e : arr) {
            JsonObject d = e.getAsJsonObject();
            String type = d.has("type") ? d.get("type").getAsString() : (stage == 3 ? "instructions" : "pairs");
            Path json = path(base, d.get("json").getAsString());
            Path media = path(base, d.has("media_root") ? d.get("media_root").getAsString() : ".");
            Path embed = path(base, d.has("embed_root") ? d.get("embed_root").getAsString() : ".");
            boolean skip = !d.has("skip_malformed") || d.get("skip_malformed").getAsBoolean();
            List<TrainingSample> samples = new ArrayList<>();
            int skipped;
            if (type.equals("pairs")) {
                var r = DatasetRecords.readPairs(json, media, embed, skip);
                r.records().forEach(p -> samples.add(TrainingSample.fromPair(stage, p)));
                skipped = r.skipped();
            } else if (type.equals("instructions")) {
                var r = DatasetRecords.readLegacyInstructions(json, media, embed, skip);
                r.records().forEach(p -> samples.add(TrainingSample.fromDialogue(p)));
                skipped = r.skipped();
            } else if (type.equals("mosit")) {
                var r = DatasetRecords.readMosit(json, media, embed, skip);
                r.records().forEach(p -> samples.add(TrainingSample.fromDialogue(p.legacy())));
                skipped = r.skipped();
            } else {
                throw new InvalidInputException("dataset type must be 'pairs', 'instructions' or 'mosit', not '"
                        + type + "'");
            }
            if (progress != null) {
                progress.accept("dataset " + json + ": " + samples.size() + " samples" + (skipped > 0
                        ? ", " + skipped + " malformed skipped" : ""));
            }
            out.add(samples);
        }
        return out;
    }

    private static LegacyTrainingModel.Part part(Path file, String s) {
        try {
            return LegacyTrainingModel.Part.valueOf(s.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new InvalidInputException(file + ": unknown trainable part '" + s + "' (one of "
                    + List.of(LegacyTrainingModel.Part.values()) + ")");
        }
    }

    private static double get(JsonObject o, String k, double d) {
        return o.has(k) ? o.get(k).getAsDouble() : d;
    }

    private static Path path(Path base, String p) {
        Path q = Path.of(p);
        return q.isAbsolute() ? q : base.resolve(q);
    }
}
