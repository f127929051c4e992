-- +goose Up
-- A tenant's connection to an ad platform. credentials is the JSON of the platform's
-- credentials sealed with AES-GCM (nonce || ciphertext) under TOUCHPOINT_SECRETS_KEY;
-- the API never returns it.
CREATE TABLE connections (
    tenant_id     text        NOT NULL,
    connection_id text        NOT NULL,
    platform      text        NOT NULL CHECK (platform IN ('googleads', 'meta')),
    account_id    text        NOT NULL,
    credentials   bytea       NOT NULL,
    status        text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'needs_reauth')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, connection_id)
);

-- How far each stream of a connection has been synced: the last completed day.
CREATE TABLE sync_cursors (
    tenant_id     text        NOT NULL,
    connection_id text        NOT NULL,
    stream        text        NOT NULL,
    cursor_date   date        NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, connection_id, stream)
);

-- Daily campaign performance as the platforms report it, by natural key, so a rerun
-- replaces restated days rather than duplicating them.
CREATE TABLE platform_campaign_days (
    tenant_id      text        NOT NULL,
    connection_id  text        NOT NULL,
    platform       text        NOT NULL,
    account_id     text        NOT NULL,
    campaign_id    text        NOT NULL,
    date           date        NOT NULL,
    campaign_name  text        NOT NULL,
    impressions    bigint      NOT NULL,
    clicks         bigint      NOT NULL,
    conversions    float8      NOT NULL,
    cost_micros    bigint      NOT NULL,
    revenue_micros bigint      NOT NULL,
    currency       text        NOT NULL,
    synced_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, platform, account_id, campaign_id, date)
);

-- +goose Down
DROP TABLE platform_campaign_days;
DROP TABLE sync_cursors;
DROP TABLE connections;
