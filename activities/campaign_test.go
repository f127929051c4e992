package activities_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/aggregate"
	"github.com/touchpoint/touchpoint/campaign"
	"github.com/touchpoint/touchpoint/connectors"
	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
)

type published struct {
	mu  sync.Mutex
	evs []events.Event
}

func (p *published) Publish(_ context.Context, evs []events.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.evs = append(p.evs, evs...)
	return nil
}

// TestEmitEventNamesEventsByWorkflowAndSeq: the same (workflow, seq) gives the same
// event id, so a retried emit is deduplicated downstream; an invalid event fails
// without retry and publishes nothing.
func TestEmitEventNamesEventsByWorkflowAndSeq(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	pub := &published{}
	env.RegisterActivity(&activities.Campaigns{Publisher: pub})
	cfg := campaign.Config{CampaignID: "cmp-1", Name: "Spring", Channel: events.ChannelSearch, Budget: 10, Duration: "P1D", CreativeIDs: []string{"a"}}
	launch := cfg.LaunchEvent("acme", "", time.Now())
	var a *activities.Campaigns
	var ids []string
	for range 2 {
		v, err := env.ExecuteActivity(a.EmitEvent, activities.EmitInput{Seq: 1, Event: launch})
		if err != nil {
			t.Fatal(err)
		}
		var id string
		_ = v.Get(&id)
		ids = append(ids, id)
	}
	if ids[0] != ids[1] || len(pub.evs) != 2 || pub.evs[0].EventID != ids[0] {
		t.Errorf("ids %v, published %d", ids, len(pub.evs))
	}
	if other := activities.CampaignEventID("campaign/acme/cmp-1", 2); other == ids[0] || len(other) > 128 {
		t.Errorf("seq 2 id %q", other)
	}
	bad := launch
	bad.CampaignName = ""
	if _, err := env.ExecuteActivity(a.EmitEvent, activities.EmitInput{Seq: 2, Event: bad}); err == nil || len(pub.evs) != 2 {
		t.Errorf("invalid event: %v, %d published", err, len(pub.evs))
	}
}

// TestReadPerformancePrefersPlatformDays: the stream's numbers without synced days,
// the platform's once it reports the campaign; creatives from the stream either way.
func TestReadPerformancePrefersPlatformDays(t *testing.T) {
	ctx := context.Background()
	pool := storetest.Postgres(t)
	tenant := "perf-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 10)
	d := aggregate.New()
	bucket := time.Now().UTC().Truncate(24 * time.Hour).Unix()
	d.Campaigns[aggregate.CampaignKey{Tenant: tenant, Level: aggregate.Day, Bucket: bucket, CampaignID: "cmp-1", Channel: "search"}] =
		&aggregate.CampaignDelta{Currency: "USD", Impressions: 100, Clicks: 5, Conversions: 1, CostMicros: 2_500_000, Events: 1}
	d.Variants[aggregate.VariantKey{Tenant: tenant, Level: aggregate.Day, Bucket: bucket, VariantID: "cr-a"}] = &aggregate.VariantDelta{Views: 60, Clicks: 3, Conversions: 1}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.WriteDeltas(ctx, tx, d); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	a := &activities.Campaigns{Aggregates: store.Aggregates{DB: pool}}
	in := activities.PerformanceInput{Tenant: tenant, CampaignID: "cmp-1", Channel: events.ChannelSearch, Currency: "USD",
		Since: time.Now().Add(-time.Hour), Creatives: []string{"cr-a", "cr-b"}}
	p, err := a.ReadPerformance(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if p.Source != campaign.SourceStreamed || p.Totals.Impressions != 100 || p.Totals.Cost != 2.5 ||
		len(p.Creatives) != 2 || p.Creatives[0].Impressions != 60 || p.Creatives[1].Impressions != 0 {
		t.Errorf("streamed: %+v", p)
	}
	conns := store.Connections{DB: pool, Key: store.SecretsKey("campaign-activity-test")}
	if _, err := conns.Create(ctx, store.Connection{TenantID: tenant, ConnectionID: "ads", Platform: "googleads", AccountID: "1",
		Credentials: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	day := connectors.CampaignDay{Platform: "googleads", AccountID: "1", CampaignID: "cmp-1", CampaignName: "Spring", Currency: "USD",
		Date: time.Now().UTC().Truncate(24 * time.Hour), Impressions: 500, Clicks: 20, Conversions: 2, CostMicros: 40_000_000}
	if err := conns.UpsertCampaignDays(ctx, tenant, "ads", "campaigns", []connectors.CampaignDay{day}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if p, err = a.ReadPerformance(ctx, in); err != nil {
		t.Fatal(err)
	}
	if p.Source != campaign.SourcePlatform || p.Totals.Impressions != 500 || p.Totals.Cost != 40 || p.Creatives[0].Impressions != 60 {
		t.Errorf("synced: %+v", p)
	}
}
