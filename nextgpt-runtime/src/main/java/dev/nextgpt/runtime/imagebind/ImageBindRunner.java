package dev.nextgpt.runtime.imagebind;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.runtime.component.ComponentRequest;
import dev.nextgpt.runtime.component.ComponentRunner;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Component runner {@code imagebind}: one input tensor named after its modality ({@code vision}, {@code audio},
 * {@code text}, {@code depth}, {@code thermal} or {@code imu}) → {@code imagebind.embedding},
 * {@code imagebind.embedding_per_clip} (multi-clip inputs), {@code nextgpt.embedding},
 * {@code nextgpt_legacy.embedding}, {@code head.output}, {@code trunk.output_cls} (text: {@code trunk.output} and
 * {@code seq_len}). Option {@code debug=true} adds the row-0 intermediates as {@code dbg.s0.*}. Only the weights
 * of the requested modality are loaded.
 */
public final class ImageBindRunner implements ComponentRunner {

    @Override
    public String kind() {
        return "imagebind";
    }

    @Override
    public String description() {
        return "ImageBind encoder: input vision (B,3,224,224 | B,S,3,2,224,224) | audio (B[,S],1,128,204) | text "
                + "(B,77 ids) | depth/thermal (B[,S],1,224,224) | imu (B,6,2000) -> imagebind.embedding, "
                + "nextgpt.embedding, nextgpt_legacy.embedding, head.output, trunk.output_cls; option debug=true";
    }

    @Override
    public Map<String, NDArray> run(ComponentRequest request, NDManager manager) {
        List<Modality> given = new ArrayList<>();
        for (Modality m : Modality.values()) {
            if (request.inputs().containsKey(m.key())) {
                given.add(m);
            }
        }
        if (given.size() != 1) {
            throw new InvalidInputException("imagebind needs exactly one input tensor named after its modality "
                    + "(vision, audio, text, depth, thermal, imu); inputs file holds " + request.inputs().keySet());
        }
        Modality modality = given.get(0);
        boolean debug = request.booleanOption("debug", false);
        ImageBindConfig config = ImageBindConfig.forModel(request.model());
        Map<String, NDArray> out = new LinkedHashMap<>();
        try (ImageBindModel model = ImageBindModel.load(request.model(), config, manager, Set.of(modality))) {
            NDArray input = request.input(modality.key());
            Map<String, NDArray> dbg = debug ? new LinkedHashMap<>() : null;
            ImageBindModel.Encoding e;
            try (NDManager scope = manager.newSubManager()) {
                NDArray x = input.duplicate();
                x.attach(scope);
                e = model.encode(modality, x, dbg);
                put(out, "imagebind.embedding", e.imagebind(), manager);
                put(out, "imagebind.embedding_per_clip", e.imagebindPerClip(), manager);
                put(out, "nextgpt.embedding", e.nextgpt(), manager);
                put(out, "nextgpt_legacy.embedding", e.nextgptLegacy(), manager);
                put(out, "head.output", e.headOutput(), manager);
                if (modality == Modality.TEXT) {
                    put(out, "trunk.output", e.trunkOutput(), manager);
                    put(out, "seq_len", e.seqLen(), manager);
                } else {
                    put(out, "trunk.output_cls", e.trunkOutputCls(), manager);
                }
                if (dbg != null) {
                    for (Map.Entry<String, NDArray> d : dbg.entrySet()) {
                        put(out, "dbg.s0." + d.getKey(), d.getValue(), manager);
                    }
                }
            }
        }
        return out;
    }

    private static void put(Map<String, NDArray> out, String name, NDArray a, NDManager manager) {
        if (a != null) {
            NDArray c = a.toDevice(manager.getDevice(), true);
            c.attach(manager);
            out.put(name, c);
        }
    }
}
