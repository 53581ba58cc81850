package dev.nextgpt.runtime.nextgpt;

import dev.nextgpt.ModelFormatException;

import java.util.ArrayList;
import java.util.List;

/**
 * Checks that the widths of the assembled parts agree before anything runs: encoder output = input projector input,
 * input projector output = LLM hidden, LLM hidden = output projector input, output projector output = decoder
 * conditioning width. All mismatches are reported together, each naming both sides and where each value came from.
 */
public final class DimsValidator {

    /** One required equality: {@code leftWhat} (= {@code left}) must equal {@code rightWhat} (= {@code right}). */
    public record Link(String leftWhat, long left, String rightWhat, long right) {
        public boolean ok() {
            return left == right;
        }

        @Override
        public String toString() {
            return leftWhat + " = " + left + (ok() ? " == " : " != ") + rightWhat + " = " + right;
        }
    }

    private final List<Link> links = new ArrayList<>();

    /** Adds a required equality; descriptions should name the tensor/config key the value came from. */
    public DimsValidator require(String leftWhat, long left, String rightWhat, long right) {
        links.add(new Link(leftWhat, left, rightWhat, right));
        return this;
    }

    /** Encoder → input projector → LLM. */
    public DimsValidator encoderSide(String encoderName, long encoderOut, String projectorName, long projectorIn,
                                     long projectorOut, String llmName, long llmHidden) {
        require(encoderName + " output width", encoderOut, projectorName + " input width", projectorIn);
        return require(projectorName + " output width", projectorOut, llmName + " hidden size", llmHidden);
    }

    /** LLM → output projector → decoder conditioning. */
    public DimsValidator decoderSide(String llmName, long llmHidden, String projectorName, long projectorIn,
                                     long projectorOut, String decoderName, long decoderConditionDim) {
        require(llmName + " hidden size", llmHidden, projectorName + " input width", projectorIn);
        return require(projectorName + " output width", projectorOut, decoderName + " conditioning width",
                decoderConditionDim);
    }

    public List<Link> links() {
        return List.copyOf(links);
    }

    public List<Link> mismatches() {
        return links.stream().filter(l -> !l.ok()).toList();
    }

    /** Throws a {@link ModelFormatException} listing every mismatch. */
    public void validate() {
        List<Link> bad = mismatches();
        if (!bad.isEmpty()) {
            StringBuilder sb = new StringBuilder("NExT-GPT parts do not fit together (" + bad.size()
                    + " width mismatch" + (bad.size() == 1 ? "" : "es") + "):");
            bad.forEach(l -> sb.append("\n  ").append(l));
            throw new ModelFormatException(sb.toString());
        }
    }
}
