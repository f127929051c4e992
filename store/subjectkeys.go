package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// SubjectKey is one data subject's key for sealing events (package seal converts it
// to seal.Key): Token names it in sealed events, Key is the 32-byte AES-256 key.
type SubjectKey struct {
	Token string
	Key   []byte
}

// SubjectKeys stores the per-subject keys of crypto-shredding (table subject_keys).
// Keys are kept sealed under a key derived from SecretsKey; subjects only as keyed
// hashes. Destroy deletes the keys, which makes every event sealed under them
// unreadable wherever a copy lives (Kafka, the raw archive, backups).
type SubjectKeys struct {
	DB         *pgxpool.Pool
	SecretsKey []byte
}

// subjectKeysPurpose derives the key that wraps the subject keys.
const subjectKeysPurpose = "subject-keys/v1"

// ensureAttempts bounds Ensure's retries; see Ensure.
const ensureAttempts = 3

// Ensure returns the key of each of tenant's subjects, creating the missing ones.
// Creating and reading take one statement per batch. Concurrent calls for the same
// subject agree on one key: the insert skips rows another transaction holds, and a
// row committed by a concurrent call after this statement's snapshot (so invisible
// to it) is picked up by running the statement again.
func (k SubjectKeys) Ensure(ctx context.Context, tenant string, subjects []string) (map[string]SubjectKey, error) {
	if err := k.check(); err != nil {
		return nil, err
	}
	out := make(map[string]SubjectKey, len(subjects))
	pending := uniqueNonEmpty(subjects)
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt == ensureAttempts {
			return nil, fmt.Errorf("subject keys: %d keys of tenant %q still missing after %d attempts", len(pending), tenant, attempt)
		}
		if err := k.ensureOnce(ctx, tenant, pending, out); err != nil {
			return nil, err
		}
		pending = slices.DeleteFunc(pending, func(s string) bool { _, ok := out[s]; return ok })
	}
	return out, nil
}

// ensureOnce inserts fresh keys for subjects (ignoring the ones that exist) and reads
// back every key the statement can see into out.
func (k SubjectKeys) ensureOnce(ctx context.Context, tenant string, subjects []string, out map[string]SubjectKey) error {
	hasher := NewSubjectHasher(k.SecretsKey)
	wrap := DeriveKey(k.SecretsKey, subjectKeysPurpose)
	bySubjectHash := make(map[string]string, len(subjects))
	hashes, tokens, sealed := make([][]byte, len(subjects)), make([]string, len(subjects)), make([][]byte, len(subjects))
	for i, s := range subjects {
		hashes[i] = hasher.Hash(tenant, s)
		bySubjectHash[string(hashes[i])] = s
		var err error
		if tokens[i], sealed[i], err = newSubjectKey(wrap, tenant); err != nil {
			return err
		}
	}
	rows, err := k.DB.Query(ctx, `
		WITH input AS (
			SELECT * FROM unnest($2::bytea[], $3::text[], $4::bytea[]) AS t(subject_hash, token, key_sealed)
		), inserted AS (
			INSERT INTO subject_keys (tenant_id, subject_hash, token, key_sealed)
			SELECT $1, subject_hash, token, key_sealed FROM input
			ON CONFLICT (tenant_id, subject_hash) DO NOTHING
			RETURNING subject_hash, token, key_sealed
		)
		SELECT subject_hash, token, key_sealed FROM inserted
		UNION ALL
		SELECT k.subject_hash, k.token, k.key_sealed FROM subject_keys k
		WHERE k.tenant_id = $1 AND k.subject_hash = ANY($2::bytea[])`,
		tenant, hashes, tokens, sealed)
	if err != nil {
		return fmt.Errorf("subject keys: ensure %d keys of tenant %q: %w", len(subjects), tenant, err)
	}
	var hash, wrapped []byte
	var token string
	_, err = pgx.ForEachRow(rows, []any{&hash, &token, &wrapped}, func() error {
		key, err := open(wrap, wrapped, keyAD(tenant, token))
		if err != nil {
			return fmt.Errorf("unwrap key %s: %w", token, err)
		}
		out[bySubjectHash[string(hash)]] = SubjectKey{Token: token, Key: key}
		return nil
	})
	if err != nil {
		return fmt.Errorf("subject keys: ensure keys of tenant %q: %w", tenant, err)
	}
	return nil
}

// newSubjectKey returns a fresh token and a fresh key sealed under wrap.
func newSubjectKey(wrap []byte, tenant string) (string, []byte, error) {
	var tok [16]byte
	_, _ = rand.Read(tok[:]) // crypto/rand.Read never fails
	token := base64.RawURLEncoding.EncodeToString(tok[:])
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	sealed, err := seal(wrap, key, keyAD(tenant, token))
	if err != nil {
		return "", nil, fmt.Errorf("subject keys: seal a new key: %w", err)
	}
	return token, sealed, nil
}

