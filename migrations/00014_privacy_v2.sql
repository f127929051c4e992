-- +goose Up
-- Privacy v2 (issue 6): the suppression list holds only keyed hashes of the subjects
-- (store.SubjectHasher: HMAC-SHA256 under a key derived from the secrets key), so a
-- deletion's final check, which searches every store for the subject's identifiers,
-- finds none here; and consent is recorded per purpose with latest-wins CDP syncs.
--
-- Existing rows cannot be hashed in SQL (the key is not in the database), so both
-- tables are dropped and recreated. This is acceptable only because Touchpoint is
-- pre-release and no installation holds suppressions or consents worth keeping; a
-- released version would need an application-side backfill instead.
DROP TABLE consent;
DROP TABLE suppressed_subjects;

-- Subjects whose events must be dropped at once (a deletion's first step), by keyed
-- hash of any identifier an event carries: customer_id, user_id, anonymous_id or
-- device_id. The hash already depends on the tenant (it is hashed in), tenant_id is
-- there for listing and for the primary key.
CREATE TABLE suppressed_subjects (
    tenant_id    text        NOT NULL,
    subject_hash bytea       NOT NULL CHECK (length(subject_hash) = 32),
    reason       text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, subject_hash)
);

-- Consent per subject and purpose. No row means consent given for every purpose
-- (opt-out model; a tenant that needs opt-in defaults is future work). Events of a
-- subject with analytics = false are dropped by the consumer; personalization and
-- advertising are recorded for the syncs and activations that read them.
--
-- subject_id is kept in plaintext so that a tenant can list and export its consents;
-- a deletion erases the row (store.Privacy.EraseConsent), the suppression list keeps
-- only the hash.
--
-- source_time is when the source (the API caller or a CDP) says the choice was made:
-- an update with an older source_time than the stored one is ignored, so a delayed
-- CDP sync never overrides a newer choice.
CREATE TABLE consent (
    tenant_id       text        NOT NULL,
    subject_hash    bytea       NOT NULL CHECK (length(subject_hash) = 32),
    subject_id      text        NOT NULL,
    analytics       boolean     NOT NULL,
    personalization boolean     NOT NULL,
    advertising     boolean     NOT NULL,
    source          text        NOT NULL,          -- api, segment, mparticle, ...
    source_time     timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, subject_hash)
);

-- The consumer's blocked set reads only the refusals.
CREATE INDEX consent_no_analytics ON consent (tenant_id) WHERE NOT analytics;
-- Listing a tenant's consents in a stable order, page after page.
CREATE INDEX consent_tenant_subject ON consent (tenant_id, subject_id);

-- +goose Down
DROP TABLE consent;
DROP TABLE suppressed_subjects;
CREATE TABLE suppressed_subjects (
    tenant_id  text NOT NULL,
    subject_id text NOT NULL,
    reason     text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, subject_id)
);
CREATE TABLE consent (
    tenant_id  text NOT NULL,
    subject_id text NOT NULL,
    analytics  boolean NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, subject_id)
);
