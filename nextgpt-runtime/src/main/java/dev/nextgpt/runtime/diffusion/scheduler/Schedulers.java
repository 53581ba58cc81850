package dev.nextgpt.runtime.diffusion.scheduler;

import dev.nextgpt.InvalidInputException;
import dev.nextgpt.UnsupportedConfigurationException;

import java.nio.file.Path;
import java.util.Locale;

/** Creates schedulers from a {@code scheduler_config.json} or by short name. */
public final class Schedulers {
    private Schedulers() {
    }

    /** The scheduler named by the config's {@code _class_name}. */
    public static DiffusionScheduler fromConfig(SchedulerConfig config) {
        return switch (config.className()) {
            case "DDIMScheduler" -> new DdimScheduler(config);
            case "PNDMScheduler" -> new PndmScheduler(config);
            case "DPMSolverMultistepScheduler" -> new DpmSolverMultistepScheduler(config);
            case "EulerDiscreteScheduler" -> new EulerDiscreteScheduler(config);
            case "EulerAncestralDiscreteScheduler" -> new EulerAncestralScheduler(config);
            default -> throw new UnsupportedConfigurationException("scheduler class '" + config.className()
                    + "' is not supported (DDIMScheduler, PNDMScheduler, DPMSolverMultistepScheduler,"
                    + " EulerDiscreteScheduler, EulerAncestralDiscreteScheduler)");
        };
    }

    /** Reads {@code scheduler_config.json} from a file or folder and creates its scheduler. */
    public static DiffusionScheduler fromPretrained(Path fileOrFolder) {
        return fromConfig(SchedulerConfig.read(fileOrFolder));
    }

    /**
     * A scheduler by short name ({@code ddim}, {@code pndm}, {@code dpm}, {@code dpm-legacy} (diffusers 0.17's
     * ending), {@code euler}, {@code euler-ancestral}) built from another config's noise schedule, like diffusers'
     * {@code Class.from_config(pipe.scheduler.config)}; null or empty name keeps the config's own class.
     */
    public static DiffusionScheduler byName(String name, SchedulerConfig base) {
        if (name == null || name.isBlank()) {
            return fromConfig(base);
        }
        return switch (name.trim().toLowerCase(Locale.ROOT)) {
            case "ddim" -> new DdimScheduler(base.withClassName("DDIMScheduler"));
            case "pndm" -> new PndmScheduler(base.withClassName("PNDMScheduler"));
            case "dpm", "dpmsolver", "dpmsolver-multistep", "dpmsolver_multistep" ->
                    new DpmSolverMultistepScheduler(base.withClassName("DPMSolverMultistepScheduler"));
            case "dpm-legacy" -> new DpmSolverMultistepScheduler(base.withClassName("DPMSolverMultistepScheduler"),
                    true);
            case "euler" -> new EulerDiscreteScheduler(base.withClassName("EulerDiscreteScheduler"));
            case "euler-ancestral", "euler_ancestral", "euler-a" ->
                    new EulerAncestralScheduler(base.withClassName("EulerAncestralDiscreteScheduler"));
            default -> throw new InvalidInputException("unknown scheduler '" + name
                    + "' (ddim, pndm, dpm, dpm-legacy, euler, euler-ancestral)");
        };
    }
}