// keyAD binds a sealed key to its row: copied into another row it does not open.
func keyAD(tenant, token string) []byte {
	return []byte("touchpoint/subject-key/v1\x00" + tenant + "\x00" + token)
}

// ByTokens returns the keys that still exist among tokens, by token. A token missing
// from the result names a destroyed key: its events are shredded.
func (k SubjectKeys) ByTokens(ctx context.Context, tokens []string) (map[string]SubjectKey, error) {
	if err := k.check(); err != nil {
		return nil, err
	}
	out := make(map[string]SubjectKey, len(tokens))
	if len(tokens) == 0 {
		return out, nil
	}
	wrap := DeriveKey(k.SecretsKey, subjectKeysPurpose)
	rows, err := k.DB.Query(ctx, `SELECT tenant_id, token, key_sealed FROM subject_keys WHERE token = ANY($1::text[])`, tokens)
	if err != nil {
		return nil, fmt.Errorf("subject keys: look up %d tokens: %w", len(tokens), err)
	}
	var tenant, token string
	var wrapped []byte
	_, err = pgx.ForEachRow(rows, []any{&tenant, &token, &wrapped}, func() error {
		key, err := open(wrap, wrapped, keyAD(tenant, token))
		if err != nil {
			return fmt.Errorf("unwrap key %s: %w", token, err)
		}
		out[token] = SubjectKey{Token: token, Key: key}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("subject keys: look up tokens: %w", err)
	}
	return out, nil
}

// Destroy deletes the keys of tenant's subjects and returns how many existed. The
// events sealed under them cannot be opened any more: crypto-shredded. Destroying a
// subject without a key is not an error.
func (k SubjectKeys) Destroy(ctx context.Context, tenant string, subjects []string) (int, error) {
	if err := k.check(); err != nil {
		return 0, err
	}
	hashes := k.hashes(tenant, subjects)
	if len(hashes) == 0 {
		return 0, nil
	}
	tag, err := k.DB.Exec(ctx, `DELETE FROM subject_keys WHERE tenant_id = $1 AND subject_hash = ANY($2::bytea[])`, tenant, hashes)
	if err != nil {
		return 0, fmt.Errorf("subject keys: destroy %d keys of tenant %q: %w", len(hashes), tenant, err)
	}
	return int(tag.RowsAffected()), nil
}

// Exists returns which of tenant's subjects still have a key, for a deletion's final
// verification.
func (k SubjectKeys) Exists(ctx context.Context, tenant string, subjects []string) (map[string]bool, error) {
	if err := k.check(); err != nil {
		return nil, err
	}
	out := map[string]bool{}
	bySubjectHash := map[string]string{}
	hasher := NewSubjectHasher(k.SecretsKey)
	var hashes [][]byte
	for _, s := range uniqueNonEmpty(subjects) {
		h := hasher.Hash(tenant, s)
		bySubjectHash[string(h)] = s
		hashes = append(hashes, h)
	}
	if len(hashes) == 0 {
		return out, nil
	}
	rows, err := k.DB.Query(ctx, `SELECT subject_hash FROM subject_keys WHERE tenant_id = $1 AND subject_hash = ANY($2::bytea[])`, tenant, hashes)
	if err != nil {
		return nil, fmt.Errorf("subject keys: check %d keys of tenant %q: %w", len(hashes), tenant, err)
	}
	var hash []byte
	if _, err := pgx.ForEachRow(rows, []any{&hash}, func() error { out[bySubjectHash[string(hash)]] = true; return nil }); err != nil {
		return nil, fmt.Errorf("subject keys: check keys of tenant %q: %w", tenant, err)
	}
	return out, nil
}

func (k SubjectKeys) hashes(tenant string, subjects []string) [][]byte {
	hasher := NewSubjectHasher(k.SecretsKey)
	var out [][]byte
	for _, s := range uniqueNonEmpty(subjects) {
		out = append(out, hasher.Hash(tenant, s))
	}
	return out
}

func uniqueNonEmpty(subjects []string) []string {
	out := slices.Clone(subjects)
	slices.Sort(out)
	out = slices.Compact(out)
	return slices.DeleteFunc(out, func(s string) bool { return s == "" })
}

// errNoSecretsKey: without the secrets key no key can be wrapped or unwrapped, and
// subject hashes would not match the other stores'.
var errNoSecretsKey = errors.New("subject keys: no secrets key configured")

func (k SubjectKeys) check() error {
	if len(k.SecretsKey) == 0 {
		return errNoSecretsKey
	}
	return nil
}
