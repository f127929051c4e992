package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Privacy reads and writes the suppression list and consent records the consumer
// enforces.
type Privacy struct{ DB *pgxpool.Pool }

// BlockedKey is how Blocked names a subject: tenant, a zero byte, subject id.
func BlockedKey(tenant, subject string) string { return tenant + "\x00" + subject }

// Blocked returns every subject whose events must be dropped: suppressed ones and
// ones that refused analytics consent.
func (p Privacy) Blocked(ctx context.Context) (map[string]struct{}, error) {
	rows, err := p.DB.Query(ctx, `
		SELECT tenant_id, subject_id FROM suppressed_subjects
		UNION
		SELECT tenant_id, subject_id FROM consent WHERE NOT analytics`)
	if err != nil {
		return nil, fmt.Errorf("load blocked subjects: %w", err)
	}
	out := map[string]struct{}{}
	var t, s string
	if _, err := pgx.ForEachRow(rows, []any{&t, &s}, func() error { out[BlockedKey(t, s)] = struct{}{}; return nil }); err != nil {
		return nil, fmt.Errorf("load blocked subjects: %w", err)
	}
	return out, nil
}

// Suppress adds a subject to the suppression list.
func (p Privacy) Suppress(ctx context.Context, tenant, subject, reason string) error {
	_, err := p.DB.Exec(ctx, `INSERT INTO suppressed_subjects (tenant_id, subject_id, reason) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING`, tenant, subject, reason)
	if err != nil {
		return fmt.Errorf("suppress %s/%s: %w", tenant, subject, err)
	}
	return nil
}

// SetConsent records whether a subject consents to analytics.
func (p Privacy) SetConsent(ctx context.Context, tenant, subject string, analytics bool) error {
	_, err := p.DB.Exec(ctx, `INSERT INTO consent (tenant_id, subject_id, analytics) VALUES ($1, $2, $3)
		ON CONFLICT (tenant_id, subject_id) DO UPDATE SET analytics = excluded.analytics, updated_at = now()`,
		tenant, subject, analytics)
	if err != nil {
		return fmt.Errorf("set consent %s/%s: %w", tenant, subject, err)
	}
	return nil
}
