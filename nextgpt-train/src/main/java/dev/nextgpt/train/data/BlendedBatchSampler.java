package dev.nextgpt.train.data;

import dev.nextgpt.InvalidInputException;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * The legacy modality-blended batch sampler ({@code DistributedMultiDatasetBatchSampler}): every batch comes from
 * one dataset; datasets are visited round-robin; each has its own shuffled order cut into full batches (drop last)
 * and is reshuffled when exhausted; one epoch is {@code largest × n} samples. Indices are global (offset by each
 * dataset's start in the concatenation). Rank slicing gives each of {@code worldSize} workers its part of a batch.
 */
public final class BlendedBatchSampler {
    private final int[] sizes;
    private final int[] offsets;
    private final int batchSize;
    private final int worldSize;
    private final int rank;
    private final Random random;

    public BlendedBatchSampler(List<Integer> datasetSizes, int batchSize, int worldSize, int rank, long seed) {
        if (datasetSizes.isEmpty() || batchSize <= 0 || worldSize <= 0 || rank < 0 || rank >= worldSize
                || batchSize % worldSize != 0) {
            throw new InvalidInputException("invalid sampler setup: sizes " + datasetSizes + ", batch " + batchSize
                    + ", world " + worldSize + ", rank " + rank);
        }
        this.sizes = datasetSizes.stream().mapToInt(Integer::intValue).toArray();
        this.offsets = new int[sizes.length];
        for (int i = 1; i < sizes.length; i++) {
            offsets[i] = offsets[i - 1] + sizes[i - 1];
        }
        for (int i = 0; i < sizes.length; i++) {
            if (sizes[i] < batchSize) {
                throw new InvalidInputException("dataset " + i + " has " + sizes[i] + " samples, fewer than one batch of "
                        + batchSize);
            }
        }
        this.batchSize = batchSize;
        this.worldSize = worldSize;
        this.rank = rank;
        this.random = new Random(seed);
    }

    /** Number of batches in one epoch. */
    public int batchesPerEpoch() {
        int largest = 0;
        for (int s : sizes) {
            largest = Math.max(largest, s);
        }
        return largest * sizes.length / batchSize;
    }

    /** The batches (global indices, this rank's slice) of one epoch, in order. */
    public List<int[]> epoch() {
        List<List<int[]>> perDataset = new ArrayList<>();
        int[] cursor = new int[sizes.length];
        for (int d = 0; d < sizes.length; d++) {
            perDataset.add(shuffledBatches(d));
        }
        List<int[]> out = new ArrayList<>();
        int total = batchesPerEpoch();
        int per = batchSize / worldSize;
        for (int b = 0; b < total; b++) {
            int d = b % sizes.length;
            if (cursor[d] >= perDataset.get(d).size()) {
                perDataset.set(d, shuffledBatches(d));
                cursor[d] = 0;
            }
            int[] full = perDataset.get(d).get(cursor[d]++);
            int[] mine = new int[per];
            System.arraycopy(full, rank * per, mine, 0, per);
            out.add(mine);
        }
        return out;
    }

    /** The dataset a global index belongs to. */
    public int datasetOf(int globalIndex) {
        for (int d = sizes.length - 1; d >= 0; d--) {
            if (globalIndex >= offsets[d]) {
                return d;
            }
        }
        throw new InvalidInputException("index " + globalIndex + " is negative");
    }

    private List<int[]> shuffledBatches(int d) {
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < sizes[d]; i++) {
            order.add(i);
        }
        Collections.shuffle(order, random);
        List<int[]> batches = new ArrayList<>();
        for (int start = 0; start + batchSize <= order.size(); start += batchSize) {
            int[] batch = new int[batchSize];
            for (int j = 0; j < batchSize; j++) {
                batch[j] = order.get(start + j) + offsets[d];
            }
            batches.add(batch);
        }
        return batches;
    }
}
