package aggregate_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/touchpoint/touchpoint/aggregate"
	"github.com/touchpoint/touchpoint/aggregate/aggregatetest"
	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/generator"
)

// generate returns n events of a seeded generator and its totals. The step spreads
// them over about two weeks, so that every level has several buckets to sum over.
func generate(t testing.TB, n int, step time.Duration) ([]events.Event, generator.Totals) {
	t.Helper()
	g := generator.New(generator.Config{Seed: 7, Step: step})
	evs := make([]events.Event, n)
	for i := range evs {
		evs[i] = g.Next()
	}
	return evs, g.Totals()
}

func addAll(evs []events.Event) *aggregate.Deltas {
	d := aggregate.New()
	for i := range evs {
		d.Add(&evs[i])
	}
	return d
}

func TestAddMatchesGeneratorTotals(t *testing.T) {
	evs, want := generate(t, 100_000, 12*time.Second)
	d := addAll(evs)
	for _, l := range aggregate.Levels {
		if diff := aggregatetest.Diff(aggregatetest.Totals(d, l), want); diff != "" {
			t.Errorf("%s level differs from the generator's totals: %s", l, diff)
		}
	}
	weeks := map[aggregate.Bucket]bool{}
	for k := range d.EventTypes {
		if k.Level == aggregate.Week {
			weeks[k.Bucket] = true
		}
	}
	if len(weeks) < 2 {
		t.Fatalf("events span %d weeks; the test needs several buckets to sum over", len(weeks))
	}
}

// TestCampaignEventsAndCurrency checks what generator totals do not record: the number
// of campaign events per row and the row's currency.
func TestCampaignEventsAndCurrency(t *testing.T) {
	evs, want := generate(t, 20_000, time.Second)
	d := addAll(evs)
	campaignEvents := map[string]int64{}
	for tenant, byType := range want.EventsByType {
		for typ, n := range byType {
			if typ.Family() == events.FamilyCampaign {
				campaignEvents[tenant] += n
			}
		}
	}
	got := map[string]int64{}
	for k, c := range d.Campaigns {
		if k.Level == aggregate.Day {
			got[k.Tenant] += c.Events
		}
		if c.Currency == "" {
			t.Fatalf("campaign row %+v has no currency", k)
		}
	}
	if !reflect.DeepEqual(got, campaignEvents) {
		t.Fatalf("campaign events per tenant: got %v, want %v", got, campaignEvents)
	}
}

