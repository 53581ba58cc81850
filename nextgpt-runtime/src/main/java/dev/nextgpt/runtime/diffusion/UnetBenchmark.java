package dev.nextgpt.runtime.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.runtime.config.JsonConfig;
import dev.nextgpt.runtime.io.TensorDType;
import dev.nextgpt.runtime.io.TensorInfo;
import dev.nextgpt.runtime.io.TensorStore;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;

/**
 * Timing of the image decoder: milliseconds per UNet step with classifier-free guidance (batch 2) and per VAE
 * decode, on a pipeline folder or on a randomly initialised SD-2-sized UNet built in memory (no file written).
 */
public final class UnetBenchmark {
    private UnetBenchmark() {
    }

    /** Timings in milliseconds (mean over the timed iterations, after warm-up); vaeDecodeMs is NaN if not run. */
    public record Result(String what, long parameters, int latentSize, double unetStepMs, double vaeDecodeMs,
                         String device) {
        @Override
        public String toString() {
            return String.format("%s: %,d UNet parameters, latent %dx%d, batch 2: %.1f ms/UNet step%s on %s", what,
                    parameters, latentSize, latentSize, unetStepMs,
                    Double.isNaN(vaeDecodeMs) ? "" : String.format(", VAE decode %.1f ms", vaeDecodeMs), device);
        }
    }

    /**
     * Benchmarks a pipeline folder ({@code unet/}, {@code vae/}; {@code latentSize <= 0} uses the UNet's
     * sample_size).
     */
    public static Result benchmarkFolder(Path pipelineFolder, int latentSize, int warmup, int iterations) {
        try (UNet2DCondition unet = UNet2DCondition.load(pipelineFolder.resolve("unet"));
             AutoencoderKL vae = AutoencoderKL.load(pipelineFolder.resolve("vae"))) {
            int size = latentSize > 0 ? latentSize : unet.config().sampleSize();
            long params = countParams(pipelineFolder.resolve("unet"));
            double unetMs = timeUnet(unet, size, warmup, iterations);
            double vaeMs;
            try (NDManager m = NDManager.newBaseManager()) {
                NDArray lat = m.randomNormal(new Shape(1, vae.config().latentChannels(), size, size));
                vaeMs = time(warmup, iterations, () -> {
                    try (NDManager sm = m.newSubManager()) {
                        lat.tempAttach(sm);
                        vae.decode(vae.decoderInput(lat)).toFloatArray();
                    }
                });
            }
            return new Result(pipelineFolder.toString(), params, size, unetMs, vaeMs, deviceName());
        }
    }

    /**
     * Benchmarks a random UNet with SD-2's architecture (block_out_channels 320/640/1280/1280, heads 5/10/20/20,
     * cross-attention 1024, linear projections; 865M parameters) at {@code latentSize} (96 for 768x768).
     * {@code widthDivisor} > 1 (a divisor of 64) shrinks every width, keeping the heads (e.g. 4 for a quick CPU run).
     */
    public static Result benchmarkRandomSd2(int latentSize, int widthDivisor, int warmup, int iterations) {
        int d = Math.max(1, widthDivisor);
        if (64 % d != 0) {
            throw new dev.nextgpt.InvalidInputException("width divisor must divide 64 (the head width) but is " + d);
        }
        int[] boc = {320 / d, 640 / d, 1280 / d, 1280 / d};
        int[] heads = {5, 10, 20, 20};
        int cross = 1024 / d;
        UNet2DConditionConfig cfg = UNet2DConditionConfig.from(new JsonConfig(Path.of("random-sd2-unet/config.json"),
                com.google.gson.JsonParser.parseString("{\"block_out_channels\":[" + boc[0] + "," + boc[1] + ","
                        + boc[2] + "," + boc[3] + "],\"attention_head_dim\":[5,10,20,20],\"cross_attention_dim\":"
                        + cross + ",\"use_linear_projection\":true,\"norm_num_groups\":" + Math.max(1, 32 / d)
                        + ",\"sample_size\":" + latentSize + "}").getAsJsonObject()));
        Map<String, long[]> layout = sdUnetLayout(cfg.blockOutChannels(), cfg.layersPerBlock()[0], cross,
                cfg.inChannels(), cfg.outChannels(), true);
        long params = layout.values().stream().mapToLong(s -> {
            long n = 1;
            for (long x : s) {
                n *= x;
            }
            return n;
        }).sum();
        NDManager manager = NDManager.newBaseManager();
        try (RandomStore store = new RandomStore(layout, 1234);
             UNet2DCondition unet = new UNet2DCondition(cfg, new Weights(store, manager))) {
            double ms = timeUnet(unet, latentSize, warmup, iterations);
            return new Result("random SD-2 UNet" + (d > 1 ? " (widths / " + d + ")" : ""), params, latentSize, ms,
                    Double.NaN, deviceName());
        }
    }

