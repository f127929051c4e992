package store_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/touchpoint/touchpoint"
	"github.com/touchpoint/touchpoint/aggregate"
	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
)

// retentionNow is the run's clock: every fixture's age is relative to it.
var retentionNow = time.Now().UTC().Truncate(time.Second)

func daysAgo(d int) time.Time { return retentionNow.Add(-time.Duration(d) * 24 * time.Hour) }

// seedPersonal gives tenant personal rows 100, 30 and 3 days old in every table
// retention covers, a batch row of each journey table straddling both test cutoffs,
// and a consent and a suppression 100 days old (legal records, never expired).
func seedPersonal(t *testing.T, pool *pgxpool.Pool, tenant string) {
	t.Helper()
	ctx := context.Background()
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("seed %s: %v\n%s", tenant, err, sql)
		}
	}
	for i, age := range []int{100, 30, 3} {
		at := daysAgo(age)
		id := string(rune('a' + i))
		exec(`INSERT INTO identity_links (tenant_id, id_a, id_b, method, confidence, first_seen, last_seen)
			VALUES ($1, 'device:'||$2, 'user:'||$2, 'deterministic', 1, $3, $3)`, tenant, id, at)
		exec(`INSERT INTO attribution_credits (tenant_id, model, conversion_event_id, converted_at, channel, campaign_id, currency, value_micros, share)
			VALUES ($1, 'linear', 'conv-'||$2, $3, 'email', 'c1', 'USD', 1000000, 1)`, tenant, id, at)
		exec(`INSERT INTO customer_profiles (tenant_id, customer_id, traits, updated_at) VALUES ($1, 'cust-'||$2, '{"email":"x@example.com"}', $3)`, tenant, id, at)
		exec(`INSERT INTO cdp_identities (tenant_id, platform, external_id, customer_id, created_at) VALUES ($1, 'segment', 'seg-'||$2, 'cust-'||$2, $3)`, tenant, id, at)
	}
	// CDP ids of a customer with no profile: an old one goes with the 90-day policy's
	// cutoff only if created before it, a recent one stays.
	exec(`INSERT INTO cdp_identities (tenant_id, platform, external_id, customer_id, created_at) VALUES ($1, 'mparticle', 'mp-old', 'ghost', $2)`, tenant, daysAgo(30))
	exec(`INSERT INTO cdp_identities (tenant_id, platform, external_id, customer_id, created_at) VALUES ($1, 'mparticle', 'mp-new', 'ghost2', $2)`, tenant, daysAgo(1))
	// Journey batch rows: wholly 100 days old, wholly 30, straddling (100, 30, 3; in
	// that array order, shuffled to check alignment), wholly recent.
	batches := [][]int{{100}, {30, 30}, {3, 100, 30}, {1}}
	for off, ages := range batches {
		var at []time.Time
		var ids, who []string
		for j, a := range ages {
			at = append(at, daysAgo(a))
			ids = append(ids, tenant+"-ev-"+string(rune('0'+off))+string(rune('0'+j)))
			who = append(who, "cust-"+string(rune('0'+a%10)))
		}
		lo, hi := minMax(at)
		exec(`INSERT INTO journey_touchpoints (tenant_id, day, topic, partition, first_offset, event_ids, occurred_at,
			customer_ids, journey_ids, device_ids, anonymous_ids, user_ids, channels, interaction_types, campaign_ids,
			min_occurred_at, max_occurred_at)
			VALUES ($1, $2, 't', 0, $3, $4, $5, $6, $6, $6, $6, $6, $6, $6, $6, $7, $8)`,
			tenant, retentionNow.Truncate(24*time.Hour), off, ids, at, who, lo, hi)
		values := make([]int64, len(ages))
		weights := make([]float64, len(ages))
		exec(`INSERT INTO journey_conversions (tenant_id, day, topic, partition, first_offset, event_ids, occurred_at,
			customer_ids, journey_ids, device_ids, anonymous_ids, user_ids, channels, value_micros, currencies,
			attribution_weights, min_occurred_at, max_occurred_at)
			VALUES ($1, $2, 't', 0, $3, $4, $5, $6, $6, $6, $6, $6, $6, $7, $6, $8, $9, $10)`,
			tenant, retentionNow.Truncate(24*time.Hour), off, ids, at, who, values, weights, lo, hi)
	}
	exec(`INSERT INTO consent (tenant_id, subject_hash, subject_id, analytics, personalization, advertising, source, source_time, updated_at)
		VALUES ($1, decode(repeat('ab', 32), 'hex'), 'cust-a', false, false, false, 'api', $2, $2)`, tenant, daysAgo(100))
	exec(`INSERT INTO suppressed_subjects (tenant_id, subject_hash, created_at) VALUES ($1, decode(repeat('cd', 32), 'hex'), $2)`, tenant, daysAgo(100))
}

