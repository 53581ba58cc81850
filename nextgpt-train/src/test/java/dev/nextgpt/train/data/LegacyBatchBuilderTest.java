package dev.nextgpt.train.data;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.nextgpt.train.TrainFixture;
import dev.nextgpt.train.data.LegacyBatchBuilder.Modality;
import dev.nextgpt.train.data.LegacyBatchBuilder.Turn;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class LegacyBatchBuilderTest {
    static LegacyTokenizer tokenizer;
    static LegacyBatchBuilder builder;

    @BeforeAll
    static void load() {
        tokenizer = TrainFixture.tokenizer();
        builder = new LegacyBatchBuilder(tokenizer, 1, 2, 512,
                Map.of(Modality.IMAGE, 4, Modality.VIDEO, 24, Modality.AUDIO, 8));
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    @Test
    void everyTokenizerCallOfTheFixtureMatches() {
        int n = 0;
        for (JsonElement e : TrainFixture.cases().getAsJsonArray("tokenizer_calls")) {
            JsonObject call = e.getAsJsonObject();
            String text = call.get("text").getAsString();
            assertArrayEquals(TrainFixture.longs(call.getAsJsonArray("ids")), tokenizer.encode(text), text);
            n++;
        }
        assertEquals(true, n > 10, "fixture has tokenizer calls");
    }

    @Test
    void processCaptionMatchesTheFixtureTexts() {
        for (JsonElement c : TrainFixture.cases().getAsJsonArray("cases")) {
            JsonObject cs = c.getAsJsonObject();
            if (cs.get("stage").getAsInt() == 3) {
                continue;
            }
            var samples = cs.getAsJsonArray("samples");
            for (int i = 0; i < samples.size(); i++) {
                String raw = samples.get(i).getAsJsonObject().get("raw_caption").getAsString();
                assertEquals(cs.getAsJsonArray("output_texts").get(i).getAsString(), CaptionText.process(raw));
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"s1_image", "s1_audio", "s2_image", "s2_video", "s2_audio", "s3_tx2t_image",
            "s3_t2x_video", "s3_t2x_image"})
    void batchLayoutMatchesTheOriginal(String name) {
        JsonObject cs = TrainFixture.caseNamed(name);
        int stage = cs.get("stage").getAsInt();
        String type = cs.get("dataset_type").getAsString();
        List<LegacyBatchBuilder.Instance> instances = new ArrayList<>();
        var samples = cs.getAsJsonArray("samples");
        for (int i = 0; i < samples.size(); i++) {
            JsonObject s = samples.get(i).getAsJsonObject();
            if (stage == 3) {
                List<Turn> turns = new ArrayList<>();
                for (JsonElement t : s.getAsJsonArray("conversation")) {
                    JsonObject o = t.getAsJsonObject();
                    turns.add(new Turn(o.get("from").getAsString(), o.get("value").getAsString(),
                            o.has("input_modality") ? modality(o.get("input_modality").getAsString()) : null,
                            o.has("output_modality") ? modality(o.get("output_modality").getAsString()) : null));
                }
                instances.add(builder.stage3(turns));
            } else {
                String caption = CaptionText.process(s.get("raw_caption").getAsString());
                instances.add(stage == 1 ? builder.stage1(caption, "generate a caption")
                        : builder.stage2(caption, outputModality(type)));
            }
        }
        boolean withMedia = type.endsWith("ToText") && !type.equals("TextToText");
        LegacyBatchBuilder.Batch batch = builder.collate(instances, withMedia);
        assertArrayEquals(TrainFixture.longMatrix(cs.getAsJsonArray("input_ids")), batch.inputIds());
        assertArrayEquals(TrainFixture.longMatrix(cs.getAsJsonArray("target_ids")), batch.targetIds());
        assertArrayEquals(TrainFixture.longMatrix(cs.getAsJsonArray("attention_mask")), batch.attentionMask());
        assertArrayEquals(TrainFixture.longMatrix(cs.getAsJsonArray("wrapped_targets")), batch.wrappedTargets());
        assertArrayEquals(TrainFixture.longMatrix(cs.getAsJsonArray("wrapped_attention_mask")),
                batch.wrappedAttentionMask());
        assertEquals(cs.get("seq_len_wrapped").getAsInt(), batch.wrappedLength());
        if (cs.has("signal_span_in_wrapped")) {
            long[][] spans = TrainFixture.longMatrix(cs.getAsJsonArray("signal_span_in_wrapped"));
            for (int r = 0; r < batch.batchSize(); r++) {
                int[] span = builder.signalSpan(batch.wrappedTargets()[r], outputModality(type));
                assertArrayEquals(spans[r], new long[] {span[0], span[1]}, "row " + r);
            }
        }
    }

    static Modality modality(String s) {
        return Modality.valueOf(s.toUpperCase(Locale.ROOT));
    }

    static Modality outputModality(String datasetType) {
        return switch (datasetType) {
            case "TextToImage" -> Modality.IMAGE;
            case "TextToVideo" -> Modality.VIDEO;
            case "TextToAudio" -> Modality.AUDIO;
            default -> Modality.TEXT;
        };
    }
}
