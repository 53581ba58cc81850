package dev.nextgpt.runtime.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class SafetensorsFileTest {
    @Test
    void smoke() {
        Path p = Path.of("/work/shared/golden/llama/model.safetensors");
        try (SafetensorsFile f = SafetensorsFile.open(p); NDManager m = NDManager.newBaseManager()) {
            assertEquals(21, f.names().size());
            NDArray a = f.load(m, "model.norm.weight");
            float before = a.getFloat(0);
            a.addi(1f);
            assertEquals(before + 1f, a.getFloat(0), 1e-6);
            NDArray b = f.load(m, "model.norm.weight");
            assertEquals(before, b.getFloat(0), 1e-6);
        }
    }
}
