package dev.nextgpt.train.optim;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class DynamicLossScalerTest {
    @Test
    void overflowSkipsAndHalvesAndAWindowOfGoodStepsDoubles() {
        DynamicLossScaler s = new DynamicLossScaler(1024, 3, 1, 1);
        assertTrue(s.update(true), "overflow → skip");
        assertEquals(512, s.scale());
        assertFalse(s.update(false));
        assertFalse(s.update(false));
        assertEquals(512, s.scale(), "two good steps of a window of 3");
        assertFalse(s.update(false));
        assertEquals(1024, s.scale(), "3 good steps → double");
        assertTrue(s.update(true));
        assertFalse(s.update(false));
        assertFalse(s.update(false));
        assertTrue(s.update(true), "an overflow restarts the window");
        assertEquals(256, s.scale());
        assertEquals(3, s.skippedSteps());
    }

    @Test
    void hysteresisDelaysTheFirstHalvingAndTheScaleStopsAtItsMinimum() {
        DynamicLossScaler s = DynamicLossScaler.legacyNextGpt();
        assertEquals(65536, s.scale());
        assertTrue(s.update(true));
        assertEquals(65536, s.scale(), "hysteresis 2: the first overflow only counts down");
        assertTrue(s.update(true));
        assertEquals(32768, s.scale());
        assertTrue(s.update(true));
        assertEquals(16384, s.scale(), "hysteresis is used up until the scale grows again");
        for (int i = 0; i < 999; i++) {
            s.update(false);
        }
        assertEquals(16384, s.scale());
        s.update(false);
        assertEquals(32768, s.scale(), "window 1000");
        assertTrue(s.update(true));
        assertEquals(32768, s.scale(), "growth restored the hysteresis");

        DynamicLossScaler small = new DynamicLossScaler(2, 10, 1, 1);
        small.update(true);
        assertTrue(small.atMinimum());
        small.update(true);
        assertEquals(1, small.scale());
        DynamicLossScaler copy = new DynamicLossScaler(8, 10, 1, 1);
        copy.restore(s.state());
        assertArrayEquals(s.state(), copy.state());
    }
}
