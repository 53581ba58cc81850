package dev.nextgpt.runtime.llm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.runtime.component.ComponentRequest;
import dev.nextgpt.runtime.component.ComponentRunner;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Component runners of the LLaMA language model ({@code llama}, {@code llama-generate}). */
public final class LlamaComponents {
    private LlamaComponents() {
    }

    private static LlamaModel load(ComponentRequest request) {
        LlamaModel model = LlamaModel.load(request.model());
        request.path("lora").ifPresent(dir -> {
            try (LoraAdapter lora = LoraAdapter.load(dir)) {
                model.applyLora(lora, true);
            } catch (RuntimeException e) {
                model.close();
                throw e;
            }
        });
        return model;
    }

    private static long[][] rows(NDArray ids, String name) {
        if (ids.getShape().dimension() != 2) {
            throw new InvalidInputException(name + " must be [B, T] but is " + ids.getShape());
        }
        int b = (int) ids.getShape().get(0);
        int t = (int) ids.getShape().get(1);
        long[] flat = ids.toType(DataType.INT64, false).toLongArray();
        long[][] out = new long[b][t];
        for (int i = 0; i < b; i++) {
            System.arraycopy(flat, i * t, out[i], 0, t);
        }
        return out;
    }

    /** {@code llama}: full forward. */
    public static final class Forward implements ComponentRunner {
        @Override
        public String kind() {
            return "llama";
        }

        @Override
        public String description() {
            return "LLaMA/Vicuna forward: input_ids int64 [B,T], optional attention_mask [B,T] (left padding), "
                    + "--lora DIR -> logits [B,T,V], hidden_states.0..num_layers [B,T,H] (last after final norm)";
        }

        @Override
        public Map<String, NDArray> run(ComponentRequest request, NDManager manager) {
            try (LlamaModel model = load(request)) {
                NDArray ids = request.input("input_ids");
                if (ids.getShape().dimension() != 2) {
                    throw new InvalidInputException("input_ids must be [B, T] but is " + ids.getShape());
                }
                NDArray mask = request.optionalInput("attention_mask").orElse(null);
                LlamaModel.Output o = model.forward(ids.toType(DataType.INT64, false), mask, true);
                Map<String, NDArray> out = new LinkedHashMap<>();
                out.put("logits", keep(o.logits(), manager));
                List<NDArray> hs = o.hiddenStates();
                for (int i = 0; i < hs.size(); i++) {
                    out.put("hidden_states." + i, keep(hs.get(i), manager));
                }
                return out;
            }
        }

        private static NDArray keep(NDArray a, NDManager manager) {
            NDArray f = a.toType(DataType.FLOAT32, false);
            f.attach(manager);
            return f;
        }
    }

    /** {@code llama-generate}: greedy generation with a KV cache. */
    public static final class Generate implements ComponentRunner {
        @Override
        public String kind() {
            return "llama-generate";
        }

        @Override
        public String description() {
            return "LLaMA/Vicuna greedy generation: input_ids int64 [B,T], optional attention_mask (left padding), "
                    + "option max_new_tokens (32), --lora DIR -> sequences int64 [B,T+N] (prompt + new ids, "
                    + "finished rows padded with the pad id)";
        }

        @Override
        public Map<String, NDArray> run(ComponentRequest request, NDManager manager) {
            long[][] ids = rows(request.input("input_ids"), "input_ids");
            long[][] mask = request.optionalInput("attention_mask").map(m -> rows(m, "attention_mask")).orElse(null);
            int maxNew = request.intOption("max_new_tokens", 32);
            long[][] prompts = new long[ids.length][];
            for (int r = 0; r < ids.length; r++) {
                if (mask == null) {
                    prompts[r] = ids[r];
                } else {
                    if (mask[r].length != ids[r].length) {
                        throw new InvalidInputException("attention_mask must have the shape of input_ids");
                    }
                    int n = 0;
                    for (long m : mask[r]) {
                        n += m != 0 ? 1 : 0;
                    }
                    prompts[r] = new long[n];
                    int k = 0;
                    for (int j = 0; j < ids[r].length; j++) {
                        if (mask[r][j] != 0) {
                            prompts[r][k++] = ids[r][j];
                        }
                    }
                }
            }
            try (LlamaModel model = load(request)) {
                GenerationOptions opts = new GenerationOptions().maxNewTokens(maxNew);
                LlamaGenerator.Result res = new LlamaGenerator(model).generate(prompts, opts);
                int t = ids[0].length;
                int n = res.newTokens()[0].length;
                long[] flat = new long[ids.length * (t + n)];
                for (int r = 0; r < ids.length; r++) {
                    System.arraycopy(ids[r], 0, flat, r * (t + n), t);
                    System.arraycopy(res.newTokens()[r], 0, flat, r * (t + n) + t, n);
                }
                Map<String, NDArray> out = new LinkedHashMap<>();
                out.put("sequences", manager.create(flat, new Shape(ids.length, t + n)));
                return out;
            }
        }
    }
}
