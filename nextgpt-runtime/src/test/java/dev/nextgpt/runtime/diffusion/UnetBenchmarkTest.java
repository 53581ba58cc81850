package dev.nextgpt.runtime.diffusion;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** The benchmark's in-memory SD-2 layout and a tiny timed run (no speed assertion). */
class UnetBenchmarkTest {

    @Test
    void sd2LayoutHasTheRealParameterCount() {
        Map<String, long[]> layout = UnetBenchmark.sdUnetLayout(new int[] {320, 640, 1280, 1280}, 2, 1024, 4, 4, true);
        long n = layout.values().stream().mapToLong(s -> {
            long p = 1;
            for (long x : s) {
                p *= x;
            }
            return p;
        }).sum();
        assertEquals(865_910_724L, n, "SD-2 UNet parameter count");
    }

    @Test
    void tinyRandomRunAndFolderRun() {
        UnetBenchmark.Result r = UnetBenchmark.benchmarkRandomSd2(8, 16, 0, 1);
        assertTrue(r.unetStepMs() > 0);
        UnetBenchmark.Result f = UnetBenchmark.benchmarkFolder(SdGolden.root(), 0, 0, 1);
        assertTrue(f.unetStepMs() > 0 && f.vaeDecodeMs() > 0);
        assertEquals(16, f.latentSize());
        System.out.println(r);
        System.out.println(f);
    }
}
