package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/touchpoint/touchpoint"
)

// Privacy reads and writes the suppression list and the consent records the consumer
// enforces. Postgres is the source of truth; Redis holds, per tenant, the set of
// blocked subject hashes and a global version counter bumped on every change, which
// is how consumers learn within a poll that they must reload (streaming/privacy.go).
//
// Neither store holds a suppressed subject's identifier: only its keyed hash
// (SubjectHasher), so a deletion's final search for the identifier finds nothing here.
// Consent rows keep subject_id so a tenant can list and export them; a deletion
// erases them (EraseConsent).
type Privacy struct {
	DB *pgxpool.Pool
	// Redis may be nil (tests that do not need it): changes then reach consumers
	// through their periodic reload from Postgres only.
	Redis  *redis.Client
	Hasher SubjectHasher
}

// Redis names. The tenant is a hash tag so a tenant's keys share a Redis Cluster slot;
// the version counter is global because a consumer serves every tenant.
const (
	PrivacyVersionKey = "privacy:version"
	PrivacyChannel    = "privacy:changed" // PUBLISHed with the tenant on every change
)

// PrivacyBlockedSetKey is the Redis set of a tenant's blocked subject hashes
// (suppressed or without analytics consent).
func PrivacyBlockedSetKey(tenant string) string { return "privacy:{" + tenant + "}:blocked" }

// Why a subject's events are dropped; also the consumer's "dropped" metric labels.
const (
	ReasonSuppressed = "suppressed"
	ReasonConsent    = "consent"
)

// BlockedKey is how Blocked names a subject: its keyed hash as a raw string. The hash
// already depends on the tenant, so no tenant prefix is needed.
func BlockedKey(hash []byte) string { return string(hash) }

// BlockedSubject is one subject whose events must be dropped.
type BlockedSubject struct {
	TenantID string
	Hash     []byte
	Reason   string // ReasonSuppressed wins over ReasonConsent
}

// BlockList returns every blocked subject: suppressed ones and ones that refused
// analytics consent.
func (p Privacy) BlockList(ctx context.Context) ([]BlockedSubject, error) {
	rows, err := p.DB.Query(ctx, `
		SELECT tenant_id, subject_hash, 'suppressed' FROM suppressed_subjects
		UNION ALL
		SELECT c.tenant_id, c.subject_hash, 'consent' FROM consent c
		WHERE NOT c.analytics AND NOT EXISTS (
			SELECT 1 FROM suppressed_subjects s WHERE s.tenant_id = c.tenant_id AND s.subject_hash = c.subject_hash)`)
	if err != nil {
		return nil, fmt.Errorf("load blocked subjects: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (BlockedSubject, error) {
		var b BlockedSubject
		err := row.Scan(&b.TenantID, &b.Hash, &b.Reason)
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("load blocked subjects: %w", err)
	}
	return out, nil
}

// Blocked returns the BlockedKey of every blocked subject.
func (p Privacy) Blocked(ctx context.Context) (map[string]struct{}, error) {
	list, err := p.BlockList(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]struct{}, len(list))
	for _, b := range list {
		out[BlockedKey(b.Hash)] = struct{}{}
	}
	return out, nil
}

// Suppress puts subjects on the suppression list: Postgres first (the source of
// truth, so a consumer's periodic reload finds them even if Redis is down), then the
// Redis set and the version bump that makes every consumer reload before its next
// batch. It is idempotent; an error after the Postgres write (Redis down) is returned
// so that the caller retries and consumers learn of it at once once Redis is back.
// Errors never name the subjects: they may end up in logs and workflow histories.
func (p Privacy) Suppress(ctx context.Context, tenant string, subjects []string, reason string) error {
	hashes, err := p.hashAll(tenant, subjects)
	if err != nil || len(hashes) == 0 {
		return err
	}
	if _, err := p.DB.Exec(ctx, `
		INSERT INTO suppressed_subjects (tenant_id, subject_hash, reason)
		SELECT $1, h, $3 FROM unnest($2::bytea[]) AS h
		ON CONFLICT DO NOTHING`, tenant, hashes, reason); err != nil {
		return fmt.Errorf("suppress %d subjects of %s: %w", len(hashes), tenant, err)
	}
	if err := p.notify(ctx, tenant, hashes, nil); err != nil {
		return fmt.Errorf("suppress %d subjects of %s: stored in Postgres, but %w", len(hashes), tenant, err)
	}
	return nil
}

