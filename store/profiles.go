package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/touchpoint/touchpoint/connectors/segment"
)

// CustomerProfile is one customer's merged CDP profile. CustomerID is the id the
// tenant's events carry.
type CustomerProfile struct {
	TenantID   string               `json:"tenant_id"`
	CustomerID string               `json:"customer_id"`
	Traits     map[string]any       `json:"traits"`
	TraitTimes map[string]time.Time `json:"trait_times"`
	// SourceTimestamp is the latest source time of any merged observation.
	SourceTimestamp  time.Time `json:"source_timestamp"`
	GDPR             bool      `json:"gdpr"` // processing restricted: analytics consent withdrawn
	CCPA             bool      `json:"ccpa"` // do not sell/share: never sent to ad or identity platforms
	ConsentTimestamp time.Time `json:"consent_timestamp"`
	RampID           string    `json:"ramp_id,omitempty"`
	// RampResolvedFor is the SourceTimestamp the RampID was resolved for.
	RampResolvedFor time.Time `json:"ramp_resolved_for"`
	Sources         []string  `json:"sources"` // the CDPs that contributed, sorted
	UpdatedAt       time.Time `json:"updated_at"`
}

// Segment returns p as segment's Profile, in segment's customer-id namespace with
// UserID set to the customer id, which is how segment.Merge compares customers.
func (p CustomerProfile) Segment() segment.Profile {
	return segment.Profile{CustomerID: segment.CustomerID(p.CustomerID), UserID: p.CustomerID, Traits: p.Traits,
		TraitTimes: p.TraitTimes, SourceTimestamp: p.SourceTimestamp, GDPR: p.GDPR, CCPA: p.CCPA, ConsentTimestamp: p.ConsentTimestamp}
}

// ProfileChange is what Profiles.Merge did to one customer.
type ProfileChange struct {
	Profile CustomerProfile
	// Changed is false when the incoming observation was already reflected (older or
	// equal), so the row was left untouched.
	Changed bool
	// Created is true when the customer had no profile before.
	Created bool
}

// ErrProfileNotFound is returned for an unknown (tenant, customer).
var ErrProfileNotFound = errors.New("customer profile not found")

// Profiles stores the customers' merged CDP profiles, the CDP ids that map to them
// and, in sync_cursors, how far each profile sync has read the journeys.
type Profiles struct{ DB *pgxpool.Pool }

const profileColumns = `tenant_id, customer_id, traits, trait_times, source_timestamp, gdpr, ccpa,
	consent_timestamp, ramp_id, ramp_resolved_for, sources, updated_at`

func scanProfile(row pgx.Row) (CustomerProfile, error) {
	var p CustomerProfile
	var traits, times []byte
	var src, consent, rampFor *time.Time
	var ramp *string
	if err := row.Scan(&p.TenantID, &p.CustomerID, &traits, &times, &src, &p.GDPR, &p.CCPA, &consent, &ramp, &rampFor,
		&p.Sources, &p.UpdatedAt); err != nil {
		return p, err
	}
	if err := decodeTraits(traits, &p.Traits); err != nil {
		return p, fmt.Errorf("profile %s traits: %w", p.CustomerID, err)
	}
	if err := json.Unmarshal(times, &p.TraitTimes); err != nil {
		return p, fmt.Errorf("profile %s trait times: %w", p.CustomerID, err)
	}
	p.SourceTimestamp, p.ConsentTimestamp, p.RampResolvedFor = utcOrZero(src), utcOrZero(consent), utcOrZero(rampFor)
	if ramp != nil {
		p.RampID = *ramp
	}
	p.UpdatedAt = p.UpdatedAt.UTC()
	return p, nil
}

// decodeTraits reads traits as the CDP clients produce them: numbers as float64.
func decodeTraits(b []byte, into *map[string]any) error {
	*into = map[string]any{}
	return json.Unmarshal(b, into)
}

func utcOrZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// nullTime stores the zero time (a source that gave no timestamp) as NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

// Get returns one customer's profile.
func (s Profiles) Get(ctx context.Context, tenant, customerID string) (CustomerProfile, error) {
	p, err := scanProfile(s.DB.QueryRow(ctx, `SELECT `+profileColumns+` FROM customer_profiles
		WHERE tenant_id = $1 AND customer_id = $2`, tenant, customerID))
	if errors.Is(err, pgx.ErrNoRows) {
		return p, ErrProfileNotFound
	}
	if err != nil {
		return p, fmt.Errorf("store: get profile %s/%s: %w", tenant, customerID, err)
	}
	return p, nil
}