func minMax(ts []time.Time) (time.Time, time.Time) {
	lo, hi := ts[0], ts[0]
	for _, t := range ts {
		if t.Before(lo) {
			lo = t
		}
		if t.After(hi) {
			hi = t
		}
	}
	return lo, hi
}

// personalRows counts tenant's rows per table (journey tables: elements), so a test
// can compare a whole tenant before and after a run.
func personalRows(t *testing.T, pool *pgxpool.Pool, tenant string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for table, sql := range map[string]string{
		"identity_links":      `SELECT count(*) FROM identity_links WHERE tenant_id = $1`,
		"attribution_credits": `SELECT count(*) FROM attribution_credits WHERE tenant_id = $1`,
		"customer_profiles":   `SELECT count(*) FROM customer_profiles WHERE tenant_id = $1`,
		"cdp_identities":      `SELECT count(*) FROM cdp_identities WHERE tenant_id = $1`,
		"journey_touchpoints": `SELECT coalesce(sum(cardinality(event_ids)), 0) FROM journey_touchpoints WHERE tenant_id = $1`,
		"journey_conversions": `SELECT coalesce(sum(cardinality(event_ids)), 0) FROM journey_conversions WHERE tenant_id = $1`,
		"consent":             `SELECT count(*) FROM consent WHERE tenant_id = $1`,
		"suppressed_subjects": `SELECT count(*) FROM suppressed_subjects WHERE tenant_id = $1`,
	} {
		var n int64
		if err := pool.QueryRow(context.Background(), sql, tenant).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		out[table] = n
	}
	return out
}

