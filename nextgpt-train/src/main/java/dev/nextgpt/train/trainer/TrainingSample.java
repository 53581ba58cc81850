package dev.nextgpt.train.trainer;

import dev.nextgpt.InvalidInputException;
import dev.nextgpt.train.data.DatasetRecords;
import dev.nextgpt.train.data.LegacyBatchBuilder.Modality;
import dev.nextgpt.train.data.LegacyBatchBuilder.Turn;

import java.nio.file.Path;
import java.util.List;

/**
 * One training sample of a legacy stage: stage 1 a media→caption pair, stage 2 a caption→media pair (with the
 * target decoder's caption embedding), stage 3 a dialogue (optional input media, optional media output with its
 * caption embedding).
 *
 * @param inputModality  the media input ({@code TEXT} when none)
 * @param media          the input media path (null when none)
 * @param outputModality the generated modality ({@code TEXT} when none)
 * @param captionEmbedding the {@code .npy} caption embedding of the output (null when none)
 * @param caption        the raw caption (stages 1/2; {@code process_caption} is applied when batching)
 * @param turns          the dialogue (stage 3)
 */
public record TrainingSample(Modality inputModality, Path media, Modality outputModality, Path captionEmbedding,
                             String caption, List<Turn> turns) {

    /** A T-X pair for stage 1 (media → caption) or stage 2 (caption → media). */
    public static TrainingSample fromPair(int stage, DatasetRecords.Pair p) {
        return switch (stage) {
            case 1 -> new TrainingSample(p.modality(), p.media(), Modality.TEXT, null, p.caption(), null);
            case 2 -> new TrainingSample(Modality.TEXT, null, p.modality(), p.embedding(), p.caption(), null);
            default -> throw new InvalidInputException("T-X pairs are stage-1/2 data, not stage " + stage);
        };
    }

    /** A stage-3 dialogue. */
    public static TrainingSample fromDialogue(DatasetRecords.Dialogue d) {
        return new TrainingSample(d.inputModality(), d.media(), d.outputModality(), d.embedding(), null, d.turns());
    }

    /** Samples sharing this key can share a batch (same prompt layout and loss terms). */
    public String batchKey() {
        return (media != null) + "/" + outputModality;
    }
}
