package dev.nextgpt.runtime.nextgpt.current;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.runtime.nextgpt.EmbeddingLookup;
import dev.nextgpt.runtime.nextgpt.Modality;
import dev.nextgpt.runtime.nextgpt.current.CurrentSplice.PaddingSide;
import dev.nextgpt.runtime.nextgpt.current.CurrentSplice.Placement;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Hand-checked splices: embedding row i is the constant vector i, feature f of modality m is the constant 1000·(m+1)+f. */
class CurrentSpliceTest {
    static final int H = 3;

    private static EmbeddingLookup table(NDManager m) {
        float[] t = new float[20 * H];
        for (int i = 0; i < 20; i++) {
            for (int d = 0; d < H; d++) {
                t[i * H + d] = i;
            }
        }
        return EmbeddingLookup.ofTable(m.create(t, new Shape(20, H)));
    }

    private static NDArray feature(NDManager m, Modality mod, int index, int n) {
        return m.full(new Shape(n, H), 1000f * (mod.ordinal() + 1) + index);
    }

    /** First column of every row of sample s. */
    private static float[] column(NDArray embeds, int s) {
        return embeds.get(s + ", :, 0").toFloatArray();
    }

    @Test
    void mixedBatchInsertsNextFeatureInBatchOrder() {
        try (NDManager m = NDManager.newBaseManager()) {
            long[][] ids = {
                    {1, 5, -200, 6, -400, 7},
                    {1, -200, 8, 9, 0, 0},
                    {1, 10, 11, 12, 13, 14}};
            long[][] mask = {{1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 0, 0}, {1, 1, 1, 1, 1, 1}};
            long[][] labels = {{-100, -100, -100, 6, -100, 7}, {-100, -100, 8, 9, -100, -100}, {1, 10, 11, 12, 13, 14}};
            Map<Modality, List<NDArray>> feats = Map.of(
                    Modality.IMAGE, List.of(feature(m, Modality.IMAGE, 0, 2), feature(m, Modality.IMAGE, 1, 2)),
                    Modality.AUDIO, List.of(feature(m, Modality.AUDIO, 0, 3)));
            CurrentSplice.Result r = CurrentSplice.splice(ids, mask, labels, feats, table(m), 0, PaddingSide.RIGHT, m);
            // sample 0: 1 5 [I0 I0] 6 [A0 A0 A0] 7 = 9 rows; sample 1: 1 [I1 I1] 8 9 = 5; sample 2: 6
            assertEquals(new Shape(3, 9, H), r.inputsEmbeds().getShape());
            assertArrayEquals(new int[] {9, 5, 6}, r.lengths());
            assertArrayEquals(new float[] {1, 5, 1000, 1000, 6, 3000, 3000, 3000, 7}, column(r.inputsEmbeds(), 0));
            assertArrayEquals(new float[] {1, 1001, 1001, 8, 9, 0, 0, 0, 0}, column(r.inputsEmbeds(), 1));
            assertArrayEquals(new float[] {1, 10, 11, 12, 13, 14, 0, 0, 0}, column(r.inputsEmbeds(), 2));
            assertArrayEquals(new long[] {-100, -100, -100, -100, 6, -100, -100, -100, 7}, r.labels()[0]);
            assertArrayEquals(new long[] {-100, -100, -100, 8, 9, -100, -100, -100, -100}, r.labels()[1]);
            assertArrayEquals(new long[] {1, 1, 1, 1, 1, 0, 0, 0, 0}, r.attentionMask()[1]);
            assertArrayEquals(new long[] {0, 1, 2, 3, 4, 0, 0, 0, 0}, r.positionIds()[1]);
            assertArrayEquals(new long[] {0, 1, 2, 3, 4, 5, 6, 7, 8}, r.positionIds()[0]);
            assertEquals(List.of(new Placement(0, Modality.IMAGE, 0, 2, 2), new Placement(0, Modality.AUDIO, 0, 5, 3),
                    new Placement(1, Modality.IMAGE, 1, 1, 2)), r.placements());
            assertEquals(2, r.featuresUsed().get(Modality.IMAGE));
        }
    }

    @Test
    void truncationAndLeftPadding() {
        try (NDManager m = NDManager.newBaseManager()) {
            long[][] ids = {{1, -300, 1, 4}, {1, 2, 3, 4}};
            Map<Modality, List<NDArray>> feats = Map.of(Modality.VIDEO, List.of(feature(m, Modality.VIDEO, 0, 4)));
            CurrentSplice.Result r = CurrentSplice.splice(ids, null, null, feats, table(m), 5, PaddingSide.LEFT, m);
            // sample 0: 1 V V V V 1 4 -> truncated to 5: 1 V V V V ; sample 1: 1 2 3 4 -> left-padded by 1
            assertEquals(new Shape(2, 5, H), r.inputsEmbeds().getShape());
            assertArrayEquals(new float[] {1, 2000, 2000, 2000, 2000}, column(r.inputsEmbeds(), 0));
            assertArrayEquals(new float[] {0, 1, 2, 3, 4}, column(r.inputsEmbeds(), 1));
            assertArrayEquals(new long[] {0, 1, 1, 1, 1}, r.attentionMask()[1]);
            assertArrayEquals(new long[] {0, 0, 1, 2, 3}, r.positionIds()[1]);
            assertEquals(null, r.labels());
            assertEquals(List.of(new Placement(0, Modality.VIDEO, 0, 1, 4)), r.placements());
            // the feature itself cut by truncation
            CurrentSplice.Result cut = CurrentSplice.splice(new long[][] {{1, -300, 7}}, null, null, feats, table(m), 3,
                    PaddingSide.RIGHT, m);
            assertEquals(List.of(new Placement(0, Modality.VIDEO, 0, 1, 2)), cut.placements());
            assertArrayEquals(new float[] {1, 2000, 2000}, column(cut.inputsEmbeds(), 0));
        }
    }

    @Test
    void missingFeatureOrBadShapeIsAClearError() {
        try (NDManager m = NDManager.newBaseManager()) {
            long[][] ids = {{1, -200, -200}};
            Map<Modality, List<NDArray>> one = Map.of(Modality.IMAGE, List.of(feature(m, Modality.IMAGE, 0, 1)));
            InvalidInputException e = assertThrows(InvalidInputException.class,
                    () -> CurrentSplice.splice(ids, null, null, one, table(m), 0, PaddingSide.RIGHT, m));
            assertEquals(true, e.getMessage().contains("only 1 IMAGE feature"), e.getMessage());
            Map<Modality, List<NDArray>> wide = Map.of(Modality.IMAGE, List.of(m.zeros(new Shape(2, H + 1))));
            assertThrows(InvalidInputException.class, () -> CurrentSplice.splice(new long[][] {{1, -200}}, null, null,
                    wide, table(m), 0, PaddingSide.RIGHT, m));
            assertThrows(InvalidInputException.class, () -> CurrentSplice.splice(new long[][] {{1, -7}}, null, null,
                    Map.of(), table(m), 0, PaddingSide.RIGHT, m));
        }
    }
}
