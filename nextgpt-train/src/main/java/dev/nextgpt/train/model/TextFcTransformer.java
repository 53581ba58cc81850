package dev.nextgpt.train.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import dev.nextgpt.InvalidInputException;
import dev.nextgpt.ModelFormatException;
import dev.nextgpt.UnsupportedConfigurationException;

/**
 * A differentiable twin of the legacy {@code TextFcLayer(mode='transformer')} (and the current
 * {@code TransformersProjector}) for training: {@code fc(x + input_embs)} → {@code nn.Transformer(src, query_embs
 * repeated over the batch)} with {@code batch_first=True, norm_first=True}, ReLU FFN, no masks, dropout 0, final
 * encoder and decoder LayerNorms → {@code model}. Written with functional NDArray ops on the weights of a
 * {@link ParameterStore}, so gradients reach every tensor (reference §4.1). The inference twin is
 * {@code runtime.nextgpt.TransformerOutputProjector}.
 */
public final class TextFcTransformer {
    private final String prefix;
    private final String inName;
    private final String outName;
    private final int heads;
    private final float eps;
    private final int encoderLayers;
    private final int decoderLayers;
    private final int width;
    private final int numQueries;
    private final int outDim;

    private TextFcTransformer(String prefix, String inName, String outName, int heads, float eps, int enc, int dec,
                              int width, int numQueries, int outDim) {
        this.prefix = prefix;
        this.inName = inName;
        this.outName = outName;
        this.heads = heads;
        this.eps = eps;
        this.encoderLayers = enc;
        this.decoderLayers = dec;
        this.width = width;
        this.numQueries = numQueries;
        this.outDim = outDim;
    }

    /**
     * Reads the shape of the projector stored under {@code prefix} (e.g. {@code gen_text_hidden_fcs.0.}); legacy
     * ({@code fc}/{@code model}) or current ({@code in_fc}/{@code out_fc}) names.
     */
    public static TextFcTransformer detect(ParameterStore p, String prefix, int heads, float eps) {
        String in = p.has(prefix + "fc.weight") ? "fc" : "in_fc";
        String out = p.has(prefix + "model.weight") ? "model" : "out_fc";
        if (!p.has(prefix + in + ".weight") || !p.has(prefix + "query_embs")) {
            throw new ModelFormatException("no transformer output projector under '" + prefix + "' (need "
                    + prefix + "fc.weight and " + prefix + "query_embs)");
        }
        int enc = count(p, prefix + "tfm.encoder.layers.");
        int dec = count(p, prefix + "tfm.decoder.layers.");
        if (enc == 0 || dec == 0) {
            throw new ModelFormatException("projector '" + prefix + "' has " + enc + " encoder and " + dec
                    + " decoder layers; both must be > 0");
        }
        Shape q = p.peek(prefix + "query_embs").getShape();
        int width = (int) p.peek(prefix + in + ".weight").getShape().get(0);
        if (width % heads != 0) {
            throw new UnsupportedConfigurationException("projector width " + width + " of '" + prefix
                    + "' is not divisible by " + heads + " heads");
        }
        int outDim = (int) p.peek(prefix + out + ".weight").getShape().get(0);
        return new TextFcTransformer(prefix, in, out, heads, eps, enc, dec, width, (int) q.get(q.dimension() - 2),
                outDim);
    }

    private static int count(ParameterStore p, String layerPrefix) {
        int n = 0;
        while (p.has(layerPrefix + n + ".linear1.weight")) {
            n++;
        }
        return n;
    }

    public String prefix() {
        return prefix;
    }

    public int numQueries() {
        return numQueries;
    }

    public int outDim() {
        return outDim;
    }

    /** {@code x}, {@code inputEmbs}: {@code [B, n, D_llm]} → {@code [B, Q, outDim]}. */
    public NDArray forward(ParameterStore p, NDArray x, NDArray inputEmbs) {
        if (!x.getShape().equals(inputEmbs.getShape()) || x.getShape().dimension() != 3) {
            throw new InvalidInputException("projector '" + prefix + "' expects x and input_embs of equal shape [B, n, D];"
                    + " got " + x.getShape() + " and " + inputEmbs.getShape());
        }
        long batch = x.getShape().get(0);
        NDArray memory = linear(p, inName, x.add(inputEmbs));
        for (int i = 0; i < encoderLayers; i++) {
            String l = "tfm.encoder.layers." + i + ".";
            NDArray n1 = norm(p, l + "norm1", memory);
            memory = memory.add(attention(p, l + "self_attn", n1, n1));
            memory = memory.add(feedForward(p, l, norm(p, l + "norm2", memory)));
        }
        memory = norm(p, "tfm.encoder.norm", memory);
        NDArray query = p.get(prefix + "query_embs");
        NDArray t = query.reshape(1, numQueries, width).broadcast(new Shape(batch, numQueries, width));
        for (int i = 0; i < decoderLayers; i++) {
            String l = "tfm.decoder.layers." + i + ".";
            NDArray n1 = norm(p, l + "norm1", t);
            t = t.add(attention(p, l + "self_attn", n1, n1));
            t = t.add(attention(p, l + "multihead_attn", norm(p, l + "norm2", t), memory));
            t = t.add(feedForward(p, l, norm(p, l + "norm3", t)));
        }
        t = norm(p, "tfm.decoder.norm", t);
        return linear(p, outName, t);
    }

    private NDArray linear(ParameterStore p, String name, NDArray x) {
        NDArray y = x.matMul(p.get(prefix + name + ".weight").transpose());
        String bias = prefix + name + ".bias";
        return p.has(bias) ? y.add(p.get(bias)) : y;
    }

    private NDArray norm(ParameterStore p, String name, NDArray x) {
        return ai.djl.nn.norm.LayerNorm.layerNorm(x, new Shape(width), p.get(prefix + name + ".weight"),
                p.get(prefix + name + ".bias"), eps).singletonOrThrow();
    }

    private NDArray feedForward(ParameterStore p, String layer, NDArray x) {
        return linear(p, layer + "linear2", ai.djl.nn.Activation.relu(linear(p, layer + "linear1", x)));
    }

    /** {@code nn.MultiheadAttention} with packed {@code in_proj} (rows q | k | v), no masks. */
    private NDArray attention(ParameterStore p, String name, NDArray query, NDArray keyValue) {
        NDList w = p.get(prefix + name + ".in_proj_weight").split(3, 0);
        NDList b = p.get(prefix + name + ".in_proj_bias").split(3, 0);
        long batch = query.getShape().get(0);
        long nq = query.getShape().get(1);
        long nk = keyValue.getShape().get(1);
        int hd = width / heads;
        NDArray q = query.matMul(w.get(0).transpose()).add(b.get(0)).reshape(batch, nq, heads, hd).transpose(0, 2, 1, 3);
        NDArray k = keyValue.matMul(w.get(1).transpose()).add(b.get(1)).reshape(batch, nk, heads, hd)
                .transpose(0, 2, 1, 3);
        NDArray v = keyValue.matMul(w.get(2).transpose()).add(b.get(2)).reshape(batch, nk, heads, hd)
                .transpose(0, 2, 1, 3);
        NDArray probs = GraphScalars.div(q, Math.sqrt(hd)).matMul(k.transpose(0, 1, 3, 2)).softmax(-1);
        NDArray out = probs.matMul(v).transpose(0, 2, 1, 3).reshape(batch, nq, width);
        return linear(p, name + ".out_proj", out);
    }
}
