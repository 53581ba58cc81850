package dev.nextgpt.runtime.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.runtime.io.SafetensorsFile;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** Case 3 of the stable-diffusion fixture: VAE decode (+ post-processing) and encode. */
class AutoencoderKLTest {

    @Test
    void decodeAndPostprocess() {
        try (NDManager m = SdGolden.manager();
             AutoencoderKL vae = AutoencoderKL.load(SdGolden.root().resolve("vae"));
             SafetensorsFile f = SdGolden.open("cases/case3_vae.safetensors")) {
            assertEquals(0.18215f, vae.scalingFactor());
            NDArray z = vae.decoderInput(f.load(m, "input.latents"));
            SdGolden.assertClose("decoder_input", z, f.load(m, "expected.decoder_input"), 1e-6, 0);
            Map<String, NDArray> trace = new HashMap<>();
            NDArray decoded = vae.decode(z, trace);
            for (String k : new String[] {"post_quant_conv", "decoder_conv_in", "decoder_mid_block",
                    "decoder_up_block_0", "decoder_up_block_1", "decoder_conv_norm_out"}) {
                SdGolden.assertClose("debug.decode." + k, trace.get(k).get("0:1"), f.load(m, "debug.decode." + k),
                        1e-5, 5e-6);
            }
            SdGolden.assertClose("decoded", decoded, f.load(m, "expected.decoded"), 1e-5, 5e-6);
            NDArray img = AutoencoderKL.postprocess(decoded);
            SdGolden.assertClose("image_float", img, f.load(m, "expected.image_float"), 1e-5, 5e-6);
            SdGolden.assertUint8Close("image_uint8", AutoencoderKL.toUint8(img), f.load(m, "expected.image_uint8"));
            assertThrows(InvalidInputException.class, () -> vae.decode(m.zeros(new ai.djl.ndarray.types.Shape(1, 3,
                    4, 4))));
        }
    }

    @Test
    void encode() {
        try (NDManager m = SdGolden.manager();
             AutoencoderKL vae = AutoencoderKL.load(SdGolden.root().resolve("vae"));
             SafetensorsFile f = SdGolden.open("cases/case3_vae.safetensors")) {
            NDArray x = AutoencoderKL.preprocess(f.load(m, "input.image_uint8"));
            SdGolden.assertClose("preprocessed_image", x, f.load(m, "expected.preprocessed_image"), 1e-6, 0);
            Map<String, NDArray> trace = new HashMap<>();
            AutoencoderKL.LatentDist d = vae.encode(x, trace);
            for (String[] k : new String[][] {{"encoder_down_block_0", "encoder_down_block_0"},
                    {"encoder_down_block_1", "encoder_down_block_1"}, {"encoder_mid_block", "encoder_mid_block"},
                    {"encoder_out", "encoder_out"}, {"quant_conv_out_moments", "quant_conv_out_moments"}}) {
                SdGolden.assertClose("debug.encode." + k[1], trace.get(k[0]).get("0:1"),
                        f.load(m, "debug.encode." + k[1]), 1e-5, 5e-6);
            }
            SdGolden.assertClose("latent_dist_mean", d.mean(), f.load(m, "expected.latent_dist_mean"), 1e-5, 5e-6);
            SdGolden.assertClose("latent_dist_logvar", d.logvar(), f.load(m, "expected.latent_dist_logvar"), 1e-5,
                    5e-6);
            SdGolden.assertClose("latent_dist_std", d.std(), f.load(m, "expected.latent_dist_std"), 1e-5, 5e-6);
            NDArray sample = d.sample(f.load(m, "input.sample_noise"));
            SdGolden.assertClose("latent_sample", sample, f.load(m, "expected.latent_sample"), 1e-5, 5e-6);
            SdGolden.assertClose("latent_sample_scaled", sample.mul(vae.scalingFactor()),
                    f.load(m, "expected.latent_sample_scaled"), 1e-5, 5e-6);
        }
    }
}
