-- +goose Up
-- Crypto-shredding (issue 6): one AES-256 key per data subject. The ingest edge seals
-- an event's personal fields under its subject's key before the event reaches Kafka,
-- which keeps raw records for 90 days and cannot delete single ones; deleting the row
-- destroys the key and makes every sealed record of the subject unreadable at once.
--
-- subject_hash is store.SubjectHasher's keyed hash, never the identifier. token is
-- random (128 bits, base64url), not derived from the subject: sealed events carry it
-- in clear to name their key. key_sealed is the subject key, AES-GCM sealed under a
-- key derived from the secrets key and bound to (tenant, token), so a database dump
-- alone opens nothing.
CREATE TABLE subject_keys (
    tenant_id    text        NOT NULL,
    subject_hash bytea       NOT NULL CHECK (length(subject_hash) = 32),
    token        text        NOT NULL UNIQUE,
    key_sealed   bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, subject_hash)
);

-- +goose Down
DROP TABLE subject_keys;
