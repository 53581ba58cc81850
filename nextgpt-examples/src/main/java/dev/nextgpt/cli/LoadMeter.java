package dev.nextgpt.cli;

import dev.nextgpt.runtime.io.LoadProgress;

import java.io.PrintStream;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;

/** A load progress line on stderr: tensors and bytes loaded so far and the rate, redrawn at most every 250 ms. */
final class LoadMeter implements AutoCloseable {
    private final PrintStream out = System.err;
    private final boolean interactive = System.console() != null;
    private final long started = System.nanoTime();
    private final AtomicLong tensors = new AtomicLong();
    private final AtomicLong bytes = new AtomicLong();
    private final AutoCloseable registration;
    private volatile long lastDraw;

    LoadMeter() {
        registration = LoadProgress.listen(info -> {
            tensors.incrementAndGet();
            bytes.addAndGet(info.byteSize());
            long now = System.nanoTime();
            if (now - lastDraw > 250_000_000L) {
                lastDraw = now;
                draw(false);
            }
        });
    }

    private synchronized void draw(boolean last) {
        double secs = Math.max(1e-9, (System.nanoTime() - started) / 1e9);
        double mb = bytes.get() / 1e6;
        String line = String.format(Locale.ROOT, "loading weights: %d tensors, %.1f MB, %.1f s (%.0f MB/s)",
                tensors.get(), mb, secs, mb / secs);
        if (interactive) {
            out.print("\r" + line + "\u001b[K" + (last ? "\n" : ""));
        } else if (last) {
            out.println(line);
        }
        out.flush();
    }

    @Override
    public void close() {
        try {
            registration.close();
        } catch (Exception ignored) {
            // nothing to release
        }
        draw(true);
    }
}
