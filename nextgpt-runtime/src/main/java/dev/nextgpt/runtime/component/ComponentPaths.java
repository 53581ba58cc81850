package dev.nextgpt.runtime.component;

import java.nio.file.Files;
import java.nio.file.Path;

/** Path rules shared by the component runners and loaders. */
public final class ComponentPaths {
    private ComponentPaths() {
    }

    /**
     * {@code folder/sub} when that folder exists (a pipeline root such as a diffusers folder), else {@code folder}
     * itself (taken to be the component's own folder).
     */
    public static Path subfolderOrSelf(Path folder, String sub) {
        Path p = folder.resolve(sub);
        return Files.isDirectory(p) ? p : folder;
    }
}
