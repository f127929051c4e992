package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/touchpoint/touchpoint"
)

// Retention applies each tenant's retention policy (tenants.retention_days) to the
// tables derived from events that hold personal data.
//
// What it removes, per tenant, older than the tenant's cutoff:
//   - identity_links last seen before the cutoff;
//   - the touchpoints and conversions (journey_touchpoints, journey_conversions) that
//     occurred before the cutoff. A batch row wholly before the cutoff is deleted; a
//     row straddling it is rewritten without its old elements (and its
//     min_occurred_at raised), so exactly the expired elements go on every run
//     rather than lingering until the whole batch has expired;
//   - attribution_credits of conversions before the cutoff;
//   - customer_profiles not updated since the cutoff, with their cdp_identities (and
//     CDP ids created before the cutoff whose profile no longer exists).
//
// What it keeps on purpose:
//   - consent and suppressed_subjects: legal records of a subject's choices and
//     erasures, which must outlive the data they govern (the suppression list holds
//     only keyed hashes);
//   - deletion_requests and deletion_propagations: the record of erasures done,
//     holding hashes, not identifiers, once complete;
//   - the aggregates (agg_*), which count events and name no person;
//   - the audit log, which is append-only;
//   - the raw archive (event_archive) and the day partitions of the journey tables:
//     a day partition holds every tenant, so it is dropped by the global RETENTION
//     (Archive.DropBefore), not here. A longer tenant policy therefore does not
//     extend what the global retention drops.
type Retention struct{ DB *pgxpool.Pool }

// TenantPolicy is how many days a tenant keeps personal data.
type TenantPolicy struct {
	TenantID string `json:"tenant_id"`
	Days     int    `json:"days"`
}

// Bounds of a retention policy, as the tenants table's CHECK constraint has them.
const (
	MinRetentionDays = 1
	MaxRetentionDays = 3650
)

// RetentionCounts are what one Apply removed. Touchpoints and Conversions count
// elements (events), not batch rows.
type RetentionCounts struct {
	IdentityLinks      int64 `json:"identity_links"`
	Touchpoints        int64 `json:"touchpoints"`
	Conversions        int64 `json:"conversions"`
	AttributionCredits int64 `json:"attribution_credits"`
	Profiles           int64 `json:"customer_profiles"`
	CDPIdentities      int64 `json:"cdp_identities"`
}

// Add returns the sum of two counts: a retried run adds what it removed to what an
// earlier attempt removed.
func (c RetentionCounts) Add(o RetentionCounts) RetentionCounts {
	return RetentionCounts{
		IdentityLinks:      c.IdentityLinks + o.IdentityLinks,
		Touchpoints:        c.Touchpoints + o.Touchpoints,
		Conversions:        c.Conversions + o.Conversions,
		AttributionCredits: c.AttributionCredits + o.AttributionCredits,
		Profiles:           c.Profiles + o.Profiles,
		CDPIdentities:      c.CDPIdentities + o.CDPIdentities,
	}
}

// Total is the number of rows and elements removed.
func (c RetentionCounts) Total() int64 {
	return c.IdentityLinks + c.Touchpoints + c.Conversions + c.AttributionCredits + c.Profiles + c.CDPIdentities
}

