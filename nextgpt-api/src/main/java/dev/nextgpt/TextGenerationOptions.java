package dev.nextgpt;

import java.util.List;

/**
 * How the language model generates text. Defaults follow the legacy demo ({@code demo_app.py}): 246 new tokens,
 * temperature 1.0 and top-p 0.01 with sampling, which is near-greedy in practice (only the most likely tokens whose
 * cumulative probability reaches 1% survive, almost always just the top token). The legacy {@code inference.py}
 * used 150 / 0.4 / 1.0 instead; the current code is effectively greedy (top-k 1).
 *
 * @param maxNewTokens      tokens to generate at most, in [1, 65536]; default 246
 * @param temperature       softmax temperature, in (0, 100]; default 1.0 (ignored when greedy)
 * @param topP              nucleus sampling mass, in (0, 1]; default 0.01 (1.0 = off)
 * @param topK              keep only the k most likely tokens, in [0, 1000000]; default 0 = off
 * @param repetitionPenalty CTRL-style penalty, in (0, 100]; default 1.0 = off
 * @param seed              sampling seed, or null for a random one
 * @param stopStrings       generation stops before any of these strings (non-empty); default none
 * @param greedy            take the arg-max token instead of sampling; default false
 */
public record TextGenerationOptions(int maxNewTokens, double temperature, double topP, int topK,
        double repetitionPenalty, Long seed, List<String> stopStrings, boolean greedy) {

    private static final TextGenerationOptions DEFAULTS =
            new TextGenerationOptions(246, 1.0, 0.01, 0, 1.0, null, List.of(), false);

    /** Validates every field; the message names the field and the value. */
    public TextGenerationOptions {
        Checks.intRange("TextGenerationOptions.maxNewTokens", maxNewTokens, 1, 65536);
        Checks.doubleRange("TextGenerationOptions.temperature", temperature, 0, true, 100);
        Checks.doubleRange("TextGenerationOptions.topP", topP, 0, true, 1);
        Checks.intRange("TextGenerationOptions.topK", topK, 0, 1_000_000);
        Checks.doubleRange("TextGenerationOptions.repetitionPenalty", repetitionPenalty, 0, true, 100);
        Checks.notNull("TextGenerationOptions.stopStrings", stopStrings);
        for (String s : stopStrings) {
            if (s == null || s.isEmpty()) {
                throw new InvalidInputException("TextGenerationOptions.stopStrings must not contain null or empty "
                        + "strings, got " + stopStrings);
            }
        }
        stopStrings = List.copyOf(stopStrings);
    }

    /** The legacy-demo defaults described above. */
    public static TextGenerationOptions defaults() {
        return DEFAULTS;
    }

    /** Copy with {@code maxNewTokens} replaced. */
    public TextGenerationOptions withMaxNewTokens(int v) {
        return new TextGenerationOptions(v, temperature, topP, topK, repetitionPenalty, seed, stopStrings, greedy);
    }

    /** Copy with {@code temperature} replaced. */
    public TextGenerationOptions withTemperature(double v) {
        return new TextGenerationOptions(maxNewTokens, v, topP, topK, repetitionPenalty, seed, stopStrings, greedy);
    }

    /** Copy with {@code topP} replaced. */
    public TextGenerationOptions withTopP(double v) {
        return new TextGenerationOptions(maxNewTokens, temperature, v, topK, repetitionPenalty, seed, stopStrings,
                greedy);
    }

    /** Copy with {@code topK} replaced. */
    public TextGenerationOptions withTopK(int v) {
        return new TextGenerationOptions(maxNewTokens, temperature, topP, v, repetitionPenalty, seed, stopStrings,
                greedy);
    }

    /** Copy with {@code repetitionPenalty} replaced. */
    public TextGenerationOptions withRepetitionPenalty(double v) {
        return new TextGenerationOptions(maxNewTokens, temperature, topP, topK, v, seed, stopStrings, greedy);
    }

    /** Copy with {@code seed} replaced (null = random). */
    public TextGenerationOptions withSeed(Long v) {
        return new TextGenerationOptions(maxNewTokens, temperature, topP, topK, repetitionPenalty, v, stopStrings,
                greedy);
    }

    /** Copy with {@code stopStrings} replaced. */
    public TextGenerationOptions withStopStrings(List<String> v) {
        return new TextGenerationOptions(maxNewTokens, temperature, topP, topK, repetitionPenalty, seed, v, greedy);
    }

    /** Copy with {@code stopStrings} replaced. */
    public TextGenerationOptions withStopStrings(String... v) {
        return withStopStrings(List.of(v));
    }

    /** Copy with {@code greedy} replaced. */
    public TextGenerationOptions withGreedy(boolean v) {
        return new TextGenerationOptions(maxNewTokens, temperature, topP, topK, repetitionPenalty, seed, stopStrings,
                v);
    }
}
