-- +goose Up
-- Consumer offsets live here, written in the same transaction as the data a batch
-- produced, so a batch is applied exactly once whatever Kafka's own commits say.
CREATE TABLE consumer_offsets (
    consumer_group text   NOT NULL,
    topic          text   NOT NULL,
    partition      int    NOT NULL,
    next_offset    bigint NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, partition)
);

-- +goose Down
DROP TABLE consumer_offsets;
