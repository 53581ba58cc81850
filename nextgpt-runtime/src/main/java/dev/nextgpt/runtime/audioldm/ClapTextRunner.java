package dev.nextgpt.runtime.audioldm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.runtime.component.ComponentRequest;
import dev.nextgpt.runtime.component.ComponentRunner;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Component kind {@code clap-text}: AudioLDM's CLAP text encoder. Model: a {@code text_encoder/} folder or an
 * AudioLDM pipeline root. Inputs {@code input_ids} [B, L] and optional {@code attention_mask}; or, with no
 * {@code input_ids}, option {@code prompt=TEXT} tokenised with the pipeline's {@code tokenizer/} to
 * {@code model_max_length}. Outputs {@code prompt_embeds} (projected, L2-normalised), {@code last_hidden_state},
 * {@code text_embeds}, {@code pooler_output} (and {@code input_ids}/{@code attention_mask} when tokenised here).
 */
public final class ClapTextRunner implements ComponentRunner {

    @Override
    public String kind() {
        return "clap-text";
    }

    @Override
    public String description() {
        return "AudioLDM CLAP text encoder: input_ids [B,L] (+attention_mask) or --option prompt=TEXT -> "
                + "prompt_embeds [B,P] (L2-normalised text_embeds), last_hidden_state, text_embeds, pooler_output";
    }

    @Override
    public Map<String, NDArray> run(ComponentRequest request, NDManager manager) {
        Map<String, NDArray> out = new LinkedHashMap<>();
        NDArray ids;
        NDArray mask;
        if (request.optionalInput("input_ids").isPresent()) {
            ids = request.input("input_ids");
            mask = request.optionalInput("attention_mask").orElse(null);
        } else {
            String prompt = request.option("prompt").orElseThrow(() -> new InvalidInputException(
                    "clap-text needs input tensor 'input_ids' or option prompt=TEXT; inputs hold "
                            + request.inputs().keySet()));
            RobertaBpeTokenizer tok = RobertaBpeTokenizer.fromFolder(tokenizerFolder(request.model()));
            RobertaBpeTokenizer.Encoding enc = tok.encodeBatch(List.of(prompt),
                    request.intOption("max_length", tok.modelMaxLength()));
            ids = manager.create(enc.inputIds());
            mask = manager.create(enc.attentionMask());
            out.put("input_ids", ids);
            out.put("attention_mask", mask);
        }
        try (ClapTextModel model = ClapTextModel.load(request.model(), manager)) {
            if (!model.hasProjection()) {
                throw new InvalidInputException(request.model() + " holds no text_projection weights, so "
                        + "prompt_embeds cannot be computed");
            }
            ClapTextModel.Output o = model.forward(ids, mask);
            put(out, "prompt_embeds", o.promptEmbeds(), manager);
            put(out, "last_hidden_state", o.lastHiddenState(), manager);
            put(out, "text_embeds", o.textEmbeds(), manager);
            put(out, "pooler_output", o.poolerOutput(), manager);
        }
        return out;
    }

    private static void put(Map<String, NDArray> out, String name, NDArray a, NDManager manager) {
        a.attach(manager);
        out.put(name, a);
    }

    private static Path tokenizerFolder(Path model) {
        for (Path p : new Path[] {model.resolve("tokenizer"), model.resolveSibling("tokenizer"), model}) {
            if (Files.isRegularFile(p.resolve("vocab.json"))) {
                return p;
            }
        }
        throw new InvalidInputException("no tokenizer folder (vocab.json + merges.txt) found at " + model
                + "/tokenizer or next to it; pass input_ids instead");
    }
}
