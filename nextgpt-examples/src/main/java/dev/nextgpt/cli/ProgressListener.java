package dev.nextgpt.cli;

import dev.nextgpt.ChatListener;
import dev.nextgpt.Modality;

import java.io.PrintStream;

/** Prints streamed text as it arrives and one line per finished diffusion step. */
final class ProgressListener implements ChatListener {
    private final PrintStream out;
    private boolean inText;

    ProgressListener(PrintStream out) {
        this.out = out;
    }

    @Override
    public void onTextDelta(String delta) {
        if (!inText) {
            out.print("assistant> ");
            inText = true;
        }
        out.print(delta);
        out.flush();
    }

    @Override
    public void onMediaProgress(Modality modality, int step, int totalSteps) {
        if (inText) {
            out.println();
            inText = false;
        }
        out.println("  " + modality.name().toLowerCase() + " decoder step " + step + "/" + totalSteps);
    }
}
