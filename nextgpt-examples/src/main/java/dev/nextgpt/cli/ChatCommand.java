package dev.nextgpt.cli;

import dev.nextgpt.ChatRequest;
import dev.nextgpt.ChatResponse;
import dev.nextgpt.Conversation;
import dev.nextgpt.NextGpt;
import dev.nextgpt.NextGptException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code nextgpt chat --system DIR}: one-shot with {@code --prompt}, otherwise an interactive multi-turn chat on
 * stdin ({@code /image PATH}, {@code /audio PATH}, {@code /video PATH} attach media to the next message,
 * {@code /quit} ends). Produced media are saved to {@code --out} and their paths printed.
 */
@Command(name = "chat", description = "Chat with a legacy NExT-GPT system folder: one-shot (--prompt) or interactive "
        + "(stdin; /image PATH, /audio PATH, /video PATH, /quit).")
final class ChatCommand implements Callable<Integer> {

    @Option(names = "--system", required = true, description = "legacy NExT-GPT system folder")
    Path system;

    @Option(names = "--prompt", description = "one-shot user text (otherwise interactive)")
    String prompt;

    @Option(names = "--image", description = "input image (one-shot)")
    Path image;

    @Option(names = "--audio", description = "input WAV (one-shot)")
    Path audio;

    @Option(names = "--video", description = "input video (one-shot)")
    Path video;

    @Option(names = "--out", defaultValue = "nextgpt-chat-out", description = "output folder (default: ${DEFAULT-VALUE})")
    Path out;

    @Override
    public Integer call() throws IOException {
        NextGpt built;
        try (LoadMeter meter = new LoadMeter()) {
            built = NextGpt.builder().withSystemLayout(system).build();
        }
        try (NextGpt model = built) {
            if (prompt != null) {
                ChatRequest.Builder b = ChatRequest.builder();
                if (image != null) {
                    b.image(image);
                }
                if (audio != null) {
                    b.audio(audio);
                }
                if (video != null) {
                    b.video(video);
                }
                ChatResponse r = model.chat(b.text(prompt).build(), new ProgressListener(System.out));
                System.out.println();
                ChatOutput.write(r, out, "", System.out);
                return 0;
            }
            return interactive(model);
        }
    }

    private int interactive(NextGpt model) throws IOException {
        Conversation conv = model.newConversation();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        ChatRequest.Builder pending = ChatRequest.builder();
        int turn = 0;
        System.out.println("interactive chat; /image PATH, /audio PATH, /video PATH attach media, /quit ends");
        String line;
        while ((line = in.readLine()) != null) {
            line = line.strip();
            if (line.isEmpty()) {
                continue;
            }
            try {
                if (line.equals("/quit")) {
                    break;
                } else if (line.startsWith("/image ")) {
                    pending.image(Path.of(line.substring(7).strip()));
                } else if (line.startsWith("/audio ")) {
                    pending.audio(Path.of(line.substring(7).strip()));
                } else if (line.startsWith("/video ")) {
                    pending.video(Path.of(line.substring(7).strip()));
                } else {
                    ChatResponse r = conv.send(pending.text(line).build(), new ProgressListener(System.out));
                    System.out.println();
                    turn++;
                    ChatOutput.write(r, out, "turn" + turn + "_", System.out);
                    pending = ChatRequest.builder();
                }
            } catch (NextGptException e) {
                System.out.println("error: " + e.getMessage());
                pending = ChatRequest.builder();
            }
        }
        return 0;
    }
}
