package dev.nextgpt.train.trainer;

import dev.nextgpt.InvalidInputException;
import dev.nextgpt.train.data.CaptionText;
import dev.nextgpt.train.data.LegacyBatchBuilder;
import dev.nextgpt.train.data.LegacyBatchBuilder.Modality;
import dev.nextgpt.train.data.NpyArray;
import dev.nextgpt.train.model.LegacyTrainingModel;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * Turns a list of {@link TrainingSample}s into one {@link LegacyTrainingModel.Example}: the stage's token layout
 * ({@link LegacyBatchBuilder}), the ImageBind features of the input media and the caption embeddings of the output.
 * Every sample of a batch must share input-media presence and output modality (the legacy sampler draws each batch
 * from one dataset).
 */
public final class LegacyExampleFactory {
    private final int stage;
    private final LegacyBatchBuilder builder;
    private final String stage1Prompt;
    private final FeatureSource features;
    private final Function<Path, float[]> captionEmbeddings;

    /**
     * @param stage1Prompt the stage-1 instruction ({@code "generate a caption"} in {@code stage_1.yaml})
     * @param captionEmbeddings reads a caption embedding file; null for {@code .npy} files (cached)
     */
    public LegacyExampleFactory(int stage, LegacyBatchBuilder builder, String stage1Prompt, FeatureSource features,
                                Function<Path, float[]> captionEmbeddings) {
        this.stage = stage;
        this.builder = builder;
        this.stage1Prompt = stage1Prompt;
        this.features = features;
        if (captionEmbeddings == null) {
            Map<Path, float[]> cache = new ConcurrentHashMap<>();
            this.captionEmbeddings = p -> cache.computeIfAbsent(p, f -> NpyArray.read(f).data());
        } else {
            this.captionEmbeddings = captionEmbeddings;
        }
    }

    public LegacyTrainingModel.Example build(List<TrainingSample> samples) {
        if (samples.isEmpty()) {
            throw new InvalidInputException("empty batch");
        }
        String key = samples.get(0).batchKey();
        for (TrainingSample s : samples) {
            if (!s.batchKey().equals(key)) {
                throw new InvalidInputException("a batch mixes samples with different media input / output modality ("
                        + key + " vs " + s.batchKey() + "); put them in different datasets");
            }
        }
        List<LegacyBatchBuilder.Instance> instances = new ArrayList<>();
        for (TrainingSample s : samples) {
            instances.add(switch (stage) {
                case 1 -> builder.stage1(CaptionText.process(s.caption()), stage1Prompt);
                case 2 -> builder.stage2(CaptionText.process(s.caption()), s.outputModality());
                case 3 -> builder.stage3(s.turns());
                default -> throw new InvalidInputException("stage must be 1, 2 or 3, not " + stage);
            });
        }
        boolean withMedia = samples.get(0).media() != null;
        LegacyBatchBuilder.Batch batch = builder.collate(instances, withMedia);
        float[][] feats = null;
        if (withMedia) {
            feats = new float[samples.size()][];
            for (int i = 0; i < feats.length; i++) {
                feats[i] = features.feature(samples.get(i).inputModality(), samples.get(i).media());
            }
        }
        Modality out = samples.get(0).outputModality();
        float[][] caps = null;
        if (out != Modality.TEXT) {
            caps = new float[samples.size()][];
            for (int i = 0; i < caps.length; i++) {
                Path p = samples.get(i).captionEmbedding();
                if (p == null) {
                    throw new InvalidInputException("sample " + i + " generates " + out + " but has no caption embedding");
                }
                caps[i] = captionEmbeddings.apply(p);
            }
        }
        return new LegacyTrainingModel.Example(batch, feats, out, caps);
    }
}
