package dev.nextgpt.runtime.audioldm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.runtime.config.JsonConfig;

import java.nio.file.Path;

/**
 * AudioLDM pipeline arithmetic that needs no network: audio length ↔ mel frames ↔ latent size, the mel taken from
 * the VAE output and the final waveform crop, exactly as diffusers' {@code AudioLDMPipeline} (0.17–0.30, NExT-GPT's
 * {@code custom_ad.py}) computes them, in double precision like Python floats.
 *
 * @param vaeScaleFactor         {@code 2^(len(vae.block_out_channels) - 1)}
 * @param unetSampleSize         {@code unet.config.sample_size} (latent frames of the default length)
 * @param unetInChannels         {@code unet.config.in_channels}
 * @param melBins                {@code vocoder.config.model_in_dim}
 * @param samplingRate           {@code vocoder.config.sampling_rate}
 * @param vocoderUpsampleFactor  {@code prod(vocoder.upsample_rates) / sampling_rate} (seconds per mel frame)
 */
public record AudioLdmLengths(int vaeScaleFactor, int unetSampleSize, int unetInChannels, int melBins,
                              int samplingRate, double vocoderUpsampleFactor) {

    /** The lengths resolved for one call. */
    public record Plan(double audioLengthInS, int height, int originalWaveformLength, Shape latentShape) {
    }

    /** Reads {@code vae/}, {@code unet/} and {@code vocoder/} {@code config.json} of a pipeline folder. */
    public static AudioLdmLengths fromPipeline(Path pipelineDir) {
        JsonConfig vae = JsonConfig.read(pipelineDir.resolve("vae").resolve("config.json"));
        JsonConfig unet = JsonConfig.read(pipelineDir.resolve("unet").resolve("config.json"));
        JsonConfig vocoder = JsonConfig.read(pipelineDir.resolve("vocoder").resolve("config.json"));
        HifiGanVocoder.Config voc = HifiGanVocoder.Config.fromJson(vocoder);
        int[] blocks = vae.getIntArray("block_out_channels", new int[] {64});
        return new AudioLdmLengths(vaeScaleFactor(blocks.length), unet.getInt("sample_size"),
                unet.getInt("in_channels", 4), voc.modelInDim(), voc.samplingRate(),
                vocoderUpsampleFactor(voc.upsampleRates(), voc.samplingRate()));
    }

    /** {@code 2 ** (len(block_out_channels) - 1)}. */
    public static int vaeScaleFactor(int numVaeBlocks) {
        if (numVaeBlocks < 1) {
            throw new InvalidInputException("the VAE needs at least one block, got " + numVaeBlocks);
        }
        return 1 << (numVaeBlocks - 1);
    }

    /** {@code np.prod(upsample_rates) / sampling_rate} as a double. */
    public static double vocoderUpsampleFactor(int[] upsampleRates, int samplingRate) {
        long p = 1;
        for (int r : upsampleRates) {
            p *= r;
        }
        return (double) p / samplingRate;
    }

    /** The pipeline's default length: {@code unet.sample_size * vae_scale_factor * vocoder_upsample_factor}. */
    public double defaultAudioLengthInS() {
        return (double) (unetSampleSize * vaeScaleFactor) * vocoderUpsampleFactor;
    }

    /**
     * Mel frames for a length: {@code int(len / vocoder_upsample_factor)} (truncation), rounded up to a multiple
     * of {@code vae_scale_factor}.
     */
    public int height(double audioLengthInS) {
        checkLength(audioLengthInS);
        int height = (int) (audioLengthInS / vocoderUpsampleFactor);
        if (height % vaeScaleFactor != 0) {
            height = (int) Math.ceil((double) height / vaeScaleFactor) * vaeScaleFactor;
        }
        if (height <= 0) {
            throw new InvalidInputException("audio_length_in_s " + audioLengthInS + " gives no mel frame (one frame"
                    + " is " + vocoderUpsampleFactor + " s)");
        }
        return height;
    }

    /** Samples kept from the vocoder output: {@code int(audio_length_in_s * sampling_rate)}. */
    public int originalWaveformLength(double audioLengthInS) {
        checkLength(audioLengthInS);
        return (int) (audioLengthInS * samplingRate);
    }

    /** Latent shape {@code (batch, unet.in_channels, height / vae_sf, model_in_dim / vae_sf)}: time along H. */
    public Shape latentShape(int batch, int height) {
        return new Shape(batch, unetInChannels, height / vaeScaleFactor, melBins / vaeScaleFactor);
    }

    /** Resolves all lengths; {@code audioLengthInS} null means the pipeline's default. */
    public Plan plan(Double audioLengthInS, int batch) {
        double len = audioLengthInS == null ? defaultAudioLengthInS() : audioLengthInS;
        int h = height(len);
        return new Plan(len, h, originalWaveformLength(len), latentShape(batch, h));
    }

    /** {@code mel_spectrogram.squeeze(1)}: VAE output {@code [B, 1, frames, bins]} → vocoder input. */
    public static NDArray melFromVaeOutput(NDArray vaeOutput) {
        Shape s = vaeOutput.getShape();
        if (s.dimension() != 4 || s.get(1) != 1) {
            throw new InvalidInputException("VAE mel output must be [batch, 1, frames, bins], got " + s);
        }
        return vaeOutput.squeeze(1);
    }

    /** {@code waveform[:, :length]}; a waveform shorter than {@code length} is returned whole, as Python slicing. */
    public static NDArray cropWaveform(NDArray waveform, int length) {
        Shape s = waveform.getShape();
        if (s.dimension() != 2) {
            throw new InvalidInputException("waveform must be [batch, samples], got " + s);
        }
        if (length < 0) {
            throw new InvalidInputException("crop length must be >= 0, got " + length);
        }
        return waveform.get(new NDIndex(":, :{}", Math.min(length, s.get(1))));
    }

    private static void checkLength(double audioLengthInS) {
        if (!(audioLengthInS > 0) || Double.isInfinite(audioLengthInS)) {
            throw new InvalidInputException("audio_length_in_s must be a positive finite number, got "
                    + audioLengthInS);
        }
    }
}
