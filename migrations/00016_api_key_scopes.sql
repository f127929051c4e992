-- +goose Up
-- An API key's scopes: what it may do within its tenant. ingest = POST /v1/events;
-- read = the GET endpoints (metrics, attribution, connections without credentials,
-- consent, deletions); admin = changes (connections, syncs, schedules, consent,
-- deletions, attribution runs) and the tenant's own keys and audit trail.
-- Existing keys get ingest and read, not admin: until now every key could also change
-- connections, consent and deletions; a tenant that did so needs a key created with
-- the admin scope (POST /v1/admin/tenants/{tenant}/keys). Privilege is granted, never
-- inherited by default.
ALTER TABLE api_keys
    ADD COLUMN scopes text[] NOT NULL DEFAULT '{ingest,read}'
        CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['ingest', 'read', 'admin']::text[]);

-- +goose Down
ALTER TABLE api_keys DROP COLUMN scopes;
