-- +goose Up
-- The credits of the attribution models: one row per conversion, model and (channel,
-- campaign) pair that got a share of it. Recomputation replaces the rows of a model and
-- a range of conversion times in one transaction, so the primary key also guards
-- against a rerun ever duplicating a credit. Rows name conversions by event id only:
-- they hold no personal data and survive the deletion of the subject's journey rows.
CREATE TABLE attribution_credits (
    tenant_id           text        NOT NULL,
    model               text        NOT NULL,
    conversion_event_id text        NOT NULL,
    converted_at        timestamptz NOT NULL,
    channel             text        NOT NULL,
    campaign_id         text        NOT NULL,
    currency            text        NOT NULL,
    value_micros        bigint      NOT NULL,
    share               float8      NOT NULL,
    computed_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, model, conversion_event_id, channel, campaign_id)
);
-- Reports and the replace of a recompute both select one model's conversions of a
-- time range.
CREATE INDEX attribution_credits_report ON attribution_credits (tenant_id, model, converted_at);

-- +goose Down
DROP TABLE attribution_credits;
