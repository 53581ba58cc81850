package dev.nextgpt.runtime.diffusion.scheduler;

import dev.nextgpt.UnsupportedConfigurationException;
import dev.nextgpt.runtime.config.JsonConfig;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The keys of a diffusers {@code scheduler_config.json} that the schedulers here use. Absent keys take each
 * diffusers class's defaults; {@code timestepSpacing} is null when absent, so each scheduler applies its own
 * default ({@code leading} for DDIM/PNDM, {@code linspace} for Euler/DPM).
 */
public record SchedulerConfig(String className, int numTrainTimesteps, double betaStart, double betaEnd,
                              String betaSchedule, double[] trainedBetas, String predictionType,
                              String timestepSpacing, int stepsOffset, boolean setAlphaToOne, boolean clipSample,
                              double clipSampleRange, boolean skipPrkSteps, int solverOrder, String algorithmType,
                              String solverType, boolean lowerOrderFinal, String finalSigmasType,
                              boolean rescaleBetasZeroSnr) {

    /** Reads {@code scheduler_config.json} (a file, or a folder holding it). */
    public static SchedulerConfig read(Path fileOrFolder) {
        Path f = Files.isDirectory(fileOrFolder) ? fileOrFolder.resolve("scheduler_config.json") : fileOrFolder;
        return from(JsonConfig.read(f));
    }

    public static SchedulerConfig from(JsonConfig c) {
        SchedulerConfig cfg = new SchedulerConfig(
                c.getString("_class_name", "DDIMScheduler"),
                c.getInt("num_train_timesteps", 1000),
                c.getDouble("beta_start", 0.0001),
                c.getDouble("beta_end", 0.02),
                c.getString("beta_schedule", "linear"),
                c.getDoubleArray("trained_betas", null),
                c.getString("prediction_type", "epsilon"),
                c.optString("timestep_spacing").orElse(null),
                c.getInt("steps_offset", 0),
                c.getBoolean("set_alpha_to_one", true),
                c.getBoolean("clip_sample", true),
                c.getDouble("clip_sample_range", 1.0),
                c.getBoolean("skip_prk_steps", false),
                c.getInt("solver_order", 2),
                c.getString("algorithm_type", "dpmsolver++"),
                c.getString("solver_type", "midpoint"),
                c.getBoolean("lower_order_final", true),
                c.getString("final_sigmas_type", "zero"),
                c.getBoolean("rescale_betas_zero_snr", false));
        if (cfg.rescaleBetasZeroSnr) {
            throw new UnsupportedConfigurationException(c.source() + ": rescale_betas_zero_snr=true is not supported");
        }
        for (String key : new String[] {"use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas",
                "thresholding"}) {
            if (c.getBoolean(key, false)) {
                throw new UnsupportedConfigurationException(c.source() + ": " + key + "=true is not supported");
            }
        }
        String interp = c.getString("interpolation_type", "linear");
        if (!interp.equals("linear")) {
            throw new UnsupportedConfigurationException(c.source() + ": interpolation_type=" + interp
                    + " is not supported (only linear)");
        }
        return cfg;
    }

    /** A copy with another prediction type ({@code epsilon}, {@code v_prediction}, {@code sample}). */
    public SchedulerConfig withPredictionType(String p) {
        return new SchedulerConfig(className, numTrainTimesteps, betaStart, betaEnd, betaSchedule, trainedBetas, p,
                timestepSpacing, stepsOffset, setAlphaToOne, clipSample, clipSampleRange, skipPrkSteps, solverOrder,
                algorithmType, solverType, lowerOrderFinal, finalSigmasType, rescaleBetasZeroSnr);
    }

    /** A copy with another class name (used to swap the scheduler while keeping the noise schedule). */
    public SchedulerConfig withClassName(String name) {
        return new SchedulerConfig(name, numTrainTimesteps, betaStart, betaEnd, betaSchedule, trainedBetas,
                predictionType, timestepSpacing, stepsOffset, setAlphaToOne, clipSample, clipSampleRange,
                skipPrkSteps, solverOrder, algorithmType, solverType, lowerOrderFinal, finalSigmasType,
                rescaleBetasZeroSnr);
    }

    /** The spacing to use: the configured one or the class default. */
    String spacing(String classDefault) {
        return timestepSpacing != null ? timestepSpacing : classDefault;
    }
}