// IsSuppressed reports whether subject is on the tenant's suppression list.
func (p Privacy) IsSuppressed(ctx context.Context, tenant, subject string) (bool, error) {
	if !p.Hasher.Valid() {
		return false, errors.New("privacy: no subject hasher configured")
	}
	var ok bool
	err := p.DB.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM suppressed_subjects WHERE tenant_id = $1 AND subject_hash = $2)`,
		tenant, p.Hasher.Hash(tenant, subject)).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("check suppression in %s: %w", tenant, err)
	}
	return ok, nil
}

func (p Privacy) hashAll(tenant string, subjects []string) ([][]byte, error) {
	if !p.Hasher.Valid() {
		return nil, errors.New("privacy: no subject hasher configured")
	}
	seen := map[string]bool{}
	var out [][]byte
	for _, s := range subjects {
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, p.Hasher.Hash(tenant, s))
	}
	return out, nil
}

// notify mirrors a change into the tenant's Redis set and bumps the version every
// consumer watches, in one MULTI so a consumer never sees the version without the set.
func (p Privacy) notify(ctx context.Context, tenant string, add, remove [][]byte) error {
	if p.Redis == nil {
		return nil
	}
	key := PrivacyBlockedSetKey(tenant)
	_, err := p.Redis.TxPipelined(ctx, func(tx redis.Pipeliner) error {
		if len(add) > 0 {
			tx.SAdd(ctx, key, bytesArgs(add)...)
		}
		if len(remove) > 0 {
			tx.SRem(ctx, key, bytesArgs(remove)...)
		}
		tx.Incr(ctx, PrivacyVersionKey)
		tx.Publish(ctx, PrivacyChannel, tenant)
		return nil
	})
	if err != nil {
		return fmt.Errorf("notify consumers through Redis: %w", err)
	}
	return nil
}

func bytesArgs(bs [][]byte) []any {
	out := make([]any, len(bs))
	for i, b := range bs {
		out[i] = b
	}
	return out
}

// Consent is a subject's choice per purpose, as set through the API or synced from a
// CDP. SourceTime is when the source says the choice was made: the latest one wins.
type Consent struct {
	TenantID        string    `json:"-"`
	SubjectID       string    `json:"subject_id"`
	Analytics       bool      `json:"analytics"`
	Personalization bool      `json:"personalization"`
	Advertising     bool      `json:"advertising"`
	Source          string    `json:"source"`
	SourceTime      time.Time `json:"source_time"`
	UpdatedAt       time.Time `json:"updated_at"` // set by the store
}

// SetConsent stores a subject's consent unless the stored one has a newer SourceTime
// (then applied is false and nothing changes): a delayed CDP sync never overrides a
// newer choice, and a retried call with the same SourceTime applies again. A zero
// SourceTime means now; an empty Source means "api". Consumers are notified only when
// analytics changes, the one purpose they enforce.
func (p Privacy) SetConsent(ctx context.Context, c Consent) (applied bool, err error) {
	if err := p.checkConsent(&c); err != nil {
		return false, err
	}
	hash := p.Hasher.Hash(c.TenantID, c.SubjectID)
	changed, suppressed, applied, err := p.upsertConsent(ctx, c, hash)
	if err != nil || !changed {
		return applied, err
	}
	add, remove := [][]byte{hash}, [][]byte(nil)
	if c.Analytics {
		add = nil
		if !suppressed { // still blocked by the suppression otherwise
			remove = [][]byte{hash}
		}
	}
	if err := p.notify(ctx, c.TenantID, add, remove); err != nil {
		return true, fmt.Errorf("set consent in %s: stored in Postgres, but %w", c.TenantID, err)
	}
	return true, nil
}

func (p Privacy) checkConsent(c *Consent) error {
	if !p.Hasher.Valid() {
		return errors.New("privacy: no subject hasher configured")
	}
	if c.TenantID == "" || c.SubjectID == "" {
		return touchpoint.Errorf(touchpoint.EInvalid, "tenant and subject are required")
	}
	if len(c.SubjectID) > 1024 {
		return touchpoint.Errorf(touchpoint.EInvalid, "subject longer than 1024 bytes")
	}
	if c.Source == "" {
		c.Source = "api"
	}
	if c.SourceTime.IsZero() {
		c.SourceTime = time.Now()
	}
	return nil
}

// upsertConsent writes c unless a newer one is stored, and says whether analytics
// changed (so consumers must reload) and whether the subject is suppressed. The
// stored row is locked first so the previous analytics value is exact; when two
// first writes of one subject race, the loser finds a row it did not see and reports
// a change to be safe.
func (p Privacy) upsertConsent(ctx context.Context, c Consent, hash []byte) (changed, suppressed, applied bool, err error) {
	err = pgx.BeginFunc(ctx, p.DB, func(tx pgx.Tx) error {
		var prev *bool
		err := tx.QueryRow(ctx, `SELECT analytics FROM consent WHERE tenant_id = $1 AND subject_hash = $2 FOR UPDATE`,
			c.TenantID, hash).Scan(&prev)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var inserted bool
		err = tx.QueryRow(ctx, `
			INSERT INTO consent AS k (tenant_id, subject_hash, subject_id, analytics, personalization, advertising, source, source_time)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (tenant_id, subject_hash) DO UPDATE SET
				subject_id = excluded.subject_id, analytics = excluded.analytics,
				personalization = excluded.personalization, advertising = excluded.advertising,
				source = excluded.source, source_time = excluded.source_time, updated_at = now()
			WHERE k.source_time <= excluded.source_time
			RETURNING k.xmax = 0, EXISTS (SELECT 1 FROM suppressed_subjects s WHERE s.tenant_id = $1 AND s.subject_hash = $2)`,
			c.TenantID, hash, c.SubjectID, c.Analytics, c.Personalization, c.Advertising, c.Source, c.SourceTime).
			Scan(&inserted, &suppressed)
		if errors.Is(err, pgx.ErrNoRows) { // an older SourceTime than the stored one
			return nil
		}
		if err != nil {
			return err
		}
		applied = true
		before := prev == nil || *prev // no row: consent given
		changed = before != c.Analytics || prev == nil && !inserted
		return nil
	})
	if err != nil {
		return false, false, false, fmt.Errorf("set consent in %s: %w", c.TenantID, err)
	}
	return changed, suppressed, applied, nil
}

const consentColumns = `tenant_id, subject_id, analytics, personalization, advertising, source, source_time, updated_at`

func scanConsent(row pgx.CollectableRow) (Consent, error) {
	var c Consent
	err := row.Scan(&c.TenantID, &c.SubjectID, &c.Analytics, &c.Personalization, &c.Advertising, &c.Source, &c.SourceTime, &c.UpdatedAt)
	return c, err
}

// Consent returns a subject's stored consent; an error of kind not_found when there
// is none (which means consent given for every purpose).
func (p Privacy) Consent(ctx context.Context, tenant, subject string) (Consent, error) {
	if !p.Hasher.Valid() {
		return Consent{}, errors.New("privacy: no subject hasher configured")
	}
	rows, err := p.DB.Query(ctx, `SELECT `+consentColumns+` FROM consent WHERE tenant_id = $1 AND subject_hash = $2`,
		tenant, p.Hasher.Hash(tenant, subject))
	if err != nil {
		return Consent{}, fmt.Errorf("read consent in %s: %w", tenant, err)
	}
	c, err := pgx.CollectExactlyOneRow(rows, scanConsent)
	if errors.Is(err, pgx.ErrNoRows) {
		return Consent{}, touchpoint.Errorf(touchpoint.ENotFound, "no consent recorded for this subject (the default is consent given)")
	}
	if err != nil {
		return Consent{}, fmt.Errorf("read consent in %s: %w", tenant, err)
	}
	return c, nil
}

// ListConsent returns up to limit of the tenant's consents ordered by subject id,
// starting after the subject id after ("" for the first page).
func (p Privacy) ListConsent(ctx context.Context, tenant string, limit int, after string) ([]Consent, error) {
	if limit <= 0 || limit > 1000 {
		return nil, touchpoint.Errorf(touchpoint.EInvalid, "limit must be between 1 and 1000")
	}
	rows, err := p.DB.Query(ctx, `SELECT `+consentColumns+` FROM consent
		WHERE tenant_id = $1 AND subject_id > $2 ORDER BY subject_id LIMIT $3`, tenant, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list consent of %s: %w", tenant, err)
	}
	out, err := pgx.CollectRows(rows, scanConsent)
	if err != nil {
		return nil, fmt.Errorf("list consent of %s: %w", tenant, err)
	}
	return out, nil
}

// EraseConsent deletes the consent rows of subjects (a deletion's erase step) and
// returns how many there were. The subjects are expected to be suppressed already, so
// losing a refusal does not let their events through; consumers are notified anyway
// so that a refusal of a subject that is not suppressed stops applying at once.
func (p Privacy) EraseConsent(ctx context.Context, tenant string, subjects []string) (int, error) {
	hashes, err := p.hashAll(tenant, subjects)
	if err != nil || len(hashes) == 0 {
		return 0, err
	}
	rows, err := p.DB.Query(ctx, `
		DELETE FROM consent c WHERE c.tenant_id = $1 AND c.subject_hash = ANY($2::bytea[])
		RETURNING c.subject_hash, NOT c.analytics AND NOT EXISTS (
			SELECT 1 FROM suppressed_subjects s WHERE s.tenant_id = c.tenant_id AND s.subject_hash = c.subject_hash)`,
		tenant, hashes)
	if err != nil {
		return 0, fmt.Errorf("erase consent of %d subjects in %s: %w", len(hashes), tenant, err)
	}
	var unblocked [][]byte
	n := 0
	var h []byte
	var wasRefusal bool
	if _, err := pgx.ForEachRow(rows, []any{&h, &wasRefusal}, func() error {
		n++
		if wasRefusal {
			unblocked = append(unblocked, append([]byte(nil), h...))
		}
		return nil
	}); err != nil {
		return 0, fmt.Errorf("erase consent of %d subjects in %s: %w", len(hashes), tenant, err)
	}
	if len(unblocked) > 0 {
		if err := p.notify(ctx, tenant, nil, unblocked); err != nil {
			return n, fmt.Errorf("erase consent in %s: erased in Postgres, but %w", tenant, err)
		}
	}
	return n, nil
}
