-- +goose Up
-- The touchpoints and conversions attribution reads, written by the consumer in the
-- same transaction as the archive and the aggregates. One row per consumer batch,
-- tenant and partition, with one array element per touchpoint (or conversion): the
-- columns attribution needs, without a row and index entry per event on the hot path.
-- Day partitions (of ingestion, like the archive) carry the retention.
CREATE TABLE journey_touchpoints (
    tenant_id         text        NOT NULL,
    day               date        NOT NULL,
    topic             text        NOT NULL,
    partition         int         NOT NULL,
    first_offset      bigint      NOT NULL,
    event_ids         text[]      NOT NULL,
    occurred_at       timestamptz[] NOT NULL,
    customer_ids      text[]      NOT NULL,
    journey_ids       text[]      NOT NULL,
    device_ids        text[]      NOT NULL,
    anonymous_ids     text[]      NOT NULL,
    user_ids          text[]      NOT NULL,
    channels          text[]      NOT NULL,
    interaction_types text[]      NOT NULL,
    campaign_ids      text[]      NOT NULL,
    min_occurred_at   timestamptz NOT NULL,
    max_occurred_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, day, topic, partition, first_offset)
) PARTITION BY RANGE (day);
CREATE INDEX journey_touchpoints_time ON journey_touchpoints (tenant_id, max_occurred_at);

CREATE TABLE journey_conversions (
    tenant_id           text        NOT NULL,
    day                 date        NOT NULL,
    topic               text        NOT NULL,
    partition           int         NOT NULL,
    first_offset        bigint      NOT NULL,
    event_ids           text[]      NOT NULL,
    occurred_at         timestamptz[] NOT NULL,
    customer_ids        text[]      NOT NULL,
    journey_ids         text[]      NOT NULL,
    device_ids          text[]      NOT NULL,
    anonymous_ids       text[]      NOT NULL,
    user_ids            text[]      NOT NULL,
    channels            text[]      NOT NULL,
    value_micros        bigint[]    NOT NULL,
    currencies          text[]      NOT NULL,
    attribution_weights float8[]    NOT NULL,
    min_occurred_at     timestamptz NOT NULL,
    max_occurred_at     timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, day, topic, partition, first_offset)
) PARTITION BY RANGE (day);
CREATE INDEX journey_conversions_time ON journey_conversions (tenant_id, max_occurred_at);

-- +goose Down
DROP TABLE journey_conversions;
DROP TABLE journey_touchpoints;
