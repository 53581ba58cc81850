package dev.nextgpt.train.model;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * The scalar operands that autograd saves for the backward pass must survive a garbage collection between forward
 * and backward (DJL's {@code mul(Number)} frees them: its gradient then reads reused memory, e.g. NaN).
 */
class GraphScalarsTest {

    @Test
    void savedScalarsSurviveGarbageCollectionBeforeBackward() {
        for (DataType dt : new DataType[] {DataType.FLOAT32, DataType.FLOAT64}) {
            try (NDManager m = NDManager.newBaseManager(); NDManager scope = m.newSubManager()) {
                NDArray x = m.create(new float[] {1, -2, 3, 4}).toType(dt, false);
                x.setRequiresGradient(true);
                x.tempAttach(scope);
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    NDArray y = GraphScalars.div(GraphScalars.mul(x, 3.0), 2)   // 1.5·x
                            .add(GraphScalars.maximum(x, 0.0))                   // + relu(x)
                            .sum();
                    reuseFreedDirectMemory();
                    gc.backward(y);
                }
                double[] g = x.getGradient().toType(DataType.FLOAT64, false).toDoubleArray();
                assertArrayEquals(new double[] {2.5, 1.5, 2.5, 2.5}, g, 1e-6, dt.toString());
            }
        }
    }

    /** Runs a collection (freeing unreachable direct buffers) and refills small freed blocks with NaN. */
    private static void reuseFreedDirectMemory() {
        System.gc();
        try {
            Thread.sleep(20);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        List<ByteBuffer> keep = new ArrayList<>();
        for (int i = 0; i < 2000; i++) {
            ByteBuffer b = ByteBuffer.allocateDirect(8).order(ByteOrder.nativeOrder());
            b.putDouble(0, Double.NaN);
            keep.add(b);
        }
    }
}
