package dev.nextgpt.runtime.nextgpt.current;

import ai.djl.ndarray.NDArray;
import dev.nextgpt.MediaRequestPart;
import dev.nextgpt.runtime.nextgpt.Modality;
import dev.nextgpt.runtime.nextgpt.ModalityDecoder;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

/** A test decoder: records each call (modality, shape, options) and returns the conditioning as a media request. */
final class RecordingDecoder implements ModalityDecoder {
    private final Modality modality;
    private final long[] shape;
    private final List<String> log;

    RecordingDecoder(Modality modality, long[] shape, List<String> log) {
        this.modality = modality;
        this.shape = shape;
        this.log = log;
    }

    @Override
    public Modality modality() {
        return modality;
    }

    @Override
    public long[] conditioningShape() {
        return shape.clone();
    }

    @Override
    public Output decode(NDArray conditioning, Options options, Progress progress, BooleanSupplier cancelled) {
        log.add(modality + conditioning.getShape().toString() + " frames=" + options.frames() + " seconds="
                + options.seconds());
        progress.onStep(1, 1);
        dev.nextgpt.Modality api = dev.nextgpt.Modality.valueOf(modality.name());
        int[] s = Arrays.stream(conditioning.getShape().getShape()).mapToInt(Math::toIntExact).toArray();
        return new Output(new MediaRequestPart(api, conditioning.toFloatArray(), s, "recorded"), Map.of());
    }

    @Override
    public void close() {
    }
}
