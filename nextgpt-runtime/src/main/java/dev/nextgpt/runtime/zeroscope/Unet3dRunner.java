package dev.nextgpt.runtime.zeroscope;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.runtime.component.ComponentPaths;
import dev.nextgpt.runtime.component.ComponentRequest;
import dev.nextgpt.runtime.component.ComponentRunner;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Component kind {@code unet3d}: one {@link UNet3DConditionModel} call. Model: a {@code unet/} folder or a
 * text-to-video pipeline root. Inputs {@code sample} (B, C, F, H, W), {@code timestep} ([1] or [B]),
 * {@code encoder_hidden_states} (B, N, D); output {@code sample} (the predicted noise).
 */
public final class Unet3dRunner implements ComponentRunner {

    @Override
    public String kind() {
        return "unet3d";
    }

    @Override
    public String description() {
        return "Zeroscope/ModelScope UNet3DConditionModel: sample [B,C,F,H,W], timestep [1|B], "
                + "encoder_hidden_states [B,N,D] -> sample (noise prediction)";
    }

    @Override
    public Map<String, NDArray> run(ComponentRequest request, NDManager manager) {
        Path folder = unetFolder(request.model());
        try (UNet3DConditionModel unet = UNet3DConditionModel.load(folder)) {
            NDArray out = unet.forward(request.input("sample"), request.input("timestep"),
                    request.input("encoder_hidden_states"));
            out = out.duplicate();
            out.attach(manager);
            Map<String, NDArray> result = new LinkedHashMap<>();
            result.put("sample", out);
            return result;
        }
    }

    static Path unetFolder(Path model) {
        return ComponentPaths.subfolderOrSelf(model, "unet");
    }
}
