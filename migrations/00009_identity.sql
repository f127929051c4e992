-- +goose Up
-- The persisted identity graph: one row per link between two namespaced identifiers
-- (id_a < id_b) of one tenant. Deterministic links come from identifiers seen together
-- in one event (confidence 1); probabilistic ones from device matching, with the match
-- probability as confidence. A link expires 90 days after last_seen.
CREATE TABLE identity_links (
    tenant_id  text        NOT NULL,
    id_a       text        NOT NULL,
    id_b       text        NOT NULL,
    method     text        NOT NULL CHECK (method IN ('deterministic', 'probabilistic')),
    confidence float8      NOT NULL CHECK (confidence > 0 AND confidence <= 1),
    first_seen timestamptz NOT NULL,
    last_seen  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id_a, id_b),
    CHECK (id_a < id_b)
);
-- Expiry selects by last_seen.
CREATE INDEX identity_links_last_seen ON identity_links (last_seen);

-- How far the identity update has read the raw archive (by archived_at), per tenant
-- ('*' for a run over every tenant) and topic.
CREATE TABLE identity_watermarks (
    tenant_id    text        NOT NULL,
    topic        text        NOT NULL,
    processed_to timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, topic)
);

-- +goose Down
DROP TABLE identity_watermarks;
DROP TABLE identity_links;
