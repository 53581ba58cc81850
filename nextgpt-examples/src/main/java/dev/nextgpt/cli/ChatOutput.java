package dev.nextgpt.cli;

import dev.nextgpt.AudioPart;
import dev.nextgpt.ChatResponse;
import dev.nextgpt.ImagePart;
import dev.nextgpt.MediaRequestPart;
import dev.nextgpt.Part;
import dev.nextgpt.RuntimeFailureException;
import dev.nextgpt.TextPart;
import dev.nextgpt.VideoPart;
import dev.nextgpt.runtime.io.SafetensorsWriter;
import dev.nextgpt.runtime.media.Mp4VideoWriter;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Writes a chat response's parts to a folder and reports what was written. */
final class ChatOutput {
    private ChatOutput() {
    }

    /**
     * Writes {@code <prefix>answer.txt} and per media part a PNG, a WAV, or a GIF plus an MP4; returns the written
     * paths.
     */
    static List<Path> write(ChatResponse r, Path dir, String prefix, PrintStream out) {
        List<Path> written = new ArrayList<>();
        try {
            Files.createDirectories(dir);
            Path text = dir.resolve(prefix + "answer.txt");
            Files.writeString(text, r.text() + "\n", StandardCharsets.UTF_8);
            written.add(text);
            int n = 0;
            for (Part p : r.parts()) {
                n++;
                if (p instanceof TextPart) {
                    continue;
                }
                Path f;
                if (p instanceof ImagePart i) {
                    f = dir.resolve(prefix + "image_" + n + ".png");
                    i.writePng(f);
                } else if (p instanceof AudioPart a) {
                    f = dir.resolve(prefix + "audio_" + n + ".wav");
                    a.writeWav(f);
                } else if (p instanceof VideoPart v) {
                    f = dir.resolve(prefix + "video_" + n + ".gif");
                    Files.write(f, v.toGifBytes());
                    Path mp4 = dir.resolve(prefix + "video_" + n + ".mp4");
                    Mp4VideoWriter.write(v, mp4);
                    written.add(f);
                    f = mp4;
                } else if (p instanceof MediaRequestPart m) {
                    f = dir.resolve(prefix + m.modality().name().toLowerCase() + "_request_" + n + ".safetensors");
                    long[] shape = new long[m.shape().length];
                    for (int k = 0; k < shape.length; k++) {
                        shape[k] = m.shape()[k];
                    }
                    new SafetensorsWriter().addFloats("conditioning", shape, m.conditioning())
                            .metadata("message", m.message()).write(f);
                    out.println("no " + m.modality().name().toLowerCase() + " decoder: wrote its conditioning "
                            + java.util.Arrays.toString(m.shape()) + " instead");
                } else {
                    continue;
                }
                written.add(f);
            }
        } catch (IOException e) {
            throw new RuntimeFailureException("cannot write to " + dir + ": " + e.getMessage(), e);
        }
        for (Path p : written) {
            out.println("wrote " + p);
        }
        return written;
    }
}