    private static double timeUnet(UNet2DCondition unet, int size, int warmup, int iterations) {
        try (NDManager m = NDManager.newBaseManager()) {
            long cross = crossDim(unet);
            NDArray sample = m.randomNormal(new Shape(2, unet.config().inChannels(), size, size));
            NDArray ehs = m.randomNormal(new Shape(2, 77, cross));
            NDArray t = m.create(new long[] {500});
            return time(warmup, iterations, () -> {
                try (NDManager sm = m.newSubManager()) {
                    sample.tempAttach(sm);
                    ehs.tempAttach(sm);
                    t.tempAttach(sm);
                    unet.forward(sample, t, ehs, null).toFloatArray();
                }
            });
        }
    }

    private static long crossDim(UNet2DCondition unet) {
        return unet.config().crossAttentionDim()[0];
    }

    private static double time(int warmup, int iterations, Runnable r) {
        for (int i = 0; i < warmup; i++) {
            r.run();
        }
        int n = Math.max(1, iterations);
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            r.run();
        }
        return (System.nanoTime() - t0) / 1e6 / n;
    }

    private static String deviceName() {
        try (NDManager m = NDManager.newBaseManager()) {
            return m.getDevice().toString();
        }
    }

    private static long countParams(Path folder) {
        try (TensorStore s = dev.nextgpt.runtime.io.Checkpoints.open(folder)) {
            return s.parameterCount();
        }
    }

    /**
     * Tensor names and shapes of an SD-style UNet2DConditionModel (CrossAttnDown x (n-1) + Down, CrossAttn mid,
     * Up + CrossAttnUp x (n-1), one transformer layer, GEGLU).
     */
    static Map<String, long[]> sdUnetLayout(int[] boc, int layers, int cross, int inC, int outC, boolean linearProj) {
        Map<String, long[]> m = new LinkedHashMap<>();
        int n = boc.length;
        int temb = boc[0] * 4;
        conv(m, "conv_in", boc[0], inC, 3);
        lin(m, "time_embedding.linear_1", temb, boc[0], true);
        lin(m, "time_embedding.linear_2", temb, temb, true);
        int out = boc[0];
        for (int i = 0; i < n; i++) {
            int in = out;
            out = boc[i];
            for (int j = 0; j < layers; j++) {
                resnet(m, "down_blocks." + i + ".resnets." + j, j == 0 ? in : out, out, temb);
                if (i < n - 1) {
                    transformer(m, "down_blocks." + i + ".attentions." + j, out, cross, linearProj);
                }
            }
            if (i < n - 1) {
                conv(m, "down_blocks." + i + ".downsamplers.0.conv", out, out, 3);
            }
        }
        int c = boc[n - 1];
        resnet(m, "mid_block.resnets.0", c, c, temb);
        transformer(m, "mid_block.attentions.0", c, cross, linearProj);
        resnet(m, "mid_block.resnets.1", c, c, temb);
        int[] rev = new int[n];
        for (int i = 0; i < n; i++) {
            rev[i] = boc[n - 1 - i];
        }
        int prevOut = rev[0];
        for (int i = 0; i < n; i++) {
            int o = rev[i];
            int inputChannel = rev[Math.min(i + 1, n - 1)];
            for (int j = 0; j <= layers; j++) {
                int skip = j == layers ? inputChannel : o;
                int rin = (j == 0 ? prevOut : o) + skip;
                resnet(m, "up_blocks." + i + ".resnets." + j, rin, o, temb);
                if (i > 0) {
                    transformer(m, "up_blocks." + i + ".attentions." + j, o, cross, linearProj);
                }
            }
            if (i < n - 1) {
                conv(m, "up_blocks." + i + ".upsamplers.0.conv", o, o, 3);
            }
            prevOut = o;
        }
        norm(m, "conv_norm_out", boc[0]);
        conv(m, "conv_out", outC, boc[0], 3);
        return m;
    }

    private static void resnet(Map<String, long[]> m, String p, int in, int out, int temb) {
        norm(m, p + ".norm1", in);
        conv(m, p + ".conv1", out, in, 3);
        lin(m, p + ".time_emb_proj", out, temb, true);
        norm(m, p + ".norm2", out);
        conv(m, p + ".conv2", out, out, 3);
        if (in != out) {
            conv(m, p + ".conv_shortcut", out, in, 1);
        }
    }

    private static void transformer(Map<String, long[]> m, String p, int c, int cross, boolean linearProj) {
        norm(m, p + ".norm", c);
        if (linearProj) {
            lin(m, p + ".proj_in", c, c, true);
            lin(m, p + ".proj_out", c, c, true);
        } else {
            conv(m, p + ".proj_in", c, c, 1);
            conv(m, p + ".proj_out", c, c, 1);
        }
        String b = p + ".transformer_blocks.0";
        for (String a : new String[] {"attn1", "attn2"}) {
            int kv = a.equals("attn1") ? c : cross;
            lin(m, b + "." + a + ".to_q", c, c, false);
            lin(m, b + "." + a + ".to_k", c, kv, false);
            lin(m, b + "." + a + ".to_v", c, kv, false);
            lin(m, b + "." + a + ".to_out.0", c, c, true);
        }
        for (String nn : new String[] {"norm1", "norm2", "norm3"}) {
            norm(m, b + "." + nn, c);
        }
        lin(m, b + ".ff.net.0.proj", 8 * c, c, true);
        lin(m, b + ".ff.net.2", c, 4 * c, true);
    }

    private static void conv(Map<String, long[]> m, String p, int out, int in, int k) {
        m.put(p + ".weight", new long[] {out, in, k, k});
        m.put(p + ".bias", new long[] {out});
    }

    private static void lin(Map<String, long[]> m, String p, int out, int in, boolean bias) {
        m.put(p + ".weight", new long[] {out, in});
        if (bias) {
            m.put(p + ".bias", new long[] {out});
        }
    }

    private static void norm(Map<String, long[]> m, String p, int c) {
        m.put(p + ".weight", new long[] {c});
        m.put(p + ".bias", new long[] {c});
    }

    /** An in-memory store of random F32 tensors: weights U(-1/√fan_in, 1/√fan_in), norm weights 1, biases 0. */
    static final class RandomStore implements TensorStore {
        private final Map<String, long[]> layout;
        private final long seed;

        RandomStore(Map<String, long[]> layout, long seed) {
            this.layout = layout;
            this.seed = seed;
        }

        @Override
        public Path source() {
            return Path.of("<random in-memory UNet>");
        }

        @Override
        public Set<String> names() {
            return Collections.unmodifiableSet(new TreeSet<>(layout.keySet()));
        }

        @Override
        public TensorInfo info(String name) {
            long[] s = layout.get(name);
            if (s == null) {
                throw new dev.nextgpt.ModelFormatException("no tensor " + name + " in the random UNet layout");
            }
            return new TensorInfo(name, TensorDType.F32, s);
        }

        @Override
        public ByteBuffer rawBytes(String name) {
            long[] s = info(name).shape();
            long n = 1;
            for (long x : s) {
                n *= x;
            }
            ByteBuffer b = ByteBuffer.allocateDirect(Math.toIntExact(n * 4)).order(ByteOrder.LITTLE_ENDIAN);
            Random r = new Random(seed ^ name.hashCode());
            boolean isNorm = s.length == 1 && name.endsWith(".weight");
            boolean isBias = name.endsWith(".bias");
            double bound = s.length >= 2 ? 1.0 / Math.sqrt(n / s[0]) : 0;
            for (long i = 0; i < n; i++) {
                float v = isNorm ? 1f : isBias ? 0f : (float) ((r.nextDouble() * 2 - 1) * bound);
                b.putFloat(v);
            }
            b.flip();
            return b;
        }

        @Override
        public void close() {
        }
    }

    /** {@code java ... UnetBenchmark [pipelineFolder] [latentSize] [widthDivisor]}. */
    public static void main(String[] args) {
        int size = args.length > 1 ? Integer.parseInt(args[1]) : 32;
        int div = args.length > 2 ? Integer.parseInt(args[2]) : 1;
        if (args.length > 0 && !args[0].equals("-")) {
            System.out.println(benchmarkFolder(Path.of(args[0]), size, 1, 3));
        }
        System.out.println(benchmarkRandomSd2(size, div, 1, 3));
    }
}
