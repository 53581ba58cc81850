package dev.nextgpt.train.trainer;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link BenchTrain} on the demo size: figures are produced and frozen parts hold no gradient or optimiser state. */
class BenchTrainTest {

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3})
    void demoSizeAccountsMemoryByPart(int stage) {
        BenchTrain.Result r = BenchTrain.run(BenchTrain.Size.DEMO, stage, 1, 1, 3);
        System.out.println(r.json());
        assertTrue(r.samplesPerSecond() > 0, r.json());
        assertFalse(r.stoppedOnNaN(), r.json());
        assertTrue(r.frozenParameterBytes() > 0 && r.trainableParameterBytes() > 0, r.json());
        assertEquals(0, r.frozenGradientBytes(), r.json());
        assertEquals(0, r.frozenOptimizerStateBytes(), r.json());
        assertEquals(r.trainableParameterBytes(), r.gradientBytes(), r.json());
        assertEquals(2 * r.trainableParameterBytes(), r.optimizerStateBytes(), r.json());
        assertTrue(r.peakRssBytes() != 0, r.json());
    }
}
