package dev.nextgpt.runtime.nextgpt;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.runtime.component.ComponentRequest;
import dev.nextgpt.runtime.component.ComponentRunner;
import dev.nextgpt.runtime.io.Checkpoints;
import dev.nextgpt.runtime.io.TensorStore;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Component runner {@code projector}: one NExT-GPT input or output projector loaded from a checkpoint by key prefix.
 * <pre>
 *   nextgpt component projector --model W.safetensors --option prefix=model.mm_output_img_projector.
 *       --option type=transformer --inputs IN.safetensors --output OUT.safetensors
 * </pre>
 * Types: {@code legacy-textfc}, {@code transformer} (output projectors; inputs {@code x}, {@code input_embs});
 * {@code linear}, {@code mlp}, {@code group}, {@code identity} (input projectors; input {@code x}). Without
 * {@code type} it is detected from the keys. Option {@code heads} overrides the head count (4 for the transformer,
 * 8 for the group projector). Output {@code output} plus the intermediates named as in the golden fixtures.
 */
public final class ProjectorRunner implements ComponentRunner {

    @Override
    public String kind() {
        return "projector";
    }

    @Override
    public String description() {
        return "NExT-GPT projector; options prefix=<key prefix>, type=legacy-textfc|transformer|linear|mlp|group|"
                + "identity, heads=N; inputs x (+ input_embs for output projectors) -> output (+ after_in_fc, "
                + "encoder_memory, decoder_output | after_layer{i}, layer{i}_assign_group_index, "
                + "layer{i}_assign_min_margin)";
    }

    @Override
    public Map<String, NDArray> run(ComponentRequest request, NDManager manager) {
        String prefix = request.option("prefix", "");
        String type = request.option("type").map(t -> t.toLowerCase(Locale.ROOT)).orElse(null);
        Map<String, NDArray> out = new LinkedHashMap<>();
        if ("identity".equals(type)) {
            out.put("output", request.input("x").duplicate());
            return out;
        }
        if (request.model() == null) {
            throw new InvalidInputException("projector: --model <checkpoint> is required for type " + type);
        }
        try (TensorStore store = Checkpoints.open(request.model())) {
            if (type == null) {
                type = detect(store, prefix);
            }
            switch (type) {
                case "legacy-textfc", "textfc", "transformer" -> {
                    TransformerOutputProjector.Naming naming = type.equals("transformer")
                            ? TransformerOutputProjector.Naming.CURRENT
                            : TransformerOutputProjector.Naming.LEGACY_TEXTFC;
                    int heads = request.intOption("heads", TransformerOutputProjector.DEFAULT_HEADS);
                    try (TransformerOutputProjector p = TransformerOutputProjector.load(store, prefix, naming, heads,
                            manager)) {
                        TransformerOutputProjector.Result r = p.forwardDetailed(request.input("x"),
                                request.input("input_embs"));
                        out.put("output", r.output());
                        out.put("after_in_fc", r.afterInFc());
                        out.put("encoder_memory", r.encoderMemory());
                        out.put("decoder_output", r.decoderOutput());
                    }
                }
                case "group" -> {
                    int heads = request.intOption("heads", GroupProjector.DEFAULT_HEADS);
                    try (GroupProjector p = GroupProjector.load(store, prefix, heads, manager)) {
                        GroupProjector.Result r = p.forwardDetailed(request.input("x"));
                        out.put("output", r.output());
                        out.put("after_in_fc", r.afterInFc());
                        for (int i = 0; i < r.afterLayer().size(); i++) {
                            if (i < r.assignments().size()) {
                                GroupProjector.Assignment a = r.assignments().get(i);
                                out.put("layer" + i + "_assign_group_index", a.groupIndex());
                                out.put("layer" + i + "_assign_min_margin",
                                        manager.create(new float[] {a.minMargin()}));
                            }
                            out.put("after_layer" + i, r.afterLayer().get(i));
                        }
                    }
                }
                case "linear", "mlp", "llama_proj" -> {
                    try (InputProjector p = InputProjectors.load(store, prefix, type, manager)) {
                        out.put("output", p.forward(request.input("x")));
                    }
                }
                default -> throw new InvalidInputException("projector: unknown type '" + type
                        + "'; use legacy-textfc, transformer, linear, mlp, group or identity");
            }
        }
        return out;
    }

    private static String detect(TensorStore store, String prefix) {
        PrefixedWeights w = new PrefixedWeights(store, prefix, null);
        if (w.hasAny("tfm.") || w.has("model.weight")) {
            return TransformerOutputProjector.detectNaming(store, prefix) == TransformerOutputProjector.Naming.CURRENT
                    ? "transformer" : "legacy-textfc";
        }
        return InputProjectors.detectType(store, prefix);
    }
}