// TestAddRules pins the rules generated events do not exercise, on hand-built events.
func TestAddRules(t *testing.T) {
	ts := time.Date(2026, 3, 4, 10, 20, 30, 0, time.UTC) // on a window boundary
	window := aggregate.BucketStart(aggregate.Window, ts)
	d := aggregate.New()
	d.Add(&events.Event{
		EventType: events.CampaignLaunch, TenantID: "acme", Timestamp: ts,
		CampaignID: "c1", Channel: events.ChannelEmail, // no currency, no metrics
	})
	d.Add(&events.Event{
		EventType: events.CampaignOptimization, TenantID: "acme", Timestamp: ts.Add(time.Second),
		CampaignID: "c1", Channel: events.ChannelEmail,
		PerformanceMetrics: &events.CampaignMetrics{Impressions: 10, Clicks: 2, Conversions: 1, Cost: 0.1, Revenue: 19.99},
	})
	d.Add(&events.Event{
		EventType: events.ConversionEvent, TenantID: "acme", Timestamp: ts,
		Touchpoints: []events.Touchpoint{
			// Earlier touchpoints lie in the previous window, yet count in the event's.
			{Channel: events.ChannelSearch, InteractionType: "click", Timestamp: ts.Add(-3 * time.Second)},
			{Channel: events.ChannelSocial, InteractionType: "click", Timestamp: ts.Add(-time.Second)},
		},
		ConversionData: &events.ConversionData{Value: 0.29, Currency: "EUR", AttributionWeight: 1},
	})
	d.Add(&events.Event{
		EventType: events.TouchpointInteraction, TenantID: "acme", Timestamp: ts,
		Touchpoints: []events.Touchpoint{{Channel: events.ChannelVideo, InteractionType: "view", Timestamp: ts}},
	})
	d.Add(&events.Event{
		EventType: events.ContentOptimization, TenantID: "acme", Timestamp: ts,
		ContentVariations: []events.ContentVariation{
			{VariantID: "v1", PerformanceMetrics: events.VariantMetrics{Views: 5, Clicks: 1, EngagementScore: 0.3}},
			{VariantID: "v1", PerformanceMetrics: events.VariantMetrics{Views: 7, Conversions: 1, EngagementScore: 0.0001}},
		},
	})

	at := func(l aggregate.Level) aggregate.Bucket { return aggregate.BucketStart(l, ts) }
	wantCampaign := aggregate.CampaignDelta{Currency: "USD", Impressions: 10, Clicks: 2, Conversions: 1, CostMicros: 100_000, RevenueMicros: 19_990_000, Events: 2}
	if got := d.Campaigns[aggregate.CampaignKey{"acme", aggregate.Window, window, "c1", "email"}]; got == nil || *got != wantCampaign {
		t.Errorf("campaign: got %+v, want %+v", got, wantCampaign)
	}
	if got := d.Channels[aggregate.ChannelKey{"acme", aggregate.Hour, at(aggregate.Hour), "social"}]; got == nil || *got != (aggregate.ChannelDelta{Conversions: 1}) {
		t.Errorf("conversion not under the last touchpoint's channel: %+v", got)
	}
	if len(d.Channels) != len(aggregate.Levels) {
		t.Errorf("channel rows %d, want one per level (a touchpoint_interaction counts no channel)", len(d.Channels))
	}
	if got := d.ConversionValues[aggregate.ConversionValueKey{"acme", aggregate.Day, at(aggregate.Day), "social", "EUR"}]; got != 290_000 {
		t.Errorf("conversion value micros %d, want 290000", got)
	}
	if got := d.Interactions[aggregate.InteractionKey{"acme", aggregate.Window, window, "search", "click"}]; got != 1 {
		t.Errorf("earlier touchpoint not counted in the event's window: %d", got)
	}
	if got := d.Interactions[aggregate.InteractionKey{"acme", aggregate.Week, at(aggregate.Week), "video", "view"}]; got != 1 {
		t.Errorf("touchpoint_interaction's touchpoint: %d, want 1", got)
	}
	wantVariant := aggregate.VariantDelta{Views: 12, Clicks: 1, Conversions: 1, EngagementMicros: 300_100, EngagementCount: 2}
	if got := d.Variants[aggregate.VariantKey{"acme", aggregate.Window, window, "v1"}]; got == nil || *got != wantVariant {
		t.Errorf("variant: got %+v, want %+v", got, wantVariant)
	}
	if got := d.EventTypes[aggregate.EventTypeKey{"acme", aggregate.Window, window, "campaign_launch"}]; got != 1 {
		t.Errorf("campaign_launch count %d, want 1", got)
	}
	// Five event types, the optimization a second later but in the same window, at
	// every level.
	if got := len(d.EventTypes); got != 5*len(aggregate.Levels) {
		t.Errorf("event type rows %d, want %d", got, 5*len(aggregate.Levels))
	}
}

func TestMergeEqualsOnePass(t *testing.T) {
	evs, _ := generate(t, 30_000, 50*time.Millisecond)
	whole := addAll(evs)
	first, second := addAll(evs[:len(evs)/2]), addAll(evs[len(evs)/2:])
	first.Merge(second)
	if !reflect.DeepEqual(first, whole) {
		t.Fatal("merged halves differ from one pass over all events")
	}
	// Merge copies: adding to the merged Deltas must leave the merged-in one alone.
	before := addAll(evs[len(evs)/2:])
	first.Merge(second)
	if !reflect.DeepEqual(second, before) {
		t.Fatal("Merge shares rows with its argument")
	}
}

func TestByTenantPartitions(t *testing.T) {
	evs, want := generate(t, 20_000, 50*time.Millisecond)
	d := addAll(evs)
	parts := d.ByTenant()
	if len(parts) != len(want.EventsByType) {
		t.Fatalf("%d parts, want one per tenant (%d)", len(parts), len(want.EventsByType))
	}
	union := aggregate.New()
	rows := 0
	for tenant, part := range parts {
		for k := range part.EventTypes {
			if k.Tenant != tenant {
				t.Fatalf("part %s holds a row of %s", tenant, k.Tenant)
			}
		}
		for k := range part.Campaigns {
			if k.Tenant != tenant {
				t.Fatalf("part %s holds a row of %s", tenant, k.Tenant)
			}
		}
		rows += part.Len()
		union.Merge(part)
	}
	if rows != d.Len() {
		t.Fatalf("parts hold %d rows, want %d", rows, d.Len())
	}
	if !reflect.DeepEqual(union, d) {
		t.Fatal("the parts together differ from the whole")
	}
}

