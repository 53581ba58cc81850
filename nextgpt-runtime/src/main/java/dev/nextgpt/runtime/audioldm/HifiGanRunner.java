package dev.nextgpt.runtime.audioldm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.runtime.component.ComponentRequest;
import dev.nextgpt.runtime.component.ComponentRunner;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Component kind {@code hifigan}: the SpeechT5 HiFi-GAN vocoder. Model: a {@code vocoder/} folder or an AudioLDM
 * pipeline root. Input {@code mel} [B, frames, model_in_dim] (or [B, 1, frames, bins] as the VAE returns it);
 * output {@code waveform} [B, samples]. Option {@code crop=N} keeps the first N samples
 * ({@code original_waveform_length}).
 */
public final class HifiGanRunner implements ComponentRunner {

    @Override
    public String kind() {
        return "hifigan";
    }

    @Override
    public String description() {
        return "SpeechT5 HiFi-GAN vocoder: mel [B,frames,bins] (or [B,1,frames,bins]) -> waveform [B,samples]; "
                + "option crop=N";
    }

    @Override
    public Map<String, NDArray> run(ComponentRequest request, NDManager manager) {
        NDArray mel = request.input("mel");
        if (mel.getShape().dimension() == 4) {
            mel = AudioLdmLengths.melFromVaeOutput(mel);
        }
        try (HifiGanVocoder vocoder = HifiGanVocoder.load(request.model(), manager)) {
            NDArray wave = vocoder.forward(mel);
            int crop = request.intOption("crop", -1);
            if (crop >= 0) {
                wave = AudioLdmLengths.cropWaveform(wave, crop);
            }
            wave.attach(manager);
            Map<String, NDArray> out = new LinkedHashMap<>();
            out.put("waveform", wave);
            return out;
        }
    }
}
