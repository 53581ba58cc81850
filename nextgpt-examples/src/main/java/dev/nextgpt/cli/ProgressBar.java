package dev.nextgpt.cli;

import java.io.PrintStream;

/** A one-line text progress bar on stderr (redrawn in place on a terminal, sparse lines otherwise). */
final class ProgressBar implements AutoCloseable {
    private final String label;
    private final long total;
    private final PrintStream out;
    private final boolean interactive;
    private final long started = System.nanoTime();
    private long done;
    private int lastPercent = -1;

    ProgressBar(String label, long total) {
        this(label, total, System.err, System.console() != null);
    }

    ProgressBar(String label, long total, PrintStream out, boolean interactive) {
        this.label = label;
        this.total = Math.max(total, 1);
        this.out = out;
        this.interactive = interactive;
    }

    void step(long amount, String detail) {
        done += amount;
        int percent = (int) Math.min(100, done * 100 / total);
        if (!interactive && percent / 10 == lastPercent / 10 && percent != 100) {
            return;
        }
        if (percent == lastPercent && !interactive) {
            return;
        }
        lastPercent = percent;
        int width = 30;
        int filled = percent * width / 100;
        double secs = (System.nanoTime() - started) / 1e9;
        String bar = "[" + "#".repeat(filled) + " ".repeat(width - filled) + "]";
        String line = String.format("%s %s %3d%% %.1fs %s", label, bar, percent, secs, detail == null ? "" : detail);
        if (interactive) {
            out.print("\r" + line + "\u001b[K");
        } else {
            out.println(line);
        }
        out.flush();
    }

    @Override
    public void close() {
        if (interactive) {
            out.println();
        }
    }
}
