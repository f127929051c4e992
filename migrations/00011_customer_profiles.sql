-- +goose Up
-- One row per customer of a tenant: the profile the CDP syncs merge (Segment,
-- mParticle) and enrich (LiveRamp RampIDs). customer_id is the id the tenant's events
-- carry. Traits merge latest-wins per trait by the source's timestamp, so
-- trait_times keeps, per trait, the source time of the value kept. The general
-- customer-profile table: later features (predictive scores) add columns here.
CREATE TABLE customer_profiles (
    tenant_id         text        NOT NULL,
    customer_id       text        NOT NULL,
    traits            jsonb       NOT NULL DEFAULT '{}',
    trait_times       jsonb       NOT NULL DEFAULT '{}',
    source_timestamp  timestamptz,
    -- gdpr: the subject restricted processing (analytics consent withdrawn);
    -- ccpa: the subject opted out of sale/sharing (never sent to ad platforms or
    -- identity partners). consent_timestamp is the source time of both flags.
    gdpr              boolean     NOT NULL DEFAULT false,
    ccpa              boolean     NOT NULL DEFAULT false,
    consent_timestamp timestamptz,
    ramp_id           text,
    -- the profile's source_timestamp when ramp_id was resolved: a newer profile
    -- (its email may have changed) is resolved again.
    ramp_resolved_for timestamptz,
    sources           text[]      NOT NULL DEFAULT '{}',
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, customer_id)
);

-- The CDPs' own ids of a customer (Segment user_id, mParticle mpid), so a sync knows
-- which CDP record is which customer. Inserting a known pair changes nothing.
CREATE TABLE cdp_identities (
    tenant_id   text        NOT NULL,
    platform    text        NOT NULL,
    external_id text        NOT NULL,
    customer_id text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, platform, external_id)
);
CREATE INDEX cdp_identities_customer ON cdp_identities (tenant_id, platform, customer_id);

-- CDP connections are connections like the ad platforms'.
ALTER TABLE connections DROP CONSTRAINT connections_platform_check;
ALTER TABLE connections ADD CONSTRAINT connections_platform_check CHECK (platform IN
    ('googleads', 'meta', 'linkedin', 'ga4', 'posthog', 'segment', 'mparticle', 'liveramp'));

-- +goose Down
ALTER TABLE connections DROP CONSTRAINT connections_platform_check;
ALTER TABLE connections ADD CONSTRAINT connections_platform_check CHECK (platform IN ('googleads', 'meta'));
DROP TABLE cdp_identities;
DROP TABLE customer_profiles;
