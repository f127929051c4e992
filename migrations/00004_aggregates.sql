-- +goose Up
-- Aggregates, one table per metric family, each row one bucket of one level: '5s'
-- (tumbling windows by event time), 'hour', 'day' or 'week' (ISO weeks from Monday),
-- all UTC. The consumer upserts additive deltas into every level in the transaction
-- that advances its offsets, so each level is exact on its own and the API reads a
-- level directly instead of rolling up at query time.
--
-- Counts and money are bigint: money in micro-units of its currency, engagement
-- scores in micro-units too. Sums of integers are exact and associative, so the
-- hourly, daily and weekly rows always equal the sums of their windows, however the
-- events were split into batches; float or rounded numeric would drift apart.
--
-- updated_at is when the row last changed; the API reports freshness from it.
-- There is no foreign key to tenants: checking it would cost every upserted row on
-- the hot path, and aggregates, holding no personal data, are kept when other rows go.

CREATE TABLE agg_campaign (
    tenant_id      text        NOT NULL,
    level          text        NOT NULL CHECK (level IN ('5s', 'hour', 'day', 'week')),
    bucket         timestamptz NOT NULL,
    campaign_id    text        NOT NULL,
    channel        text        NOT NULL,
    currency       text        NOT NULL, -- of cost_micros and revenue_micros
    impressions    bigint      NOT NULL,
    clicks         bigint      NOT NULL,
    conversions    bigint      NOT NULL,
    cost_micros    bigint      NOT NULL,
    revenue_micros bigint      NOT NULL,
    events         bigint      NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, level, bucket, campaign_id, channel)
);

-- Journey events under the channel of their last touchpoint.
CREATE TABLE agg_channel (
    tenant_id        text        NOT NULL,
    level            text        NOT NULL CHECK (level IN ('5s', 'hour', 'day', 'week')),
    bucket           timestamptz NOT NULL,
    channel          text        NOT NULL,
    journeys_started bigint      NOT NULL,
    stage_changes    bigint      NOT NULL,
    conversions      bigint      NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, level, bucket, channel)
);

-- Conversion value by channel and currency: one tenant's customers may pay in several.
CREATE TABLE agg_conversion_value (
    tenant_id    text        NOT NULL,
    level        text        NOT NULL CHECK (level IN ('5s', 'hour', 'day', 'week')),
    bucket       timestamptz NOT NULL,
    channel      text        NOT NULL,
    currency     text        NOT NULL,
    value_micros bigint      NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, level, bucket, channel, currency)
);

-- Touchpoints by their own channel and interaction type, bucketed by their event's time.
CREATE TABLE agg_interaction (
    tenant_id        text        NOT NULL,
    level            text        NOT NULL CHECK (level IN ('5s', 'hour', 'day', 'week')),
    bucket           timestamptz NOT NULL,
    channel          text        NOT NULL,
    interaction_type text        NOT NULL,
    interactions     bigint      NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, level, bucket, channel, interaction_type)
);

-- Content variants; the mean engagement score is engagement_micros / engagement_count / 1e6.
CREATE TABLE agg_variant (
    tenant_id         text        NOT NULL,
    level             text        NOT NULL CHECK (level IN ('5s', 'hour', 'day', 'week')),
    bucket            timestamptz NOT NULL,
    variant_id        text        NOT NULL,
    views             bigint      NOT NULL,
    clicks            bigint      NOT NULL,
    conversions       bigint      NOT NULL,
    engagement_micros bigint      NOT NULL,
    engagement_count  bigint      NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, level, bucket, variant_id)
);

CREATE TABLE agg_event_type (
    tenant_id  text        NOT NULL,
    level      text        NOT NULL CHECK (level IN ('5s', 'hour', 'day', 'week')),
    bucket     timestamptz NOT NULL,
    event_type text        NOT NULL,
    events     bigint      NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, level, bucket, event_type)
);

-- +goose Down
DROP TABLE agg_event_type;
DROP TABLE agg_variant;
DROP TABLE agg_interaction;
DROP TABLE agg_conversion_value;
DROP TABLE agg_channel;
DROP TABLE agg_campaign;
