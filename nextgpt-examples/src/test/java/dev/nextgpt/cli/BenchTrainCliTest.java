package dev.nextgpt.cli;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code nextgpt bench train} on the demo size. */
class BenchTrainCliTest {

    @Test
    void printsOneJsonLine() {
        String[] r = TrainCliTest.run("bench", "train", "--stage", "2", "--steps", "1", "--warmup", "0");
        assertEquals("0", r[0], r[1] + r[2]);
        assertTrue(r[1].contains("\"bench\": \"train\", \"model\": \"demo\", \"stage\": 2"), r[1]);
        assertTrue(r[1].contains("\"frozen_grad_mb\": 0.00"), r[1]);
        String[] bad = TrainCliTest.run("bench", "train", "--stage", "1", "--model", "huge");
        assertEquals("1", bad[0]);
        assertTrue(bad[2].contains("huge"), bad[2]);
    }
}
