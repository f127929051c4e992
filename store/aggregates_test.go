package store_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/touchpoint/touchpoint"
	"github.com/touchpoint/touchpoint/aggregate"
	"github.com/touchpoint/touchpoint/aggregate/aggregatetest"
	"github.com/touchpoint/touchpoint/bench"
	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/generator"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
)

// writeDeltas writes d in a transaction of its own, as the consumer does per batch.
func writeDeltas(ctx context.Context, db *pgxpool.Pool, d *aggregate.Deltas) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SET LOCAL synchronous_commit = off"); err != nil {
		return err
	}
	if err := store.WriteDeltas(ctx, tx, d); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func generate(cfg generator.Config, n int) ([]events.Event, generator.Totals) {
	g := generator.New(cfg)
	evs := make([]events.Event, n)
	for i := range evs {
		evs[i] = g.Next()
	}
	return evs, g.Totals()
}

func deltasOf(evs []events.Event) *aggregate.Deltas {
	d := aggregate.New()
	for i := range evs {
		d.Add(&evs[i])
	}
	return d
}

// fromQueries reads everything q selects through the API queries and rebuilds the
// Deltas they came from, so they can be compared with the ones written.
func fromQueries(t *testing.T, a store.Aggregates, q store.Query) *aggregate.Deltas {
	t.Helper()
	ctx := context.Background()
	d := aggregate.New()
	at := func(bucket time.Time) (string, aggregate.Level, aggregate.Bucket) {
		return q.Tenant, q.Level, bucket.Unix()
	}
	campaigns, _, err := a.Campaigns(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range campaigns {
		k := aggregate.CampaignKey{CampaignID: r.CampaignID, Channel: r.Channel}
		k.Tenant, k.Level, k.Bucket = at(r.Bucket)
		d.Campaigns[k] = &aggregate.CampaignDelta{Currency: r.Currency, Impressions: r.Impressions, Clicks: r.Clicks,
			Conversions: r.Conversions, CostMicros: r.CostMicros, RevenueMicros: r.RevenueMicros, Events: r.Events}
	}
	channels, _, err := a.Channels(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range channels {
		tenant, level, bucket := at(r.Bucket)
		// Deltas hold a channel row only once a journey event counted in it.
		if r.JourneysStarted+r.StageChanges+r.Conversions > 0 {
			d.Channels[aggregate.ChannelKey{Tenant: tenant, Level: level, Bucket: bucket, Channel: r.Channel}] =
				&aggregate.ChannelDelta{JourneysStarted: r.JourneysStarted, StageChanges: r.StageChanges, Conversions: r.Conversions}
		}
		for cur, v := range r.ConversionValueMicros {
			d.ConversionValues[aggregate.ConversionValueKey{Tenant: tenant, Level: level, Bucket: bucket, Channel: r.Channel, Currency: cur}] = v
		}
		for typ, n := range r.Interactions {
			d.Interactions[aggregate.InteractionKey{Tenant: tenant, Level: level, Bucket: bucket, Channel: r.Channel, InteractionType: typ}] = n
		}
	}
	variants, _, err := a.Variants(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range variants {
		k := aggregate.VariantKey{VariantID: r.VariantID}
		k.Tenant, k.Level, k.Bucket = at(r.Bucket)
		d.Variants[k] = &aggregate.VariantDelta{Views: r.Views, Clicks: r.Clicks, Conversions: r.Conversions,
			EngagementMicros: r.EngagementMicros, EngagementCount: r.EngagementCount}
	}
	types, _, err := a.EventTypes(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range types {
		k := aggregate.EventTypeKey{EventType: r.EventType}
		k.Tenant, k.Level, k.Bucket = at(r.Bucket)
		d.EventTypes[k] = r.Events
	}
	return d
}

func TestAggregatesMatchGeneratorTotals(t *testing.T) {
	ctx := context.Background()
	a := store.Aggregates{DB: storetest.Postgres(t)}
	// Starting late on a Sunday, the events cross into a new week, day and hour.
	start := time.Date(2026, 1, 4, 23, 30, 0, 0, time.UTC)
	evs, want := generate(generator.Config{Seed: 7, Start: start, Step: 150 * time.Millisecond}, 30_000)

	written := time.Now()
	for i := range 3 {
		batch := evs[i*len(evs)/3 : (i+1)*len(evs)/3]
		if err := writeDeltas(ctx, a.DB, deltasOf(batch)); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}

	totals := aggregate.New()
	for tenant := range want.EventsByType {
		d, err := a.Totals(ctx, tenant)
		if err != nil {
			t.Fatal(err)
		}
		for k := range d.EventTypes {
			if k.Tenant != tenant || k.Level != aggregate.Week || k.Bucket != 0 {
				t.Fatalf("Totals(%s) has key %+v, want the tenant's at week 0", tenant, k)
			}
		}
		totals.Merge(d)
	}
	if diff := aggregatetest.Diff(aggregatetest.Totals(totals, aggregate.Week), want); diff != "" {
		t.Fatalf("Totals differ from the generator's: %s", diff)
	}

	// The API queries return, bucket by bucket and at every level, what was written.
	whole := deltasOf(evs)
	for tenant, part := range whole.ByTenant() {
		for _, l := range aggregate.Levels {
			q := store.Query{Tenant: tenant, Level: l, From: start.AddDate(0, 0, -7), To: start.AddDate(0, 0, 7)}
			if got, want := fromQueries(t, a, q), part.Only(l); !reflect.DeepEqual(got, want) {
				t.Errorf("%s at %s: queries return %d rows, differing from the %d written", tenant, l, got.Len(), want.Len())
			}
		}
		_, fresh, err := a.EventTypes(ctx, store.Query{Tenant: tenant, Level: aggregate.Week, From: start.AddDate(0, 0, -7), To: start.AddDate(0, 0, 7)})
		if err != nil {
			t.Fatal(err)
		}
		if fresh.Before(written.Add(-time.Second)) || fresh.After(time.Now().Add(time.Second)) {
			t.Errorf("freshness %s, want the time of the writes (%s)", fresh, written)
		}
	}

	// Recent returns the 5-second windows from a bucket on, and only the tenant's.
	tenant := evs[0].TenantID
	since := evs[len(evs)*2/3].Timestamp.Truncate(time.Minute)
	got, err := a.Recent(ctx, tenant, since)
	if err != nil {
		t.Fatal(err)
	}
	recent := aggregate.New()
	for i := range evs {
		if e := &evs[i]; e.TenantID == tenant && aggregate.BucketStart(aggregate.Window, e.Timestamp) >= since.Unix() {
			recent.Add(e)
		}
	}
	if want := recent.Only(aggregate.Window); want.Empty() || !reflect.DeepEqual(got, want) {
		t.Fatalf("Recent returned %d rows, want the %d written since %s", got.Len(), want.Len(), since)
	}
}

// TestWriteDeltasConcurrently has two transactions write the same rows at once, again
// and again. Were rows locked in map order, they would deadlock (and Postgres would
// abort one); in primary-key order one waits for the other.
func TestWriteDeltasConcurrently(t *testing.T) {
	ctx := context.Background()
	a := store.Aggregates{DB: storetest.Postgres(t)}
	// Two seeds over the same time span: the same tenants, campaigns, channels,
	// variants and windows, so most rows overlap.
	start := time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC)
	evsA, _ := generate(generator.Config{Seed: 7, Start: start, Step: 2 * time.Millisecond}, 10_000)
	evsB, _ := generate(generator.Config{Seed: 8, Start: start, Step: 2 * time.Millisecond}, 10_000)
	batches := []*aggregate.Deltas{deltasOf(evsA), deltasOf(evsB)}

	const rounds = 10
	for round := range rounds {
		var wg sync.WaitGroup
		errs := make([]error, len(batches))
		ready := make(chan struct{})
		for i, d := range batches {
			wg.Go(func() {
				<-ready
				errs[i] = writeDeltas(ctx, a.DB, d)
			})
		}
		close(ready)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, writer %d: %v", round, i, err)
			}
		}
	}

	want := aggregate.New()
	for range rounds {
		for _, d := range batches {
			want.Merge(d)
		}
	}
	got := aggregate.New()
	for tenant := range want.ByTenant() {
		d, err := a.Recent(ctx, tenant, start)
		if err != nil {
			t.Fatal(err)
		}
		got.Merge(d)
	}
	if w := want.Only(aggregate.Window); !reflect.DeepEqual(got, w) {
		t.Fatalf("after concurrent writes: %d window rows, differing from the %d expected", got.Len(), w.Len())
	}
}

func TestAggregateQueries(t *testing.T) {
	ctx := context.Background()
	a := store.Aggregates{DB: storetest.Postgres(t)}
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC) // a Monday, on every boundary
	t5 := t0.Add(5 * time.Second)
	campaign := func(tenant, id string, ch events.Channel, at time.Time, impressions int64) events.Event {
		return events.Event{EventType: events.CampaignOptimization, TenantID: tenant, Timestamp: at,
			CampaignID: id, Channel: ch, Currency: "EUR",
			PerformanceMetrics: &events.CampaignMetrics{Impressions: impressions, Cost: 1.5}}
	}
	contentOptimization := func(tenant string, ids ...string) events.Event {
		e := events.Event{EventType: events.ContentOptimization, TenantID: tenant, Timestamp: t0}
		for _, id := range ids {
			e.ContentVariations = append(e.ContentVariations, events.ContentVariation{VariantID: id,
				PerformanceMetrics: events.VariantMetrics{Views: 10, EngagementScore: 0.5}})
		}
		return e
	}
	evs := []events.Event{
		campaign("acme", "c1", events.ChannelEmail, t0, 100),
		campaign("acme", "c2", events.ChannelSearch, t5, 200),
		{EventType: events.ConversionEvent, TenantID: "acme", Timestamp: t0,
			Touchpoints:    []events.Touchpoint{{Channel: events.ChannelSocial, InteractionType: "click", Timestamp: t0}},
			ConversionData: &events.ConversionData{Value: 10, Currency: "EUR", AttributionWeight: 1}},
		{EventType: events.TouchpointInteraction, TenantID: "acme", Timestamp: t5,
			Touchpoints: []events.Touchpoint{{Channel: events.ChannelVideo, InteractionType: "view", Timestamp: t5}}},
		contentOptimization("acme", "v1", "v2"),
		campaign("globex", "c1", events.ChannelEmail, t0, 7),
		contentOptimization("globex", "v1"),
	}
	if err := writeDeltas(ctx, a.DB, deltasOf(evs)); err != nil {
		t.Fatal(err)
	}
	window := func(tenant string, from, to time.Time) store.Query {
		return store.Query{Tenant: tenant, Level: aggregate.Window, From: from, To: to}
	}
	minute := t0.Add(time.Minute)
	filtered := func(q store.Query, f func(*store.Query)) store.Query { f(&q); return q }

	// Campaign rows, described as id/channel@second:impressions.
	describe := func(q store.Query) []string {
		t.Helper()
		rows, _, err := a.Campaigns(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rows {
			out = append(out, fmt.Sprintf("%s/%s@%s:%d", r.CampaignID, r.Channel, r.Bucket.Format("05"), r.Impressions))
		}
		return out
	}
	for _, tt := range []struct {
		name string
		q    store.Query
		want []string
	}{
		{"all", window("acme", t0, minute), []string{"c1/email@00:100", "c2/search@05:200"}},
		{"campaign_id", filtered(window("acme", t0, minute), func(q *store.Query) { q.CampaignID = "c1" }), []string{"c1/email@00:100"}},
		{"channel", filtered(window("acme", t0, minute), func(q *store.Query) { q.Channel = "search" }), []string{"c2/search@05:200"}},
		{"to is exclusive", window("acme", t0, t5), []string{"c1/email@00:100"}},
		{"from is inclusive", window("acme", t5, minute), []string{"c2/search@05:200"}},
		{"coarser level", filtered(window("acme", t0, minute), func(q *store.Query) { q.Level = aggregate.Hour }), []string{"c1/email@00:100", "c2/search@00:200"}},
		{"other tenant", window("globex", t0, minute), []string{"c1/email@00:7"}},
		{"unknown tenant", window("nobody", t0, minute), nil},
	} {
		if got := describe(tt.q); !slices.Equal(got, tt.want) {
			t.Errorf("campaigns, %s: got %v, want %v", tt.name, got, tt.want)
		}
	}

	channels, _, err := a.Channels(ctx, window("acme", t0, minute))
	if err != nil {
		t.Fatal(err)
	}
	social := store.ChannelRow{Bucket: t0, Channel: "social", Conversions: 1,
		ConversionValueMicros: map[string]int64{"EUR": 10_000_000}, Interactions: map[string]int64{"click": 1}}
	video := store.ChannelRow{Bucket: t5, Channel: "video", Interactions: map[string]int64{"view": 1}}
	if want := []store.ChannelRow{social, video}; !reflect.DeepEqual(channels, want) {
		t.Errorf("channels: got %+v, want %+v", channels, want)
	}
	channels, _, err = a.Channels(ctx, filtered(window("acme", t0, minute), func(q *store.Query) { q.Channel = "video" }))
	if err != nil || !reflect.DeepEqual(channels, []store.ChannelRow{video}) {
		t.Errorf("channels of video: got %+v, %v", channels, err)
	}

	variants, _, err := a.Variants(ctx, filtered(window("acme", t0, minute), func(q *store.Query) { q.VariantID = "v2" }))
	want := []store.VariantRow{{Bucket: t0, VariantID: "v2", Views: 10, EngagementMicros: 500_000, EngagementCount: 1}}
	if err != nil || !reflect.DeepEqual(variants, want) {
		t.Errorf("variant v2: got %+v, %v; want %+v", variants, err, want)
	}
	variants, _, err = a.Variants(ctx, window("globex", t0, minute))
	if err != nil || len(variants) != 1 || variants[0].VariantID != "v1" {
		t.Errorf("globex's variants: got %+v, %v", variants, err)
	}

	types, _, err := a.EventTypes(ctx, store.Query{Tenant: "acme", Level: aggregate.Day, From: t0.AddDate(0, 0, -1), To: minute})
	wantTypes := []store.EventTypeRow{
		{Bucket: t0.Truncate(24 * time.Hour), EventType: "campaign_optimization", Events: 2},
		{Bucket: t0.Truncate(24 * time.Hour), EventType: "content_optimization", Events: 1},
		{Bucket: t0.Truncate(24 * time.Hour), EventType: "conversion_event", Events: 1},
		{Bucket: t0.Truncate(24 * time.Hour), EventType: "touchpoint_interaction", Events: 1},
	}
	if err != nil || !reflect.DeepEqual(types, wantTypes) {
		t.Errorf("event types: got %+v, %v; want %+v", types, err, wantTypes)
	}

	// A second write adds to the rows and moves their freshness on.
	c1 := filtered(window("acme", t0, minute), func(q *store.Query) { q.CampaignID = "c1" })
	_, before, err := a.Campaigns(ctx, c1)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	if err := writeDeltas(ctx, a.DB, deltasOf([]events.Event{campaign("acme", "c1", events.ChannelEmail, t0, 100)})); err != nil {
		t.Fatal(err)
	}
	rows, after, err := a.Campaigns(ctx, c1)
	wantRow := store.CampaignRow{Bucket: t0, CampaignID: "c1", Channel: "email", Currency: "EUR", Impressions: 200, CostMicros: 3_000_000, Events: 2}
	if err != nil || !reflect.DeepEqual(rows, []store.CampaignRow{wantRow}) {
		t.Fatalf("after a second write: got %+v, %v; want %+v", rows, err, wantRow)
	}
	if !after.After(before) || before.IsZero() {
		t.Errorf("freshness went from %s to %s, want it to advance", before, after)
	}
	if _, fresh, err := a.Campaigns(ctx, window("nobody", t0, minute)); err != nil || !fresh.IsZero() {
		t.Errorf("freshness of nothing: %s, %v; want zero", fresh, err)
	}
}

func TestAggregateQueriesRejectBadQueries(t *testing.T) {
	ctx := context.Background()
	a := store.Aggregates{DB: storetest.Postgres(t)}
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	ok := store.Query{Tenant: "acme", Level: aggregate.Hour, From: t0, To: t0.Add(time.Hour)}
	methods := map[string]func(store.Query) error{
		"Campaigns":  func(q store.Query) error { _, _, err := a.Campaigns(ctx, q); return err },
		"Channels":   func(q store.Query) error { _, _, err := a.Channels(ctx, q); return err },
		"Variants":   func(q store.Query) error { _, _, err := a.Variants(ctx, q); return err },
		"EventTypes": func(q store.Query) error { _, _, err := a.EventTypes(ctx, q); return err },
	}
	for _, tt := range []struct {
		name, method string
		change       func(*store.Query)
	}{
		{"no tenant", "Campaigns", func(q *store.Query) { q.Tenant = "" }},
		{"unknown level", "EventTypes", func(q *store.Query) { q.Level = "month" }},
		{"empty range", "Variants", func(q *store.Query) { q.To = q.From }},
		{"campaign_id on channels", "Channels", func(q *store.Query) { q.CampaignID = "c1" }},
		{"variant_id on campaigns", "Campaigns", func(q *store.Query) { q.VariantID = "v1" }},
		{"channel on event types", "EventTypes", func(q *store.Query) { q.Channel = "email" }},
	} {
		q := ok
		tt.change(&q)
		if err := methods[tt.method](q); touchpoint.KindOf(err) != touchpoint.EInvalid {
			t.Errorf("%s: got %v, want invalid", tt.name, err)
		}
	}
	for name, run := range methods {
		if err := run(ok); err != nil {
			t.Errorf("%s of a valid query: %v", name, err)
		}
	}
}

// BenchmarkWriteDeltas writes typical consumer batches: 20k events each at a live rate
// of 100k events/s, so a batch's events fall into one or two 5-second windows.
func BenchmarkWriteDeltas(b *testing.B) {
	db := storetest.Postgres(b)
	const batch, batches = 20_000, 10
	evs, _ := generate(generator.Config{Seed: 7, Step: 10 * time.Microsecond}, batch*batches)
	ds := make([]*aggregate.Deltas, batches)
	for i := range ds {
		ds[i] = deltasOf(evs[i*batch : (i+1)*batch])
	}
	benchmarkWrites(b, db, ds)
}

// BenchmarkWriteDeltasLate writes batches of 20k events whose times follow the
// lateness profile of `touchpoint bench -late 720h`: their buckets scatter over 30
// days, so a batch has about three rows per event instead of one per 20.
func BenchmarkWriteDeltasLate(b *testing.B) {
	db := storetest.Postgres(b)
	const batch, batches = 20_000, 10
	late, now := bench.NewLateness(720*time.Hour, 1), time.Now()
	evs, _ := generate(generator.Config{Seed: 7, Clock: func() time.Time { return now.Add(-late.Draw()) }}, batch*batches)
	ds := make([]*aggregate.Deltas, batches)
	for i := range ds {
		ds[i] = deltasOf(evs[i*batch : (i+1)*batch])
	}
	benchmarkWrites(b, db, ds)
}

func benchmarkWrites(b *testing.B, db *pgxpool.Pool, ds []*aggregate.Deltas) {
	ctx := context.Background()
	rows := 0
	b.ResetTimer()
	for i := range b.N {
		d := ds[i%len(ds)]
		if err := writeDeltas(ctx, db, d); err != nil {
			b.Fatal(err)
		}
		rows += d.Len()
	}
	b.ReportMetric(float64(rows)/float64(b.N), "rows/batch")
	b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/batch")
}