// GetMany returns the stored profiles among customerIDs, by customer id.
func (s Profiles) GetMany(ctx context.Context, tenant string, customerIDs []string) (map[string]CustomerProfile, error) {
	rows, err := s.DB.Query(ctx, `SELECT `+profileColumns+` FROM customer_profiles
		WHERE tenant_id = $1 AND customer_id = ANY($2)`, tenant, customerIDs)
	if err != nil {
		return nil, fmt.Errorf("store: get profiles: %w", err)
	}
	out := map[string]CustomerProfile{}
	list, err := collectProfiles(rows)
	for _, p := range list {
		out[p.CustomerID] = p
	}
	return out, err
}

// List returns up to limit profiles of a tenant with customer ids after `after`, in
// customer-id order, for keyset paging.
func (s Profiles) List(ctx context.Context, tenant, after string, limit int) ([]CustomerProfile, error) {
	rows, err := s.DB.Query(ctx, `SELECT `+profileColumns+` FROM customer_profiles
		WHERE tenant_id = $1 AND customer_id > $2 ORDER BY customer_id LIMIT $3`, tenant, after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: list profiles: %w", err)
	}
	return collectProfiles(rows)
}

func collectProfiles(rows pgx.Rows) ([]CustomerProfile, error) {
	defer rows.Close()
	out := []CustomerProfile{}
	for rows.Next() {
		p, err := scanProfile(rows)
		if err != nil {
			return nil, fmt.Errorf("store: read profile: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read profiles: %w", err)
	}
	return out, nil
}

// CustomersToSync returns up to limit customer ids after `after`, in order: the
// customers of journey rows ingested on or after the day `since` (touchpoints and
// conversions) and every customer that already has a profile, since the CDPs change
// profiles without any event of ours. A zero since reads every retained journey day.
func (s Profiles) CustomersToSync(ctx context.Context, tenant string, since time.Time, after string, limit int) ([]string, error) {
	day := since.UTC().Format(time.DateOnly)
	if since.IsZero() {
		day = "-infinity"
	}
	rows, err := s.DB.Query(ctx, `
		SELECT customer_id FROM (
			SELECT unnest(customer_ids) AS customer_id FROM journey_touchpoints WHERE tenant_id = $1 AND day >= $2::date
			UNION
			SELECT unnest(customer_ids) FROM journey_conversions WHERE tenant_id = $1 AND day >= $2::date
			UNION
			SELECT customer_id FROM customer_profiles WHERE tenant_id = $1
		) c
		WHERE customer_id > $3 AND customer_id <> ''
		ORDER BY customer_id LIMIT $4`, tenant, day, after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: customers to sync: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("store: customers to sync: %w", err)
	}
	return ids, nil
}

// Merge merges each incoming observation from source (a CDP platform) into its
// customer's stored profile, in one transaction: the rows are locked (SELECT … FOR
// UPDATE, in customer-id order so concurrent syncs cannot deadlock), merged with
// segment.Merge — per trait the later source timestamp wins, so a stale CDP value never
// overwrites a newer one — and written only where the merge changed something. An
// incoming profile's CustomerID must be the customer id the events carry.
func (s Profiles) Merge(ctx context.Context, tenant, source string, incoming []segment.Profile) ([]ProfileChange, error) {
	if len(incoming) == 0 {
		return nil, nil
	}
	ids := make([]string, 0, len(incoming))
	for _, p := range incoming {
		if p.CustomerID == "" {
			return nil, errors.New("store: merge profile: empty customer id")
		}
		ids = append(ids, p.CustomerID)
	}
	tx, err := s.DB.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: merge profiles: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	created, err := insertMissing(ctx, tx, tenant, ids)
	if err != nil {
		return nil, err
	}
	existing, err := lockProfiles(ctx, tx, tenant, ids)
	if err != nil {
		return nil, err
	}
	out := make([]ProfileChange, 0, len(incoming))
	for _, in := range incoming {
		ch := mergeOne(source, existing[in.CustomerID], created[in.CustomerID], in)
		if ch.Changed {
			if err := writeProfile(ctx, tx, ch.Profile); err != nil {
				return nil, err
			}
			existing[ch.Profile.CustomerID] = ch.Profile
		}
		out = append(out, ch)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("store: merge profiles: commit: %w", err)
	}
	return out, nil
}

// insertMissing creates empty rows for new customers, in customer-id order, so that
// the lock below covers them too: two syncs meeting a new customer at once then
// merge one after the other instead of the second overwriting the first. The rows
// only become visible with the merged profile, at commit.
func insertMissing(ctx context.Context, tx pgx.Tx, tenant string, ids []string) (map[string]bool, error) {
	sorted := slices.Sorted(slices.Values(ids))
	rows, err := tx.Query(ctx, `INSERT INTO customer_profiles (tenant_id, customer_id)
		SELECT $1, id FROM unnest($2::text[]) WITH ORDINALITY AS u(id, n) ORDER BY n
		ON CONFLICT DO NOTHING RETURNING customer_id`, tenant, slices.Compact(sorted))
	if err != nil {
		return nil, fmt.Errorf("store: create profiles: %w", err)
	}
	ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("store: create profiles: %w", err)
	}
	created := make(map[string]bool, len(ids))
	for _, id := range ids {
		created[id] = true
	}
	return created, nil
}

