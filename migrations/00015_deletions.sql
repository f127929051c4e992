-- +goose Up
-- A data subject's deletion request (GDPR art. 17 / CCPA §1798.105). The identifiers
-- are kept only sealed (AES-GCM under a key derived from the secrets key) and only
-- until the request completes; what stays afterwards are their keyed hashes, enough
-- to prove what was deleted and to find the request again, never to recover them.
-- The Temporal workflow carries only (tenant, request_id), so no identifier reaches
-- Temporal's history either.
CREATE TABLE deletion_requests (
    tenant_id          text        NOT NULL,
    request_id         text        NOT NULL,
    regulation         text        NOT NULL CHECK (regulation IN ('GDPR', 'CCPA')),
    identifiers_sealed bytea,
    identifier_hashes  bytea[]     NOT NULL DEFAULT '{}',
    status             text        NOT NULL DEFAULT 'received',
    steps              jsonb       NOT NULL DEFAULT '[]',
    requested_by       text        NOT NULL DEFAULT '',
    requested_at       timestamptz NOT NULL DEFAULT now(),
    deadline           timestamptz NOT NULL,
    completed_at       timestamptz,
    PRIMARY KEY (tenant_id, request_id)
);

-- One row per (request, connection) the deletion is propagated to: the platform's id
-- of the submission makes a retried submit find the first one.
CREATE TABLE deletion_propagations (
    tenant_id     text        NOT NULL,
    request_id    text        NOT NULL,
    connection_id text        NOT NULL,
    platform      text        NOT NULL,
    external_id   text        NOT NULL DEFAULT '',
    state         text        NOT NULL DEFAULT 'submitted',
    detail        text        NOT NULL DEFAULT '',
    polls         int         NOT NULL DEFAULT 0,
    submitted_at  timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    PRIMARY KEY (tenant_id, request_id, connection_id),
    FOREIGN KEY (tenant_id, request_id) REFERENCES deletion_requests ON DELETE CASCADE
);

-- How long a tenant keeps personal data (device links, journeys, profiles, raw events)
-- before the daily retention run removes it.
ALTER TABLE tenants ADD COLUMN retention_days int NOT NULL DEFAULT 90
    CHECK (retention_days BETWEEN 1 AND 3650);

-- +goose Down
ALTER TABLE tenants DROP COLUMN retention_days;
DROP TABLE deletion_propagations;
DROP TABLE deletion_requests;
