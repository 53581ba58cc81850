package dev.nextgpt.runtime.component;

import dev.nextgpt.InvalidInputException;

import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeMap;

/** The component runners found on the class path, by kind. */
public final class ComponentRegistry {
    private ComponentRegistry() {
    }

    /** All registered runners, sorted by kind. */
    public static Map<String, ComponentRunner> all() {
        Map<String, ComponentRunner> map = new TreeMap<>();
        for (ComponentRunner r : ServiceLoader.load(ComponentRunner.class)) {
            map.put(r.kind(), r);
        }
        return map;
    }

    /** The runner for {@code kind}; an error listing the known kinds otherwise. */
    public static ComponentRunner get(String kind) {
        Map<String, ComponentRunner> map = all();
        ComponentRunner r = map.get(kind);
        if (r == null) {
            throw new InvalidInputException("unknown component kind '" + kind + "'; known kinds: " + map.keySet());
        }
        return r;
    }
}