func TestOnly(t *testing.T) {
	evs, want := generate(t, 20_000, 50*time.Millisecond)
	d := addAll(evs)
	rows := 0
	for _, l := range aggregate.Levels {
		part := d.Only(l)
		rows += part.Len()
		if diff := aggregatetest.Diff(aggregatetest.Totals(part, l), want); diff != "" {
			t.Errorf("Only(%s): %s", l, diff)
		}
		for k := range part.Interactions {
			if k.Level != l {
				t.Fatalf("Only(%s) holds a %s row", l, k.Level)
			}
		}
	}
	if rows != d.Len() {
		t.Fatalf("levels hold %d rows, want %d", rows, d.Len())
	}
	if !aggregate.New().Empty() || d.Empty() || d.Only("month").Len() != 0 {
		t.Fatal("Empty or Only on an unknown level is wrong")
	}
}

// BenchmarkAdd adds generated events as the consumer does: a fresh Deltas per batch
// of 20k events, at the live rate of 100k events/s (so a batch spans ~0.2s).
func BenchmarkAdd(b *testing.B) {
	const batch = 20_000
	evs, _ := generate(b, 5*batch, 10*time.Microsecond)
	b.ReportAllocs()
	b.ResetTimer()
	d := aggregate.New()
	for i := range b.N {
		if i%batch == 0 {
			d = aggregate.New()
		}
		d.Add(&evs[i%len(evs)])
	}
}

// AddSince leaves out only the windows of events before its cutoff: every other
// level stays exact, and the windows it keeps are those Add makes for later events.
func TestAddSinceSkipsOnlyOldWindows(t *testing.T) {
	evs, want := generate(t, 20_000, 60*time.Second) // about two weeks
	cutoff := evs[len(evs)/2].Timestamp.Unix()
	d := aggregate.New()
	for i := range evs {
		d.AddSince(&evs[i], cutoff)
	}
	for _, l := range []aggregate.Level{aggregate.Hour, aggregate.Day, aggregate.Week} {
		if diff := aggregatetest.Diff(aggregatetest.Totals(d, l), want); diff != "" {
			t.Errorf("%s level differs from the generator's totals: %s", l, diff)
		}
	}
	recent := aggregate.New()
	for i := range evs {
		if evs[i].Timestamp.Unix() >= cutoff {
			recent.Add(&evs[i])
		}
	}
	if got, wantW := d.Only(aggregate.Window), recent.Only(aggregate.Window); !reflect.DeepEqual(got, wantW) {
		t.Errorf("windows: got %d rows, want the %d rows of the events at or after the cutoff", got.Len(), wantW.Len())
	}
	if d.Only(aggregate.Window).Len() == 0 {
		t.Fatal("no windows kept at all")
	}
}

// ByTenantWhere copies only the rows it is asked for: together they are exactly
// those rows of the whole.
func TestByTenantWhereKeepsOnlyAcceptedRows(t *testing.T) {
	evs, _ := generate(t, 20_000, 50*time.Millisecond)
	d := addAll(evs)
	cut := evs[len(evs)/2].Timestamp.Unix()
	keep := func(l aggregate.Level, b aggregate.Bucket) bool {
		return l == aggregate.Week || l == aggregate.Window && b >= cut
	}
	union := aggregate.New()
	for _, part := range d.ByTenantWhere(keep) {
		union.Merge(part)
	}
	want := d.Only(aggregate.Week)
	for _, part := range d.Only(aggregate.Window).ByTenantWhere(func(_ aggregate.Level, b aggregate.Bucket) bool { return b >= cut }) {
		want.Merge(part)
	}
	if union.Len() == 0 || union.Len() >= d.Len() || !reflect.DeepEqual(union, want) {
		t.Fatalf("kept %d of %d rows, want the %d week rows and windows from the cut", union.Len(), d.Len(), want.Len())
	}
}
