package dev.nextgpt.cli;

import dev.nextgpt.train.data.CaptionEmbeddings;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;

/**
 * {@code nextgpt precompute-embeddings --decoder DIR --kind sd|zeroscope|audioldm --data FILE.json --out DIR}: the
 * caption-embedding targets of the caption-alignment loss, one float16 {@code <media file name>.npy} per record.
 */
@Command(name = "precompute-embeddings", description = "Write the caption embeddings (CLIP last_hidden_state for "
        + "sd/zeroscope, normalised CLAP text_embeds for audioldm) of a T-X pair file as float16 <media>.npy files.")
final class PrecomputeEmbeddingsCommand implements Callable<Integer> {

    @Option(names = "--decoder", required = true, paramLabel = "DIR", description = "diffusers pipeline folder (tokenizer/, text_encoder/)")
    Path decoder;

    @Option(names = "--kind", required = true, description = "sd, zeroscope or audioldm")
    String kind;

    @Option(names = "--data", required = true, paramLabel = "FILE", description = "JSON list of records (cc3m / webvid / audiocap)")
    Path data;

    @Option(names = "--media-key", description = "record field naming the media file (default image_name / video_name / audio_name)")
    String mediaKey;

    @Option(names = "--caption-key", defaultValue = "caption", description = "record field holding the raw caption (default: ${DEFAULT-VALUE})")
    String captionKey;

    @Option(names = "--batch-size", defaultValue = "128", description = "captions per encoder call (default: ${DEFAULT-VALUE})")
    int batchSize;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "output folder")
    Path out;

    @Override
    public Integer call() {
        CaptionEmbeddings.Kind k = CaptionEmbeddings.Kind.parse(kind);
        try (CaptionEmbeddings emb = CaptionEmbeddings.load(decoder, k)) {
            long t0 = System.nanoTime();
            CaptionEmbeddings.Summary s = emb.precompute(data, mediaKey, captionKey, out, batchSize);
            System.out.printf(java.util.Locale.ROOT, "wrote %d embeddings %s (float16) to %s in %.1f s%n",
                    s.written(), Arrays.toString(s.shape()), s.outDir(), (System.nanoTime() - t0) / 1e9);
        }
        return 0;
    }
}
