package worker_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"

	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/aggregate"
	"github.com/touchpoint/touchpoint/campaign"
	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/internal/temporaltest"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
	"github.com/touchpoint/touchpoint/worker"
	"github.com/touchpoint/touchpoint/workflows"
)

// recordingPublisher stands in for Kafka: it keeps every event published, duplicates
// (retried emits) included.
type recordingPublisher struct {
	mu  sync.Mutex
	evs []events.Event
}

func (p *recordingPublisher) Publish(_ context.Context, evs []events.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.evs = append(p.evs, evs...)
	return nil
}

func (p *recordingPublisher) all() []events.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]events.Event(nil), p.evs...)
}

// seedCampaignDelivery writes today's streamed rows of a campaign and its two
// creatives the way the consumer does: CPA 40 against a target of 20, cr-a converting
// far better than cr-b.
func seedCampaignDelivery(t *testing.T, pool *pgxpool.Pool, tenant, id string) {
	t.Helper()
	ctx := context.Background()
	d := aggregate.New()
	bucket := time.Now().UTC().Truncate(24 * time.Hour).Unix()
	d.Campaigns[aggregate.CampaignKey{Tenant: tenant, Level: aggregate.Day, Bucket: bucket, CampaignID: id, Channel: "search"}] =
		&aggregate.CampaignDelta{Currency: "USD", Impressions: 20000, Clicks: 400, Conversions: 10, CostMicros: 400e6, RevenueMicros: 1200e6, Events: 1}
	for v, conv := range map[string]int64{"cr-a": 9, "cr-b": 1} {
		d.Variants[aggregate.VariantKey{Tenant: tenant, Level: aggregate.Day, Bucket: bucket, VariantID: v}] =
			&aggregate.VariantDelta{Views: 10000, Clicks: 200, Conversions: conv}
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := store.WriteDeltas(ctx, tx, d); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

func campaignState(ctx context.Context, t *testing.T, c client.Client, id string) campaign.State {
	t.Helper()
	var st campaign.State
	v, err := c.QueryWorkflow(ctx, id, "", workflows.CampaignStateQuery)
	if err == nil {
		err = v.Get(&st)
	}
	if err != nil {
		t.Fatalf("query %s: %v", id, err)
	}
	return st
}

func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// TestCampaignSurvivesAWorkerRestart launches a campaign evaluated every two seconds
// on a real Temporal dev server and Postgres, lets it evaluate and continue as new,
// stops the worker, starts another and terminates the campaign: it ends with the
// right events, every event id once (a retried emit repeats its id, which the
// consumer drops), its decisions stored and its row ended with final metrics.
func TestCampaignSurvivesAWorkerRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pool := storetest.Postgres(t)
	c := temporaltest.Client(t)
	tenant, id := uniqueTenant("campaign"), "cmp-restart"
	seedCampaignDelivery(t, pool, tenant, id)
	cfg := campaign.Config{CampaignID: id, Name: "Restart", Channel: events.ChannelSearch, TargetAudience: "all", Budget: 100000,
		Duration: "PT1H", EvaluationInterval: "PT2S", CreativeIDs: []string{"cr-a", "cr-b"}, TargetCPA: 20}
	raw, _ := json.Marshal(cfg)
	campaigns := store.Campaigns{DB: pool}
	if _, _, err := campaigns.Create(ctx, tenant, id, raw, "test", time.Now()); err != nil {
		t.Fatal(err)
	}
	pub := &recordingPublisher{}
	newWorker := func() interface {
		Start() error
		Stop()
	} {
		return worker.New(c, worker.Deps{Archive: &activities.Archive{},
			Campaigns: &activities.Campaigns{Aggregates: store.Aggregates{DB: pool}, Store: campaigns, Publisher: pub}})
	}

	first := newWorker()
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	wfID := workflows.CampaignWorkflowID(tenant, id)
	in := workflows.CampaignInput{Tenant: tenant, Config: cfg, ContinueAfter: 2}
	if _, err := c.ExecuteWorkflow(ctx, workflows.CampaignStartOptions(tenant, id), workflows.CampaignLifecycle, in); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecuteWorkflow(ctx, workflows.CampaignStartOptions(tenant, id), workflows.CampaignLifecycle, in); err == nil {
		t.Error("a second launch of a running campaign started")
	}
	waitFor(ctx, t, "three evaluations and a ContinueAsNew", func() bool {
		st := campaignState(ctx, t, c, wfID)
		return st.Evaluations >= 3 && st.Runs >= 1
	})
	first.Stop()
	time.Sleep(3 * time.Second) // a timer fires with no worker polling

	second := newWorker()
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	defer second.Stop()
	mid := campaignState(ctx, t, c, wfID)
	waitFor(ctx, t, "an evaluation on the new worker", func() bool {
		return campaignState(ctx, t, c, wfID).Evaluations > mid.Evaluations
	})
	if err := c.SignalWorkflow(ctx, wfID, "", workflows.CampaignTermSignal, workflows.TerminateSignal{Reason: "test done"}); err != nil {
		t.Fatal(err)
	}
	var st campaign.State
	if err := c.GetWorkflow(ctx, wfID, "").Get(ctx, &st); err != nil {
		t.Fatal(err)
	}
	checkCampaignEnd(ctx, t, pub.all(), st, campaigns, tenant, id)
}

func checkCampaignEnd(ctx context.Context, t *testing.T, evs []events.Event, st campaign.State, campaigns store.Campaigns, tenant, id string) {
	t.Helper()
	if st.Status != campaign.Ended || st.EndReason != "terminated: test done" || st.Runs < 1 {
		t.Errorf("final state: %s %q after %d runs", st.Status, st.EndReason, st.Runs)
	}
	byID := map[string]events.Event{}
	var order []events.Type
	for _, e := range evs {
		if prev, ok := byID[e.EventID]; ok {
			if prev.EventType != e.EventType {
				t.Errorf("event id %s used for %s and %s", e.EventID, prev.EventType, e.EventType)
			}
			continue // a retried emit: the consumer's dedup drops it
		}
		byID[e.EventID] = e
		order = append(order, e.EventType)
	}
	// Launch; the first evaluation's CPA 40 over a target of 20 (bids -0.5) and the
	// reallocation toward cr-a; nothing after, since no more delivery comes in.
	want := []events.Type{events.CampaignLaunch, events.CampaignOptimization, events.CampaignOptimization, events.CampaignTermination}
	if len(order) != len(want) || len(byID) != st.EventSeq {
		t.Fatalf("events %v (%d ids, seq %d), want %v", order, len(byID), st.EventSeq, want)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Errorf("event %d is %s, want %s", i, order[i], want[i])
		}
	}
	row, err := campaigns.Get(ctx, tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	var final events.CampaignMetrics
	if err := json.Unmarshal(row.FinalMetrics, &final); err != nil || row.Status != "ended" || final.Impressions != 20000 {
		t.Errorf("row: %s, final metrics %s (%v)", row.Status, row.FinalMetrics, err)
	}
	decisions, err := campaigns.Decisions(ctx, tenant, id, 100)
	if err != nil || len(decisions) != st.DecisionCount || st.DecisionCount != 2 {
		t.Errorf("%d decisions stored, %d made: %v", len(decisions), st.DecisionCount, err)
	}
}
