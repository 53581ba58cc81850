package dev.nextgpt.train.data;

import dev.nextgpt.InvalidInputException;
import dev.nextgpt.train.data.LegacyBatchBuilder.Modality;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

class DatasetRecordsTest {
    static final Path SAMPLES = Path.of("src/test/resources/samples");

    @Test
    void readsTheThreeTxPairFormats() {
        var cc3m = DatasetRecords.readPairs(SAMPLES.resolve("cc3m/cc3m.first3.json"), Path.of("media"),
                SAMPLES.resolve("embed"), false);
        assertEquals(3, cc3m.records().size());
        var first = cc3m.records().get(0);
        assertEquals(Modality.IMAGE, first.modality());
        assertEquals("cricket player was named award category and runner - up behind person", first.caption());
        assertEquals(Path.of("media/001312382.jpg"), first.media());
        assertTrue(Files.isRegularFile(first.embedding()));
        var webvid = DatasetRecords.readPairs(SAMPLES.resolve("webvid/webvid.first3.json"), Path.of("v"), null, false);
        assertEquals(Modality.VIDEO, webvid.records().get(0).modality());
        assertEquals("12949985", webvid.records().get(0).id());
        assertTrue(webvid.records().get(2).caption().endsWith("\r\n"), "raw captions keep their CR LF");
        var audio = DatasetRecords.readPairs(SAMPLES.resolve("audiocap/audiocap.first3.json"), Path.of("a"), null, false);
        assertEquals(Modality.AUDIO, audio.records().get(0).modality());
    }

    @Test
    void readsAnInstructionRecordWithItsTargetEmbedding() {
        var r = DatasetRecords.readLegacyInstructions(
                SAMPLES.resolve("it/audio_instruction_tuning.DATA_README-example.json"), Path.of("m"),
                Path.of("emb"), false);
        assertEquals(1, r.records().size());
        var d = r.records().get(0);
        assertEquals(Modality.TEXT, d.inputModality());
        assertEquals(Modality.AUDIO, d.outputModality());
        assertEquals(Path.of("emb/34706.wav.npy"), d.embedding());
        assertEquals("A vehicle engine works at regular pace and a man speeches", d.outputCaption());
        assertEquals(2, d.turns().size());
    }

    @Test
    void malformedRecordsNameFileRecordAndField(@TempDir Path tmp) throws Exception {
        Path f = tmp.resolve("bad.json");
        Files.writeString(f, "[{\"caption\": \"ok\", \"image_name\": \"a.jpg\"}, {\"image_name\": \"b.jpg\"}, 3]");
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> DatasetRecords.readPairs(f, tmp, tmp, false));
        assertTrue(e.getMessage().contains("bad.json") && e.getMessage().contains("record 1")
                && e.getMessage().contains("'caption'"), e.getMessage());
        var skipped = DatasetRecords.readPairs(f, tmp, tmp, true);
        assertEquals(1, skipped.records().size());
        assertEquals(2, skipped.skipped());
    }

    @Test
    void npyEmbeddingsReadAndRoundTripAsFloat16(@TempDir Path tmp) {
        NpyArray img = NpyArray.read(SAMPLES.resolve("embed/001312382.jpg.npy"));
        assertArrayEquals(new long[] {77, 1024}, img.shape());
        NpyArray aud = NpyArray.read(SAMPLES.resolve("embed/106158.wav.npy"));
        assertArrayEquals(new long[] {512}, aud.shape());
        double norm = 0;
        for (float v : aud.data()) {
            norm += v * v;
        }
        assertEquals(1.0, Math.sqrt(norm), 2e-3, "CLAP embeddings are unit norm");
        Path out = tmp.resolve("x.npy");
        img.writeFloat16(out);
        NpyArray back = NpyArray.read(out);
        assertArrayEquals(img.shape(), back.shape());
        assertArrayEquals(img.data(), back.data(), 0f, "float16 values survive exactly");
    }

    @Test
    void blendedSamplerVisitsDatasetsRoundRobinWithSingleDatasetBatches() {
        BlendedBatchSampler s = new BlendedBatchSampler(List.of(4, 10, 6), 2, 1, 0, 13);
        List<int[]> epoch = s.epoch();
        assertEquals(15, epoch.size(), "largest 10 x 3 datasets / batch 2");
        for (int b = 0; b < epoch.size(); b++) {
            int d = s.datasetOf(epoch.get(b)[0]);
            assertEquals(b % 3, d, "round robin");
            assertEquals(d, s.datasetOf(epoch.get(b)[1]), "one dataset per batch");
        }
        Set<Integer> seen = new HashSet<>();
        for (int b = 1; b < 15; b += 3) {
            for (int i : epoch.get(b)) {
                seen.add(i);
            }
        }
        assertEquals(10, seen.size(), "the largest dataset is covered once per epoch");
        List<int[]> again = new BlendedBatchSampler(List.of(4, 10, 6), 2, 1, 0, 13).epoch();
        for (int b = 0; b < epoch.size(); b++) {
            assertArrayEquals(epoch.get(b), again.get(b), "same seed, same order");
        }
        BlendedBatchSampler r1 = new BlendedBatchSampler(List.of(4, 10, 6), 2, 2, 1, 13);
        assertEquals(1, r1.epoch().get(0).length);
        assertEquals(epoch.get(0)[1], r1.epoch().get(0)[0], "rank 1 takes the second half of the batch");
    }
}
