package dev.nextgpt.train.trainer;

import dev.nextgpt.InvalidInputException;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.runtime.io.Checkpoints;
import dev.nextgpt.runtime.io.SafetensorsWriter;
import dev.nextgpt.runtime.io.TensorInfo;
import dev.nextgpt.runtime.io.TensorStore;
import dev.nextgpt.runtime.nextgpt.LegacySystemLayout;
import dev.nextgpt.train.model.LegacyTrainingModel;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Bridges training checkpoints and the inference layout of a legacy NExT-GPT system
 * ({@code ckpt/delta_ckpt/nextgpt/7b_tiva_v0/pytorch_model.*} next to Vicuna):
 * <ul>
 *   <li>{@link #trainingWeights}: one stage-1/2 training weights file ({@code llama_model.*} LLaMA with the delta's
 *       resized embedding and LM head, {@code llama_proj.*}, the projectors) from a system, so training can start
 *       from (or continue) a released system;</li>
 *   <li>{@link #writeDelta}: a delta whose tensors are the base delta's with every tensor of a
 *       {@code trainable.safetensors} checkpoint put in its place (stage-1/2 and peft names are matched to the
 *       delta's convention), which {@code LegacyNextGpt.load} reads when it is the delta folder's
 *       {@code pytorch_model.safetensors} (and no {@code pytorch_model.pt} is beside it).</li>
 * </ul>
 */
public final class LegacyDeltaExport {
    private LegacyDeltaExport() {
    }

    /** What {@link #writeDelta} did: tensors replaced from the checkpoint and tensors kept from the base. */
    public record Report(List<String> replaced, int kept, Path target) {
    }

    /**
     * Writes {@code target}: Vicuna's tensors as {@code llama_model.<name>} except {@code embed_tokens} /
     * {@code lm_head}, which come from the delta (resized rows), plus every non-LoRA delta tensor, LLaMA names in the
     * stage-1/2 convention ({@code llama_model.model.…}).
     */
    public static Path trainingWeights(Path systemRoot, Path target) {
        LegacySystemLayout layout = LegacySystemLayout.inspect(systemRoot);
        Path vicuna = layout.path(LegacySystemLayout.LLM_FOLDER).orElseThrow(() -> new ModelFormatException(
                systemRoot + " has no Vicuna folder"));
        try (TensorStore delta = layout.openDelta(); TensorStore llm = Checkpoints.open(vicuna)) {
            Map<String, String[]> plan = new LinkedHashMap<>(); // output name -> (store, source name)
            for (String n : llm.names()) {
                if (!n.endsWith("rotary_emb.inv_freq")) {
                    plan.put("llama_model." + n, new String[] {"llm", n});
                }
            }
            for (String n : delta.names()) {
                if (!n.contains(".lora_")) {
                    plan.put(LegacyTrainingModel.renameForStage(n, 1), new String[] {"delta", n});
                }
            }
            SafetensorsWriter w = new SafetensorsWriter();
            plan.forEach((out, src) -> {
                TensorStore s = src[0].equals("llm") ? llm : delta;
                TensorInfo info = s.info(src[1]);
                w.add(new TensorInfo(out, info.dtype(), info.shape()), () -> s.rawBytes(src[1]));
            });
            w.write(target);
            return target;
        }
    }

    /**
     * Writes {@code target} (safetensors): the tensors of {@code baseDelta} (a delta file or folder, any readable
     * format) with every tensor of {@code trainable} put in its place. A checkpoint name is matched as is, or
     * renamed between the stage-1/2 ({@code llama_model.model.…}) and peft ({@code llama_model.base_model.model.…})
     * conventions to the one the delta uses. A checkpoint tensor the delta lacks, or whose shape differs, is an
     * error.
     */
    public static Report writeDelta(Path baseDelta, Path trainable, Path target) {
        if (baseDelta.toAbsolutePath().normalize().equals(target.toAbsolutePath().normalize())) {
            throw new InvalidInputException("the new delta " + target + " must not overwrite its base " + baseDelta);
        }
        try (TensorStore base = Checkpoints.open(baseDelta); TensorStore ckpt = Checkpoints.open(trainable)) {
            Map<String, String> replacement = new LinkedHashMap<>(); // delta name -> checkpoint name
            for (String n : ckpt.names()) {
                String d = deltaName(base, n);
                if (d == null) {
                    throw new ModelFormatException(trainable + ": tensor '" + n + "' has no counterpart in the delta "
                            + baseDelta + " (tried '" + LegacyTrainingModel.renameForStage(n, 1) + "' and '"
                            + LegacyTrainingModel.renameForStage(n, 3) + "')");
                }
                long[] want = base.info(d).shape();
                long[] got = ckpt.info(n).shape();
                if (!Arrays.equals(want, got)) {
                    throw new ModelFormatException(trainable + ": tensor '" + n + "' has shape " + Arrays.toString(got)
                            + " but the delta's '" + d + "' is " + Arrays.toString(want));
                }
                replacement.put(d, n);
            }
            SafetensorsWriter w = new SafetensorsWriter();
            List<String> replaced = new ArrayList<>();
            int kept = 0;
            for (String n : base.names()) {
                String from = replacement.get(n);
                if (from != null) {
                    w.addFloats(n, ckpt.info(from).shape(), ckpt.readFloats(from));
                    replaced.add(n);
                } else {
                    TensorInfo info = base.info(n);
                    w.add(info, () -> base.rawBytes(n));
                    kept++;
                }
            }
            w.write(target);
            return new Report(replaced, kept, target);
        }
    }

    private static String deltaName(TensorStore base, String name) {
        for (String c : new String[] {name, LegacyTrainingModel.renameForStage(name, 1),
                LegacyTrainingModel.renameForStage(name, 3)}) {
            if (base.contains(c)) {
                return c;
            }
        }
        return null;
    }
}
