package dev.nextgpt.train.data;

import dev.nextgpt.InvalidInputException;
import dev.nextgpt.train.TrainFixture;
import dev.nextgpt.train.data.DatasetRecords.MediaOutput;
import dev.nextgpt.train.data.DatasetRecords.MositDialogue;
import dev.nextgpt.train.data.LegacyBatchBuilder.Modality;
import dev.nextgpt.train.data.LegacyBatchBuilder.Turn;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class MositRecordsTest {
    static final Path FILE = Path.of("src/test/resources/mosit/mosit.hand.json");
    static final Path EMB = Path.of("embed");

    @Test
    void malformedRecordsNameFileRecordAndFieldOrAreSkippedAndCounted() {
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> DatasetRecords.readMosit(FILE, null, EMB, false));
        assertTrue(e.getMessage().contains("mosit.hand.json") && e.getMessage().contains("record 2")
                && e.getMessage().contains("'image_list'") && e.getMessage().contains("mosit_i_missing.jpg"),
                e.getMessage());
        var r = DatasetRecords.readMosit(FILE, null, EMB, true);
        assertEquals(3, r.records().size());
        assertEquals(2, r.skipped());
        assertTrue(r.problems().get(1).contains("record 3") && r.problems().get(1).contains("image_list[0].caption"),
                r.problems().get(1));
    }

    @Test
    void turnsLoseTheirTagsAndOutputsCarryCaptionAndEmbedding() {
        List<MositDialogue> ds = DatasetRecords.readMosit(FILE, null, EMB, true).records();
        MositDialogue d = ds.get(0);
        assertEquals(List.of(
                new Turn("human", "I love winter animals. Can you show me one?", Modality.TEXT, null),
                new Turn("gpt", "Sure, here is a fox.", Modality.TEXT, Modality.IMAGE),
                new Turn("human", "What would it sound like outside?", Modality.TEXT, null),
                new Turn("gpt", "Something like this.", Modality.TEXT, Modality.AUDIO)), d.turns());
        assertEquals(List.of(
                new MediaOutput(1, Modality.IMAGE, "mosit_i_0000000_00.jpg", "a red fox in the snow",
                        EMB.resolve("mosit_i_0000000_00.jpg.npy")),
                new MediaOutput(3, Modality.AUDIO, "mosit_a_0000000_00.wav", "wind howling over a field",
                        EMB.resolve("mosit_a_0000000_00.wav.npy"))), d.outputs());
        var legacy = d.legacy();
        assertEquals(d.turns().subList(0, 2), legacy.turns(), "cut after the first output turn");
        assertEquals(Modality.TEXT, legacy.inputModality());
        assertNull(legacy.media());
        assertEquals(Modality.IMAGE, legacy.outputModality());
        assertEquals("a red fox in the snow", legacy.outputCaption());
        assertEquals(EMB.resolve("mosit_i_0000000_00.jpg.npy"), legacy.embedding());

        MositDialogue v = ds.get(1);
        assertEquals("", v.turns().get(1).value());
        assertEquals(Modality.VIDEO, v.legacy().outputModality());
        assertEquals("waves on a beach", v.legacy().outputCaption());

        var text = ds.get(2).legacy();
        assertEquals(Modality.TEXT, text.outputModality());
        assertNull(text.embedding());
        assertEquals("Happy to chat.", text.turns().get(1).value());
    }

    @Test
    void stageThreeBuildsTheSignalTokensOfEachOutput() {
        LegacyTokenizer tokenizer = TrainFixture.tokenizer();
        try {
            LegacyBatchBuilder builder = new LegacyBatchBuilder(tokenizer, 1, 2, 512,
                    Map.of(Modality.IMAGE, 4, Modality.VIDEO, 24, Modality.AUDIO, 8));
            List<MositDialogue> ds = DatasetRecords.readMosit(FILE, null, EMB, true).records();
            MositDialogue d = ds.get(0);
            LegacyBatchBuilder.Instance full = builder.stage3(d.turns());
            long[] img = builder.signalIds(Modality.IMAGE);
            long[] aud = builder.signalIds(Modality.AUDIO);
            assertEquals(4, img.length);
            assertEquals(8, aud.length);
            assertEquals(1, occurrences(full.targetIds(), img), "image signal once, as a target");
            assertEquals(1, occurrences(full.targetIds(), aud), "audio signal once, as a target");
            assertEquals(0, occurrences(full.targetIds(), builder.signalIds(Modality.VIDEO)));
            long[] expectedTurn = tokenizer.encode("Sure, here is a fox." + builder.signalString(Modality.IMAGE)
                    + "\n###");
            assertEquals(1, occurrences(full.targetIds(), expectedTurn), "the tag became the image signal tokens");
            assertEquals(1, occurrences(full.inputIds(),
                    tokenizer.encode("I love winter animals. Can you show me one?\n### Assistant: ")));

            // the legacy sample (cut after the first output) has exactly one contiguous image span
            LegacyBatchBuilder.Instance cut = builder.stage3(d.legacy().turns());
            LegacyBatchBuilder.Batch b = builder.collate(List.of(cut), false);
            int[] span = builder.signalSpan(b.wrappedTargets()[0], Modality.IMAGE);
            assertEquals(3, span[1] - span[0]);
            assertEquals(0, occurrences(cut.targetIds(), aud));

            LegacyBatchBuilder.Instance video = builder.stage3(ds.get(1).legacy().turns());
            int[] vspan = builder.signalSpan(builder.collate(List.of(video), false).wrappedTargets()[0],
                    Modality.VIDEO);
            assertEquals(23, vspan[1] - vspan[0]);
        } finally {
            tokenizer.close();
        }
    }

    private static int occurrences(long[] hay, long[] needle) {
        int n = 0;
        for (int i = 0; i + needle.length <= hay.length; i++) {
            if (Arrays.equals(Arrays.copyOfRange(hay, i, i + needle.length), needle)) {
                n++;
            }
        }
        return n;
    }
}