func aggregateRows(t *testing.T, pool *pgxpool.Pool) int64 {
	t.Helper()
	var n int64
	err := pool.QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM agg_campaign) + (SELECT count(*) FROM agg_channel) + (SELECT count(*) FROM agg_conversion_value)
		+ (SELECT count(*) FROM agg_interaction) + (SELECT count(*) FROM agg_variant) + (SELECT count(*) FROM agg_event_type)`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRetentionAppliesEachTenantsPolicy: two tenants keep 7 and 90 days; each run
// removes exactly that tenant's rows older than its cutoff in every personal table,
// trims the batch row straddling the cutoff, leaves the other tenant, the aggregates,
// consents and suppressions alone, and a second run removes nothing.
func TestRetentionAppliesEachTenantsPolicy(t *testing.T) {
	ctx := context.Background()
	pool := storetest.Postgres(t)
	tenants := store.Tenants{DB: pool}
	r := store.Retention{DB: pool}
	for _, id := range []string{"shortco", "longco"} {
		if _, err := tenants.Create(ctx, id, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := (store.Archive{DB: pool}).EnsurePartitions(ctx, retentionNow, 0); err != nil {
		t.Fatal(err)
	}
	if err := r.SetPolicy(ctx, "shortco", 7); err != nil {
		t.Fatal(err)
	}
	policies, err := r.Policies(ctx)
	if want := []store.TenantPolicy{{TenantID: "longco", Days: 90}, {TenantID: "shortco", Days: 7}}; err != nil || !reflect.DeepEqual(policies, want) {
		t.Fatalf("policies %+v, %v; want %+v", policies, err, want)
	}
	seedPersonal(t, pool, "shortco")
	seedPersonal(t, pool, "longco")
	seedAggregates(t, pool, "shortco")
	aggsBefore := aggregateRows(t, pool)
	longBefore := personalRows(t, pool, "longco")

	// 7 days: the 100- and 30-day rows go; of the journey rows, 1 + 2 wholly old
	// elements and 2 of the straddling row's 3.
	got, err := r.Apply(ctx, "shortco", daysAgo(7))
	want := store.RetentionCounts{IdentityLinks: 2, Touchpoints: 5, Conversions: 5, AttributionCredits: 2, Profiles: 2, CDPIdentities: 3}
	if err != nil || got != want {
		t.Fatalf("7-day run removed %+v, %v; want %+v", got, err, want)
	}
	if after := personalRows(t, pool, "longco"); !reflect.DeepEqual(after, longBefore) {
		t.Fatalf("the other tenant changed: %v, was %v", after, longBefore)
	}
	wantLeft := map[string]int64{"identity_links": 1, "attribution_credits": 1, "customer_profiles": 1, "cdp_identities": 2,
		"journey_touchpoints": 2, "journey_conversions": 2, "consent": 1, "suppressed_subjects": 1}
	if left := personalRows(t, pool, "shortco"); !reflect.DeepEqual(left, wantLeft) {
		t.Fatalf("left after the 7-day run %v, want %v", left, wantLeft)
	}
	checkTrimmed(t, pool, "shortco", []string{"shortco-ev-20"}, daysAgo(3))

	// 90 days: only the 100-day rows go, the straddling row loses its 100-day element.
	got, err = r.Apply(ctx, "longco", daysAgo(90))
	want = store.RetentionCounts{IdentityLinks: 1, Touchpoints: 2, Conversions: 2, AttributionCredits: 1, Profiles: 1, CDPIdentities: 1}
	if err != nil || got != want {
		t.Fatalf("90-day run removed %+v, %v; want %+v", got, err, want)
	}
	checkTrimmed(t, pool, "longco", []string{"longco-ev-20", "longco-ev-22"}, daysAgo(30))

	for _, tc := range []struct {
		tenant string
		cutoff time.Time
	}{{"shortco", daysAgo(7)}, {"longco", daysAgo(90)}} {
		if again, err := r.Apply(ctx, tc.tenant, tc.cutoff); err != nil || again != (store.RetentionCounts{}) {
			t.Fatalf("second run for %s removed %+v, %v", tc.tenant, again, err)
		}
	}
	if n := aggregateRows(t, pool); n != aggsBefore || n == 0 {
		t.Fatalf("aggregate rows %d, were %d", n, aggsBefore)
	}
}

// checkTrimmed checks the straddling batch row (first_offset 2) of both journey
// tables: the kept elements, still aligned across the arrays, and min_occurred_at
// raised to the oldest kept one.
func checkTrimmed(t *testing.T, pool *pgxpool.Pool, tenant string, ids []string, min time.Time) {
	t.Helper()
	for _, table := range []string{"journey_touchpoints", "journey_conversions"} {
		var got, customers []string
		var at []time.Time
		var lo time.Time
		err := pool.QueryRow(context.Background(), `SELECT event_ids, customer_ids, occurred_at, min_occurred_at FROM `+table+`
			WHERE tenant_id = $1 AND first_offset = 2`, tenant).Scan(&got, &customers, &at, &lo)
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		if !reflect.DeepEqual(got, ids) || len(customers) != len(ids) || len(at) != len(ids) || !lo.Equal(min) {
			t.Fatalf("%s straddling row: ids %v customers %v at %v min %v; want ids %v min %v", table, got, customers, at, lo, ids, min)
		}
		for i, c := range customers {
			if age := int(retentionNow.Sub(at[i]).Hours() / 24); c != "cust-"+string(rune('0'+age%10)) {
				t.Fatalf("%s: element %d misaligned: customer %s at %v", table, i, c, at[i])
			}
		}
	}
}

func seedAggregates(t *testing.T, pool *pgxpool.Pool, tenant string) {
	t.Helper()
	ctx := context.Background()
	d := aggregate.New()
	for _, typ := range events.AllTypes {
		e := events.Example(typ, tenant, daysAgo(30))
		d.Add(&e)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if err := store.WriteDeltas(ctx, tx, d); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestRetentionPolicyBounds(t *testing.T) {
	ctx := context.Background()
	pool := storetest.Postgres(t)
	r := store.Retention{DB: pool}
	if _, err := (store.Tenants{DB: pool}).Create(ctx, "acme", ""); err != nil {
		t.Fatal(err)
	}
	for _, days := range []int{0, -1, 3651} {
		if err := r.SetPolicy(ctx, "acme", days); touchpoint.KindOf(err) != touchpoint.EInvalid {
			t.Errorf("SetPolicy(%d): %v, want invalid", days, err)
		}
	}
	if err := r.SetPolicy(ctx, "nobody", 30); touchpoint.KindOf(err) != touchpoint.ENotFound {
		t.Errorf("unknown tenant: %v, want not found", err)
	}
	for _, days := range []int{1, 3650} {
		if err := r.SetPolicy(ctx, "acme", days); err != nil {
			t.Errorf("SetPolicy(%d): %v", days, err)
		}
	}
	if ps, err := r.Policies(ctx); err != nil || len(ps) != 1 || ps[0].Days != 3650 {
		t.Fatalf("policies %+v, %v", ps, err)
	}
}
