package dev.nextgpt.runtime.nextgpt;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

/** Rows of the LLM input embedding table ({@code embed_tokens}); implemented by the LLM. */
public interface EmbeddingLookup {

    /** {@code [ids.length, hidden]} rows, created in {@code manager}. */
    NDArray rows(NDManager manager, long[] ids);

    int hiddenSize();

    /** A lookup over an in-memory {@code [vocab, hidden]} table (ids are checked). */
    static EmbeddingLookup ofTable(NDArray table) {
        long vocab = table.getShape().get(0);
        int hidden = Math.toIntExact(table.getShape().get(1));
        return new EmbeddingLookup() {
            @Override
            public NDArray rows(NDManager manager, long[] ids) {
                for (long id : ids) {
                    if (id < 0 || id >= vocab) {
                        throw new dev.nextgpt.InvalidInputException("token id " + id + " is outside the embedding "
                                + "table of " + vocab + " rows");
                    }
                }
                NDArray idx = manager.create(ids);
                NDArray r = table.get(idx);
                r.attach(manager);
                return r;
            }

            @Override
            public int hiddenSize() {
                return hidden;
            }
        };
    }
}
