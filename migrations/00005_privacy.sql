-- +goose Up
-- Subjects whose events must be dropped at once (a deletion's first step). subject_id
-- is any identifier an event carries: customer_id, user_id, anonymous_id or device_id.
CREATE TABLE suppressed_subjects (
    tenant_id  text NOT NULL,
    subject_id text NOT NULL,
    reason     text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, subject_id)
);

-- Consent per subject. No row means the tenant's default, which is consent given;
-- analytics = false means the subject's events are not analysed.
CREATE TABLE consent (
    tenant_id  text NOT NULL,
    subject_id text NOT NULL,
    analytics  boolean NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, subject_id)
);

-- +goose Down
DROP TABLE consent;
DROP TABLE suppressed_subjects;
