package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Identity persists the identity graph's links and how far the archive has been read
// into it.
type Identity struct{ DB *pgxpool.Pool }

// IdentityLink is one stored link of the identity graph: A < B, Method "deterministic"
// or "probabilistic", Confidence in (0, 1].
type IdentityLink struct {
	A, B                string
	Method              string
	Confidence          float64
	FirstSeen, LastSeen time.Time
}

// Links returns tenant's links, sorted by A then B.
func (s Identity) Links(ctx context.Context, tenant string) ([]IdentityLink, error) {
	rows, err := s.DB.Query(ctx, `SELECT id_a, id_b, method, confidence, first_seen, last_seen
		FROM identity_links WHERE tenant_id = $1 ORDER BY id_a, id_b`, tenant)
	if err != nil {
		return nil, fmt.Errorf("identity links of %s: %w", tenant, err)
	}
	var out []IdentityLink
	var l IdentityLink
	if _, err := pgx.ForEachRow(rows, []any{&l.A, &l.B, &l.Method, &l.Confidence, &l.FirstSeen, &l.LastSeen}, func() error {
		out = append(out, l)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("identity links of %s: %w", tenant, err)
	}
	return out, nil
}

// ReplaceLinks makes links the whole of tenant's stored graph, in one transaction:
// every link is upserted and every stored link not among them (expired, or a
// probabilistic judgement the latest match no longer makes) is deleted. Saving the
// same set twice changes nothing, so a retried update is harmless.
func (s Identity) ReplaceLinks(ctx context.Context, tenant string, links []IdentityLink) error {
	n := len(links)
	as, bs, methods := make([]string, n), make([]string, n), make([]string, n)
	conf := make([]float64, n)
	first, last := make([]time.Time, n), make([]time.Time, n)
	for i, l := range links {
		if l.A >= l.B {
			return fmt.Errorf("identity links of %s: link %q–%q not in order", tenant, l.A, l.B)
		}
		as[i], bs[i], methods[i], conf[i], first[i], last[i] = l.A, l.B, l.Method, l.Confidence, l.FirstSeen, l.LastSeen
	}
	tx, err := s.DB.Begin(ctx)
	if err != nil {
		return fmt.Errorf("identity links of %s: %w", tenant, err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `INSERT INTO identity_links (tenant_id, id_a, id_b, method, confidence, first_seen, last_seen)
		SELECT $1, a, b, m, c, f, l FROM unnest($2::text[], $3::text[], $4::text[], $5::float8[], $6::timestamptz[], $7::timestamptz[]) AS u(a, b, m, c, f, l)
		ON CONFLICT (tenant_id, id_a, id_b) DO UPDATE SET method = excluded.method, confidence = excluded.confidence,
			first_seen = excluded.first_seen, last_seen = excluded.last_seen`,
		tenant, as, bs, methods, conf, first, last); err != nil {
		return fmt.Errorf("identity links of %s: upsert: %w", tenant, err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM identity_links l WHERE tenant_id = $1 AND NOT EXISTS (
		SELECT 1 FROM unnest($2::text[], $3::text[]) AS u(a, b) WHERE u.a = l.id_a AND u.b = l.id_b)`,
		tenant, as, bs); err != nil {
		return fmt.Errorf("identity links of %s: delete stale: %w", tenant, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("identity links of %s: %w", tenant, err)
	}
	return nil
}

// ExpireLinks deletes every tenant's links last seen before cutoff and returns how
// many it deleted.
func (s Identity) ExpireLinks(ctx context.Context, cutoff time.Time) (int64, error) {
	tag, err := s.DB.Exec(ctx, `DELETE FROM identity_links WHERE last_seen < $1`, cutoff)
	if err != nil {
		return 0, fmt.Errorf("expire identity links: %w", err)
	}
	return tag.RowsAffected(), nil
}

// Watermark returns how far the archive has been read for tenant and topic, and false
// if it never was.
func (s Identity) Watermark(ctx context.Context, tenant, topic string) (time.Time, bool, error) {
	var at time.Time
	err := s.DB.QueryRow(ctx, `SELECT processed_to FROM identity_watermarks WHERE tenant_id = $1 AND topic = $2`, tenant, topic).Scan(&at)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("identity watermark %s/%s: %w", tenant, topic, err)
	}
	return at, true, nil
}

// SetWatermark records that the archive has been read up to at for tenant and topic.
// It never moves a watermark back.
func (s Identity) SetWatermark(ctx context.Context, tenant, topic string, at time.Time) error {
	if _, err := s.DB.Exec(ctx, `INSERT INTO identity_watermarks (tenant_id, topic, processed_to) VALUES ($1, $2, $3)
		ON CONFLICT (tenant_id, topic) DO UPDATE SET processed_to = greatest(identity_watermarks.processed_to, excluded.processed_to), updated_at = now()`,
		tenant, topic, at); err != nil {
		return fmt.Errorf("identity watermark %s/%s: %w", tenant, topic, err)
	}
	return nil
}