func lockProfiles(ctx context.Context, tx pgx.Tx, tenant string, ids []string) (map[string]CustomerProfile, error) {
	rows, err := tx.Query(ctx, `SELECT `+profileColumns+` FROM customer_profiles
		WHERE tenant_id = $1 AND customer_id = ANY($2) ORDER BY customer_id FOR UPDATE`, tenant, ids)
	if err != nil {
		return nil, fmt.Errorf("store: lock profiles: %w", err)
	}
	list, err := collectProfiles(rows)
	if err != nil {
		return nil, err
	}
	out := make(map[string]CustomerProfile, len(list))
	for _, p := range list {
		out[p.CustomerID] = p
	}
	return out, nil
}

// mergeOne merges in into the customer's locked profile old (empty when created in
// this transaction) and says whether anything the profile holds changed.
func mergeOne(source string, old CustomerProfile, created bool, in segment.Profile) ProfileChange {
	cid := in.CustomerID
	in.UserID, in.CustomerID = cid, segment.CustomerID(cid)
	m := segment.Merge(old.Segment(), in)
	next := old
	next.Traits, next.TraitTimes = m.Traits, m.TraitTimes
	next.SourceTimestamp, next.GDPR, next.CCPA, next.ConsentTimestamp = m.SourceTimestamp, m.GDPR, m.CCPA, m.ConsentTimestamp
	if source != "" && !slices.Contains(next.Sources, source) {
		next.Sources = append(slices.Clone(next.Sources), source)
		slices.Sort(next.Sources)
	}
	changed := created || !sameProfile(old, next)
	if changed {
		next.UpdatedAt = time.Now().UTC()
	}
	return ProfileChange{Profile: next, Changed: changed, Created: created}
}

// sameProfile compares what a merge can change, through the JSON the row stores, so
// that values read back from jsonb compare equal to freshly merged ones.
func sameProfile(a, b CustomerProfile) bool {
	enc := func(p CustomerProfile) []byte {
		j, _ := json.Marshal([]any{p.Traits, p.TraitTimes, p.SourceTimestamp.UTC(), p.GDPR, p.CCPA, p.ConsentTimestamp.UTC(), p.Sources})
		return j
	}
	return bytes.Equal(enc(a), enc(b))
}

func writeProfile(ctx context.Context, tx pgx.Tx, p CustomerProfile) error {
	traits, err := json.Marshal(p.Traits)
	if err != nil {
		return fmt.Errorf("store: profile %s traits: %w", p.CustomerID, err)
	}
	times, err := json.Marshal(p.TraitTimes)
	if err != nil {
		return fmt.Errorf("store: profile %s trait times: %w", p.CustomerID, err)
	}
	_, err = tx.Exec(ctx, `UPDATE customer_profiles SET traits = $3, trait_times = $4, source_timestamp = $5,
			gdpr = $6, ccpa = $7, consent_timestamp = $8, sources = $9, updated_at = $10
		WHERE tenant_id = $1 AND customer_id = $2`,
		p.TenantID, p.CustomerID, traits, times, nullTime(p.SourceTimestamp), p.GDPR, p.CCPA, nullTime(p.ConsentTimestamp),
		p.Sources, p.UpdatedAt)
	if err != nil {
		return fmt.Errorf("store: write profile %s: %w", p.CustomerID, err)
	}
	return nil
}