// Policies returns every tenant's policy, ordered by tenant id (byte order, whatever
// the database's collation), so runs go through tenants in a stable order.
func (r Retention) Policies(ctx context.Context) ([]TenantPolicy, error) {
	rows, err := r.DB.Query(ctx, `SELECT tenant_id, retention_days FROM tenants ORDER BY tenant_id COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("retention policies: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (TenantPolicy, error) {
		var p TenantPolicy
		return p, row.Scan(&p.TenantID, &p.Days)
	})
	if err != nil {
		return nil, fmt.Errorf("retention policies: %w", err)
	}
	return out, nil
}

// SetPolicy sets how many days tenant keeps personal data. The next daily run
// applies it.
func (r Retention) SetPolicy(ctx context.Context, tenant string, days int) error {
	if days < MinRetentionDays || days > MaxRetentionDays {
		return touchpoint.Errorf(touchpoint.EInvalid, "retention days must be between %d and %d, got %d", MinRetentionDays, MaxRetentionDays, days)
	}
	tag, err := r.DB.Exec(ctx, `UPDATE tenants SET retention_days = $2 WHERE tenant_id = $1`, tenant, days)
	if err != nil {
		return fmt.Errorf("set retention of %s: %w", tenant, err)
	}
	if tag.RowsAffected() == 0 {
		return touchpoint.Errorf(touchpoint.ENotFound, "tenant %q not found", tenant)
	}
	return nil
}

// Apply deletes tenant's personal data older than cutoff (see Retention) in one
// transaction, so the counts are exactly what went and a failure removes nothing.
// Running it again with the same cutoff removes nothing more.
func (r Retention) Apply(ctx context.Context, tenant string, cutoff time.Time) (RetentionCounts, error) {
	var c RetentionCounts
	err := pgx.BeginFunc(ctx, r.DB, func(tx pgx.Tx) (err error) {
		if c.IdentityLinks, err = execCount(ctx, tx, expireLinksSQL, tenant, cutoff); err != nil {
			return fmt.Errorf("identity_links: %w", err)
		}
		if c.AttributionCredits, err = execCount(ctx, tx, expireCreditsSQL, tenant, cutoff); err != nil {
			return fmt.Errorf("attribution_credits: %w", err)
		}
		if c.Touchpoints, err = expireJourneys(ctx, tx, "journey_touchpoints", tenant, cutoff); err != nil {
			return fmt.Errorf("journey_touchpoints: %w", err)
		}
		if c.Conversions, err = expireJourneys(ctx, tx, "journey_conversions", tenant, cutoff); err != nil {
			return fmt.Errorf("journey_conversions: %w", err)
		}
		if c.Profiles, c.CDPIdentities, err = expireProfiles(ctx, tx, tenant, cutoff); err != nil {
			return fmt.Errorf("customer_profiles: %w", err)
		}
		return nil
	})
	if err != nil {
		return RetentionCounts{}, fmt.Errorf("retention of %s before %s: %w", tenant, cutoff.UTC().Format(time.RFC3339), err)
	}
	return c, nil
}

const (
	expireLinksSQL   = `DELETE FROM identity_links WHERE tenant_id = $1 AND last_seen < $2`
	expireCreditsSQL = `DELETE FROM attribution_credits WHERE tenant_id = $1 AND converted_at < $2`
)

// execCount runs a DELETE and returns how many rows it removed.
func execCount(ctx context.Context, tx pgx.Tx, sql string, args ...any) (int64, error) {
	tag, err := tx.Exec(ctx, sql, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// expireJourneys removes a journey table's elements that occurred before cutoff
// and returns how many went: rows wholly before it are deleted, rows straddling it
// rewritten without the old elements.
func expireJourneys(ctx context.Context, tx pgx.Tx, table, tenant string, cutoff time.Time) (int64, error) {
	var deleted int64
	err := tx.QueryRow(ctx, fmt.Sprintf(`WITH d AS (
		DELETE FROM %s WHERE tenant_id = $1 AND max_occurred_at < $2 RETURNING cardinality(event_ids) AS n)
		SELECT coalesce(sum(n), 0) FROM d`, table), tenant, cutoff).Scan(&deleted)
	if err != nil {
		return 0, fmt.Errorf("delete expired rows: %w", err)
	}
	var trimmed int64
	if err := tx.QueryRow(ctx, trimJourneysSQL(table), tenant, cutoff).Scan(&trimmed); err != nil {
		return deleted, fmt.Errorf("trim straddling rows: %w", err)
	}
	return deleted + trimmed, nil
}

// trimJourneysSQL rewrites the rows of table that straddle the cutoff ($2) with only
// the elements at or after it, keeping the arrays aligned (ordinality), and returns
// how many elements went. The row's element count is taken before the update from
// a locked read of the same rows, because RETURNING sees only the new values.
func trimJourneysSQL(table string) string {
	cols, aggs, tCols := journeyArraysSQL(table, "array_agg(u.%[1]s ORDER BY ord)")
	return fmt.Sprintf(`WITH old AS (
		SELECT tenant_id, day, topic, partition, first_offset, cardinality(event_ids) AS n FROM %[1]s
		WHERE tenant_id = $1 AND min_occurred_at < $2 AND max_occurred_at >= $2 FOR UPDATE),
	trimmed AS (
		UPDATE %[1]s t SET (%[2]s, min_occurred_at) = (
			SELECT %[3]s, min(u.occurred_at) FROM unnest(%[4]s) WITH ORDINALITY AS u(%[2]s, ord)
			WHERE u.occurred_at >= $2)
		FROM old
		WHERE t.tenant_id = old.tenant_id AND t.day = old.day AND t.topic = old.topic
			AND t.partition = old.partition AND t.first_offset = old.first_offset
		RETURNING old.n - cardinality(t.event_ids) AS gone)
	SELECT coalesce(sum(gone), 0) FROM trimmed`,
		table, cols, aggs, tCols)
}

// expireProfiles deletes the profiles not updated since cutoff with their CDP ids,
// then the CDP ids created before cutoff that map to no profile (left by a profile
// that is gone), and returns both counts.
func expireProfiles(ctx context.Context, tx pgx.Tx, tenant string, cutoff time.Time) (profiles, cdpIDs int64, err error) {
	err = tx.QueryRow(ctx, `WITH gone AS (
			DELETE FROM customer_profiles WHERE tenant_id = $1 AND updated_at < $2 RETURNING customer_id),
		ids AS (
			DELETE FROM cdp_identities c USING gone WHERE c.tenant_id = $1 AND c.customer_id = gone.customer_id RETURNING 1)
		SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM ids)`, tenant, cutoff).Scan(&profiles, &cdpIDs)
	if err != nil {
		return 0, 0, fmt.Errorf("delete expired profiles: %w", err)
	}
	orphans, err := execCount(ctx, tx, `DELETE FROM cdp_identities c WHERE tenant_id = $1 AND created_at < $2
		AND NOT EXISTS (SELECT 1 FROM customer_profiles p WHERE p.tenant_id = c.tenant_id AND p.customer_id = c.customer_id)`,
		tenant, cutoff)
	if err != nil {
		return profiles, cdpIDs, fmt.Errorf("delete orphaned CDP ids: %w", err)
	}
	return profiles, cdpIDs + orphans, nil
}

// SetRetention sets a tenant's policy (Retention.SetPolicy). It is here so the API's
// tenant store can serve PUT /v1/admin/tenants/{tenant}/retention.
func (s Tenants) SetRetention(ctx context.Context, tenant string, days int) error {
	return Retention{DB: s.DB}.SetPolicy(ctx, tenant, days)
}

// RetentionPolicies returns every tenant's policy (Retention.Policies), for the
// admin tenant listing.
func (s Tenants) RetentionPolicies(ctx context.Context) ([]TenantPolicy, error) {
	return Retention{DB: s.DB}.Policies(ctx)
}
