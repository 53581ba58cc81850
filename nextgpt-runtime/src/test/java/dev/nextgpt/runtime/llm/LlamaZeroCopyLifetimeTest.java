package dev.nextgpt.runtime.llm;

import ai.djl.ndarray.NDManager;
import com.google.gson.JsonArray;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import static dev.nextgpt.runtime.llm.LlamaGolden.*;

/**
 * fp32 CPU weights are zero-copy views of the memory-mapped checkpoint, and the checkpoint file is closed once the
 * model is built: the mapping must stay alive through garbage collections for as long as the model lives.
 */
class LlamaZeroCopyLifetimeTest {

    @Test
    void logitsStayExactAfterGarbageCollections() throws Exception {
        JsonArray p = json("cases/cases.json").getAsJsonArray("case1_case2_prompts");
        long[] prompt = longs(p.get(0).getAsJsonObject().get("input_ids"));
        try (LlamaModel model = LlamaModel.load(dir()); NDManager m = NDManager.newBaseManager()) {
            for (int round = 0; round < 3; round++) {
                List<ByteBuffer> churn = new ArrayList<>();
                for (int i = 0; i < 64; i++) {
                    churn.add(ByteBuffer.allocateDirect(1 << 20));
                }
                churn.clear();
                System.gc();
                Thread.sleep(50);
                try (NDManager s = m.newSubManager()) {
                    assertClose("case1 prompt0.logits after gc round " + round,
                            expected("case1_forward_logits.safetensors", "prompt0.logits"),
                            model.forward(ids(s, prompt), null, false).logits());
                }
            }
        }
    }
}