// RampID is a customer's resolved RampID; an empty RampID clears the stored one.
type RampID struct {
	CustomerID string
	RampID     string
	// For is the profile's SourceTimestamp the RampID was resolved for.
	For time.Time
}

// SetRampIDs stores (or clears) RampIDs. A RampID resolved for an older profile than
// the stored one's is ignored, so a late retry cannot replace a newer resolution.
func (s Profiles) SetRampIDs(ctx context.Context, tenant string, ids []RampID) error {
	b := &pgx.Batch{}
	for _, r := range ids {
		if r.RampID == "" {
			b.Queue(`UPDATE customer_profiles SET ramp_id = NULL, ramp_resolved_for = NULL, updated_at = now()
				WHERE tenant_id = $1 AND customer_id = $2 AND ramp_id IS NOT NULL`, tenant, r.CustomerID)
			continue
		}
		b.Queue(`UPDATE customer_profiles SET ramp_id = $3, ramp_resolved_for = $4, updated_at = now()
			WHERE tenant_id = $1 AND customer_id = $2
			  AND (ramp_id IS DISTINCT FROM $3 OR ramp_resolved_for IS DISTINCT FROM $4)
			  AND (ramp_resolved_for IS NULL OR $4::timestamptz IS NULL OR ramp_resolved_for <= $4)`,
			tenant, r.CustomerID, r.RampID, nullTime(r.For))
	}
	if err := s.DB.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("store: set ramp ids: %w", err)
	}
	return nil
}

// LinkCDP records that a CDP's id (Segment user_id, mParticle mpid) is a customer.
// Linking a known pair again changes nothing; an id already linked keeps its
// customer, because a CDP id names one person.
func (s Profiles) LinkCDP(ctx context.Context, tenant, platform string, links map[string]string) error {
	b := &pgx.Batch{}
	for ext, cid := range links {
		b.Queue(`INSERT INTO cdp_identities (tenant_id, platform, external_id, customer_id) VALUES ($1, $2, $3, $4)
			ON CONFLICT DO NOTHING`, tenant, platform, ext, cid)
	}
	if err := s.DB.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("store: link %s ids: %w", platform, err)
	}
	return nil
}

// CDPIDs returns the platform's ids of the given customers, by customer id (the
// lowest id when a customer has several).
func (s Profiles) CDPIDs(ctx context.Context, tenant, platform string, customerIDs []string) (map[string]string, error) {
	rows, err := s.DB.Query(ctx, `SELECT DISTINCT ON (customer_id) customer_id, external_id FROM cdp_identities
		WHERE tenant_id = $1 AND platform = $2 AND customer_id = ANY($3) ORDER BY customer_id, external_id`,
		tenant, platform, customerIDs)
	if err != nil {
		return nil, fmt.Errorf("store: %s ids: %w", platform, err)
	}
	out := map[string]string{}
	var cid, ext string
	if _, err := pgx.ForEachRow(rows, []any{&cid, &ext}, func() error { out[cid] = ext; return nil }); err != nil {
		return nil, fmt.Errorf("store: %s ids: %w", platform, err)
	}
	return out, nil
}

// AdvanceCursor moves a connection stream's cursor to day, never backwards.
func (s Profiles) AdvanceCursor(ctx context.Context, tenant, connection, stream string, day time.Time) error {
	_, err := s.DB.Exec(ctx, `INSERT INTO sync_cursors (tenant_id, connection_id, stream, cursor_date, updated_at)
		VALUES ($1, $2, $3, $4, now())
		ON CONFLICT (tenant_id, connection_id, stream) DO UPDATE SET
			cursor_date = GREATEST(sync_cursors.cursor_date, EXCLUDED.cursor_date), updated_at = now()`,
		tenant, connection, stream, day.UTC().Format(time.DateOnly))
	if err != nil {
		return fmt.Errorf("store: advance %s cursor: %w", stream, err)
	}
	return nil
}
