-- +goose Up
-- Aggregate keys compare byte-wise (COLLATE "C"): they are identifiers, never sorted
-- for people, and a byte comparison in the primary-key B-tree costs a fraction of a
-- locale-aware one on every upserted row. Late events make the consumer upsert
-- about three rows per event, so this is on the hot path. The tables are rewritten
-- (and their primary keys rebuilt) once.
ALTER TABLE agg_campaign
    ALTER COLUMN tenant_id TYPE text COLLATE "C",
    ALTER COLUMN level TYPE text COLLATE "C",
    ALTER COLUMN campaign_id TYPE text COLLATE "C",
    ALTER COLUMN channel TYPE text COLLATE "C";
ALTER TABLE agg_channel
    ALTER COLUMN tenant_id TYPE text COLLATE "C",
    ALTER COLUMN level TYPE text COLLATE "C",
    ALTER COLUMN channel TYPE text COLLATE "C";
ALTER TABLE agg_conversion_value
    ALTER COLUMN tenant_id TYPE text COLLATE "C",
    ALTER COLUMN level TYPE text COLLATE "C",
    ALTER COLUMN channel TYPE text COLLATE "C",
    ALTER COLUMN currency TYPE text COLLATE "C";
ALTER TABLE agg_interaction
    ALTER COLUMN tenant_id TYPE text COLLATE "C",
    ALTER COLUMN level TYPE text COLLATE "C",
    ALTER COLUMN channel TYPE text COLLATE "C",
    ALTER COLUMN interaction_type TYPE text COLLATE "C";
ALTER TABLE agg_variant
    ALTER COLUMN tenant_id TYPE text COLLATE "C",
    ALTER COLUMN level TYPE text COLLATE "C",
    ALTER COLUMN variant_id TYPE text COLLATE "C";
ALTER TABLE agg_event_type
    ALTER COLUMN tenant_id TYPE text COLLATE "C",
    ALTER COLUMN level TYPE text COLLATE "C",
    ALTER COLUMN event_type TYPE text COLLATE "C";

-- +goose Down
ALTER TABLE agg_campaign
    ALTER COLUMN tenant_id TYPE text COLLATE "default",
    ALTER COLUMN level TYPE text COLLATE "default",
    ALTER COLUMN campaign_id TYPE text COLLATE "default",
    ALTER COLUMN channel TYPE text COLLATE "default";
ALTER TABLE agg_channel
    ALTER COLUMN tenant_id TYPE text COLLATE "default",
    ALTER COLUMN level TYPE text COLLATE "default",
    ALTER COLUMN channel TYPE text COLLATE "default";
ALTER TABLE agg_conversion_value
    ALTER COLUMN tenant_id TYPE text COLLATE "default",
    ALTER COLUMN level TYPE text COLLATE "default",
    ALTER COLUMN channel TYPE text COLLATE "default",
    ALTER COLUMN currency TYPE text COLLATE "default";
ALTER TABLE agg_interaction
    ALTER COLUMN tenant_id TYPE text COLLATE "default",
    ALTER COLUMN level TYPE text COLLATE "default",
    ALTER COLUMN channel TYPE text COLLATE "default",
    ALTER COLUMN interaction_type TYPE text COLLATE "default";
ALTER TABLE agg_variant
    ALTER COLUMN tenant_id TYPE text COLLATE "default",
    ALTER COLUMN level TYPE text COLLATE "default",
    ALTER COLUMN variant_id TYPE text COLLATE "default";
ALTER TABLE agg_event_type
    ALTER COLUMN tenant_id TYPE text COLLATE "default",
    ALTER COLUMN level TYPE text COLLATE "default",
    ALTER COLUMN event_type TYPE text COLLATE "default";
