-- +goose Up
-- The audit trail: who (actor) did what (action) to which subjects, when, and with
-- which outcome. Written only through store.Audit, which chains every entry to the
-- previous one: hash = SHA-256 of the entry's canonical encoding including prev_hash,
-- so altering, removing or inserting an entry breaks the chain that
-- `touchpoint audit verify` walks.
--
-- seq is chosen by the writer (last seq + 1, under an advisory lock) rather than by
-- the identity sequence: a rolled-back append would otherwise burn a value and leave
-- a gap that verify cannot tell from a removed entry. The identity only guards against
-- an INSERT that forgets seq (it then collides with the primary key instead of
-- silently forking the chain).
--
-- Subjects are never stored in plaintext: subject_hashes holds keyed hashes
-- (store.SubjectHasher), so an entry about a deleted subject does not keep the
-- identifier the deletion erased.
CREATE TABLE audit_log (
    seq            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at             timestamptz NOT NULL,
    tenant_id      text        NOT NULL,          -- '' for system-wide entries
    actor          text        NOT NULL,          -- key:<key_id>, admin, system:retention, workflow:<id>
    action         text        NOT NULL,          -- deletion.requested, consent.set, apikey.create, ...
    subject_hashes bytea[]     NOT NULL DEFAULT '{}',
    detail         jsonb       NOT NULL DEFAULT '{}',
    outcome        text        NOT NULL,          -- ok, or "error: <reason>"
    prev_hash      bytea       NOT NULL,          -- the previous entry's hash; 32 zero bytes for seq 1
    hash           bytea       NOT NULL
);

-- A tenant's entries newest first (store.Audit.List) and entries about a subject.
CREATE INDEX audit_log_tenant_seq ON audit_log (tenant_id, seq DESC);
CREATE INDEX audit_log_subjects ON audit_log USING gin (subject_hashes);

-- Append-only in the database too, not only in the code: UPDATE, DELETE and TRUNCATE
-- raise. The hash chain detects tampering by someone who bypasses this; the trigger
-- stops accidents and the application's own bugs.
--
-- An operator who must change the log on purpose (e.g. a court order) has to do it
-- deliberately, as the table owner, in one transaction, and knows the chain will
-- report the change from that entry on:
--   BEGIN;
--   ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete;  -- or _no_truncate
--   ... the change ...
--   ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update_delete;
--   COMMIT;
-- +goose StatementBegin
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'see migrations/00012_audit_log.sql to disable the trigger deliberately';
END
$$;
-- +goose StatementEnd

CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- +goose Down
DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only();
