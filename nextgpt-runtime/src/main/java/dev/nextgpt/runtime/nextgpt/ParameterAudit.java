package dev.nextgpt.runtime.nextgpt;

import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.io.TensorInfo;
import dev.nextgpt.runtime.io.TensorStore;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Compares the tensors a checkpoint holds (header metadata only) with the parameters each part of the model needs,
 * and lists every missing tensor and every shape mismatch. Building must fail on any of them, unless the caller
 * explicitly allows random initialisation of named parts (the released {@code 7b_tiva_v0} delta is known to lack some
 * projector weights). {@link #legacyDelta(LegacyDims)} gives the expectations of the legacy delta checkpoint
 * (reference §7.1).
 */
public final class ParameterAudit {

    /** One expected parameter of {@code part}; {@code shape} null accepts any shape. */
    public record Expected(String part, String name, long[] shape) {
    }

    public enum Kind { MISSING, SHAPE_MISMATCH }

    /** One problem found. */
    public record Finding(Kind kind, String part, String name, long[] expected, long[] actual) {
        @Override
        public String toString() {
            return switch (kind) {
                case MISSING -> "missing " + name + " " + Arrays.toString(expected) + " (part " + part + ")";
                case SHAPE_MISMATCH -> "shape of " + name + " is " + Arrays.toString(actual) + ", expected "
                        + Arrays.toString(expected) + " (part " + part + ")";
            };
        }
    }

    /** The audit result. */
    public record Report(String source, List<Finding> findings, int expectedCount, Set<String> unexpected) {

        public List<Finding> missing() {
            return findings.stream().filter(f -> f.kind() == Kind.MISSING).toList();
        }

        public List<Finding> shapeMismatches() {
            return findings.stream().filter(f -> f.kind() == Kind.SHAPE_MISMATCH).toList();
        }

        /** Parts with at least one missing tensor. */
        public Set<String> partsWithMissing() {
            Set<String> s = new LinkedHashSet<>();
            missing().forEach(f -> s.add(f.part()));
            return s;
        }

        public boolean complete() {
            return findings.isEmpty();
        }

        /**
         * Fails (naming each tensor) on any shape mismatch and on any missing tensor whose part is not in
         * {@code allowRandomInit}. Returns the parts that will be randomly initialised (possibly empty).
         */
        public Set<String> requireComplete(Set<String> allowRandomInit) {
            List<Finding> fatal = new ArrayList<>(shapeMismatches());
            for (Finding f : missing()) {
                if (!allowRandomInit.contains(f.part())) {
                    fatal.add(f);
                }
            }
            if (!fatal.isEmpty()) {
                StringBuilder sb = new StringBuilder(source + ": " + fatal.size() + " of " + expectedCount
                        + " expected parameters are missing or have the wrong shape");
                fatal.forEach(f -> sb.append("\n  ").append(f));
                Set<String> parts = new LinkedHashSet<>();
                fatal.stream().filter(f -> f.kind() == Kind.MISSING).forEach(f -> parts.add(f.part()));
                if (!parts.isEmpty()) {
                    sb.append("\n(to run anyway with randomly initialised weights, explicitly allow random init of parts ")
                            .append(parts).append(")");
                }
                throw new ModelFormatException(sb.toString());
            }
            Set<String> random = new LinkedHashSet<>(partsWithMissing());
            random.retainAll(allowRandomInit);
            return random;
        }
    }

    private final List<Expected> expected;

    public ParameterAudit(List<Expected> expected) {
        this.expected = List.copyOf(expected);
    }

    public List<Expected> expected() {
        return expected;
    }

    /** Audits a checkpoint's headers (no tensor data is read). */
    public Report audit(TensorStore store) {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        for (String n : store.names()) {
            TensorInfo i = store.info(n);
            shapes.put(n, i.shape());
        }
        return audit(String.valueOf(store.source()), shapes);
    }

    /** Audits a name → shape map. Names present but not expected are listed in {@link Report#unexpected()}. */
    public Report audit(String source, Map<String, long[]> available) {
        List<Finding> findings = new ArrayList<>();
        Set<String> expectedNames = new LinkedHashSet<>();
        for (Expected e : expected) {
            expectedNames.add(e.name());
            long[] actual = available.get(e.name());
            if (actual == null) {
                findings.add(new Finding(Kind.MISSING, e.part(), e.name(), e.shape(), null));
            } else if (e.shape() != null && !Arrays.equals(e.shape(), actual)) {
                findings.add(new Finding(Kind.SHAPE_MISMATCH, e.part(), e.name(), e.shape(), actual));
            }
        }
        Set<String> unexpected = new TreeSet<>(available.keySet());
        unexpected.removeAll(expectedNames);
        return new Report(source, List.copyOf(findings), expected.size(), unexpected);
    }

    /** Sizes of a legacy NExT-GPT model (real values in {@link #REAL_7B_TIVA_V0}). */
    public record LegacyDims(int llmHidden, int llmLayers, int vocab, int imagebindDim, int textFcWidth,
                             int imageOut, int videoOut, int audioOut, int imageQueries, int videoQueries,
                             int audioQueries, int textFcLayers, int loraRank, List<String> loraTargets) {
        public LegacyDims withLlm(int hidden, int layers, int vocabSize) {
            return new LegacyDims(hidden, layers, vocabSize, imagebindDim, textFcWidth, imageOut, videoOut, audioOut,
                    imageQueries, videoQueries, audioQueries, textFcLayers, loraRank, loraTargets);
        }
    }

    /** The released {@code 7b_tiva_v0}: hidden 4096, 32 layers, vocab 32038, ImageBind 1024, TextFc 512 wide. */
    public static final LegacyDims REAL_7B_TIVA_V0 = new LegacyDims(4096, 32, 32038, 1024, 512, 768, 1024, 512, 77,
            77, 1, 4, 32, List.of("q_proj", "k_proj", "v_proj", "o_proj"));

    /** Part names used by {@link #legacyDelta}. */
    public static final String PART_INPUT_PROJECTOR = "llama_proj";
    public static final String PART_IMAGE_OUTPUT_PROJECTOR = "gen_text_hidden_fcs";
    public static final String PART_VIDEO_OUTPUT_PROJECTOR = "gen_text_hidden_fcs_video";
    public static final String PART_AUDIO_OUTPUT_PROJECTOR = "gen_text_hidden_fcs_audio";
    public static final String PART_EMBEDDINGS = "embed_tokens";
    public static final String PART_LM_HEAD = "lm_head";
    public static final String PART_LORA = "lora";

    /** Expectations of the legacy stage-3 delta checkpoint ({@code pytorch_model.pt}), reference §7.1. */
    public static ParameterAudit legacyDelta(LegacyDims d) {
        List<Expected> e = new ArrayList<>();
        e.add(new Expected(PART_INPUT_PROJECTOR, "llama_proj.weight", new long[] {d.llmHidden(), d.imagebindDim()}));
        e.add(new Expected(PART_INPUT_PROJECTOR, "llama_proj.bias", new long[] {d.llmHidden()}));
        e.addAll(transformerProjector(PART_IMAGE_OUTPUT_PROJECTOR, "gen_text_hidden_fcs.0.",
                TransformerOutputProjector.Naming.LEGACY_TEXTFC, d.llmHidden(), d.textFcWidth(), d.imageOut(),
                d.imageQueries(), d.textFcLayers(), d.textFcLayers(), 4 * d.textFcWidth()));
        e.addAll(transformerProjector(PART_VIDEO_OUTPUT_PROJECTOR, "gen_text_hidden_fcs_video.0.",
                TransformerOutputProjector.Naming.LEGACY_TEXTFC, d.llmHidden(), d.textFcWidth(), d.videoOut(),
                d.videoQueries(), d.textFcLayers(), d.textFcLayers(), 4 * d.textFcWidth()));
        e.addAll(transformerProjector(PART_AUDIO_OUTPUT_PROJECTOR, "gen_text_hidden_fcs_audio.0.",
                TransformerOutputProjector.Naming.LEGACY_TEXTFC, d.llmHidden(), d.textFcWidth(), d.audioOut(),
                d.audioQueries(), d.textFcLayers(), d.textFcLayers(), 4 * d.textFcWidth()));
        String base = "llama_model.base_model.model.";
        e.add(new Expected(PART_EMBEDDINGS, base + "model.embed_tokens.weight", new long[] {d.vocab(), d.llmHidden()}));
        e.add(new Expected(PART_LM_HEAD, base + "lm_head.weight", new long[] {d.vocab(), d.llmHidden()}));
        for (int l = 0; l < d.llmLayers(); l++) {
            for (String t : d.loraTargets()) {
                String p = base + "model.layers." + l + ".self_attn." + t + ".";
                e.add(new Expected(PART_LORA, p + "lora_A.default.weight", new long[] {d.loraRank(), d.llmHidden()}));
                e.add(new Expected(PART_LORA, p + "lora_B.default.weight", new long[] {d.llmHidden(), d.loraRank()}));
            }
        }
        return new ParameterAudit(e);
    }

    /** The 129 (for 4+4 layers) tensors of one transformer output projector. */
    public static List<Expected> transformerProjector(String part, String prefix, TransformerOutputProjector.Naming naming,
                                                      long in, long width, long out, long queries, int encLayers,
                                                      int decLayers, long ff) {
        List<Expected> e = new ArrayList<>();
        e.add(new Expected(part, prefix + "query_embs", new long[] {1, queries, width}));
        linear(e, part, prefix + naming.inName(), width, in);
        for (int i = 0; i < encLayers; i++) {
            String p = prefix + "tfm.encoder.layers." + i + ".";
            mha(e, part, p + "self_attn", width);
            linear(e, part, p + "linear1", ff, width);
            linear(e, part, p + "linear2", width, ff);
            norm(e, part, p + "norm1", width);
            norm(e, part, p + "norm2", width);
        }
        norm(e, part, prefix + "tfm.encoder.norm", width);
        for (int i = 0; i < decLayers; i++) {
            String p = prefix + "tfm.decoder.layers." + i + ".";
            mha(e, part, p + "self_attn", width);
            mha(e, part, p + "multihead_attn", width);
            linear(e, part, p + "linear1", ff, width);
            linear(e, part, p + "linear2", width, ff);
            norm(e, part, p + "norm1", width);
            norm(e, part, p + "norm2", width);
            norm(e, part, p + "norm3", width);
        }
        norm(e, part, prefix + "tfm.decoder.norm", width);
        linear(e, part, prefix + naming.outName(), out, width);
        return e;
    }

    private static void linear(List<Expected> e, String part, String name, long out, long in) {
        e.add(new Expected(part, name + ".weight", new long[] {out, in}));
        e.add(new Expected(part, name + ".bias", new long[] {out}));
    }

    private static void norm(List<Expected> e, String part, String name, long dim) {
        e.add(new Expected(part, name + ".weight", new long[] {dim}));
        e.add(new Expected(part, name + ".bias", new long[] {dim}));
    }

    private static void mha(List<Expected> e, String part, String name, long width) {
        e.add(new Expected(part, name + ".in_proj_weight", new long[] {3 * width, width}));
        e.add(new Expected(part, name + ".in_proj_bias", new long[] {3 * width}));
        linear(e, part, name + ".out_proj", width, width);
    }
}
