package dev.nextgpt.runtime.llm;

import dev.nextgpt.InvalidInputException;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Settings of {@link LlamaGenerator}: greedy by default; {@link #sample(double, int, double, long)} switches to seeded
 * sampling. Mutable builder-style object; setters return {@code this}.
 */
public final class GenerationOptions {

    /** Receives decoded text deltas; never half a UTF-8 character. */
    @FunctionalInterface
    public interface TextStreamer {
        void onText(int row, String delta);
    }

    /**
     * Edits a row's next-token logits in place before sampling (after the repetition penalty, before temperature /
     * top-k / top-p). {@code sequence} is the row's ids so far (prompt ids, if any, then generated ids).
     */
    @FunctionalInterface
    public interface LogitsProcessor {
        void process(int row, long[] sequence, float[] logits);
    }

    int maxNewTokens = 32;
    boolean doSample;
    double temperature = 1.0;
    int topK;
    double topP = 1.0;
    double repetitionPenalty = 1.0;
    long seed;
    int[] eosTokenIds;
    int padTokenId = -1;
    final List<long[]> stopIdSequences = new ArrayList<>();
    final List<String> stopStrings = new ArrayList<>();
    LlamaTokenizer tokenizer;
    TextStreamer streamer;
    AtomicBoolean cancel;
    LogitsProcessor logitsProcessor;
    boolean collectHiddenStates;
    boolean collectLogits;

    public GenerationOptions maxNewTokens(int n) {
        if (n < 1) {
            throw new InvalidInputException("max_new_tokens must be >= 1, got " + n);
        }
        this.maxNewTokens = n;
        return this;
    }

    /** Greedy decoding (argmax), the default. */
    public GenerationOptions greedy() {
        this.doSample = false;
        return this;
    }

    /**
     * Multinomial sampling after temperature, top-k ({@code 0} = off) and top-p ({@code 1} = off), with a Java
     * {@link java.util.SplittableRandom} seeded by {@code seed}: the same seed gives the same tokens on any platform.
     */
    public GenerationOptions sample(double temperature, int topK, double topP, long seed) {
        if (!(temperature > 0)) {
            throw new InvalidInputException("temperature must be > 0, got " + temperature);
        }
        if (topK < 0) {
            throw new InvalidInputException("top_k must be >= 0, got " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new InvalidInputException("top_p must be in (0, 1], got " + topP);
        }
        this.doSample = true;
        this.temperature = temperature;
        this.topK = topK;
        this.topP = topP;
        this.seed = seed;
        return this;
    }

    /** HF repetition penalty ({@code 1} = off): seen tokens' positive scores are divided, negative multiplied. */
    public GenerationOptions repetitionPenalty(double penalty) {
        if (!(penalty > 0)) {
            throw new InvalidInputException("repetition_penalty must be > 0, got " + penalty);
        }
        this.repetitionPenalty = penalty;
        return this;
    }

    /** End-of-sequence ids (default: the model config's). */
    public GenerationOptions eosTokenIds(int... ids) {
        this.eosTokenIds = ids.clone();
        return this;
    }

    /** Id written into finished rows (default: the config's pad id, else the first eos id). */
    public GenerationOptions padTokenId(int id) {
        this.padTokenId = id;
        return this;
    }

    /** Stop when a row's ids end with {@code ids} (e.g. {@code [835]} for Vicuna-v0 "###"). */
    public GenerationOptions stopIds(long... ids) {
        if (ids.length == 0) {
            throw new InvalidInputException("an empty stop id sequence");
        }
        stopIdSequences.add(ids.clone());
        return this;
    }

    /** Stop when a row's generated text contains {@code text} (needs {@link #tokenizer}). */
    public GenerationOptions stopString(String text) {
        if (text.isEmpty()) {
            throw new InvalidInputException("an empty stop string");
        }
        stopStrings.add(text);
        return this;
    }

    /** Tokenizer used for stop strings and streaming. */
    public GenerationOptions tokenizer(LlamaTokenizer tokenizer) {
        this.tokenizer = tokenizer;
        return this;
    }

    /** Streams decoded text deltas of the generated tokens (needs {@link #tokenizer}). */
    public GenerationOptions streamer(TextStreamer streamer) {
        this.streamer = streamer;
        return this;
    }

    /** Generation stops (finish reason CANCELLED) once this flag is set; checked before every step. */
    public GenerationOptions cancelFlag(AtomicBoolean flag) {
        this.cancel = flag;
        return this;
    }

    public GenerationOptions logitsProcessor(LogitsProcessor processor) {
        this.logitsProcessor = processor;
        return this;
    }

    /** Collect the last-layer post-norm hidden state computed while feeding each generated token. */
    public GenerationOptions collectHiddenStates(boolean on) {
        this.collectHiddenStates = on;
        return this;
    }

    /** Keep each step's raw next-token logits (HF {@code output_logits}). */
    public GenerationOptions collectLogits(boolean on) {
        this.collectLogits = on;
        return this;
    }
}
