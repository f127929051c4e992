package api_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/streaming"
)

// startConsumer runs the real consumer behind the stack's API.
func (s *stack) startConsumer(t *testing.T) {
	t.Helper()
	c, err := streaming.NewConsumer(streaming.ConsumerConfig{
		Brokers: s.brokers, Topic: "marketing-events", DLQTopic: "marketing-events-dlq", Group: "api-test",
		Rules: events.DefaultRules(),
	}, s.codec, streaming.ConsumerStores{
		Batches: store.Batches{DB: s.pool, Group: "api-test"}, Archive: store.Archive{DB: s.pool},
		Aggregates: store.Aggregates{DB: s.pool}, Privacy: store.Privacy{DB: s.pool, Hasher: store.NewSubjectHasher([]byte("api-test-secrets-key"))},
		Realtime: &store.Realtime{RDB: s.rdb},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = c.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// waitFor polls path until check accepts the body.
func (s *stack) waitFor(t *testing.T, key, path string, check func(r response) bool) response {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := s.do(t, "GET", path, key, "", nil)
		if r.status == 200 && check(r) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never satisfied the check; last answer %d: %s", path, r.status, r.raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestQueryAPIServesWhatWasIngested(t *testing.T) {
	s := newStack(t, options{unique: true})
	s.startConsumer(t)
	acme, globex := s.tenants[0], s.tenants[1]
	now := time.Now().UTC()
	var batch []events.Event
	for _, typ := range events.AllTypes {
		batch = append(batch, events.Example(typ, acme, now))
	}
	if r := s.postJSON(t, s.keys[acme], batch); r.status != 202 {
		t.Fatalf("ingest: %d %s", r.status, r.raw)
	}

	// Real time, from Redis: the open window holds the events within a second or so.
	rt := s.waitFor(t, s.keys[acme], "/v1/metrics/realtime?windows=3", func(r response) bool {
		return r.body["totals"].(map[string]any)["events"] == float64(10)
	})
	sum := s.do(t, "GET", "/v1/metrics/realtime?view=summary", s.keys[acme], "", nil)
	if sum.status != 200 || sum.body["events"] != float64(10) || sum.body["event_types"].(map[string]any)["segment_update"] != float64(1) {
		t.Fatalf("summary: %d %s", sum.status, sum.raw)
	}
	fresh := rt.body["freshness"].(map[string]any)
	if fresh["source"] != "redis" || fresh["age_seconds"].(float64) > 30 {
		t.Fatalf("freshness %v", fresh)
	}
	if n := len(rt.body["windows"].([]any)); n != 3 {
		t.Fatalf("%d recent windows, want 3", n)
	}
	windowEvents := rt.body["open_window"].(map[string]any)["events"].(float64)
	for _, w := range rt.body["windows"].([]any) {
		windowEvents += w.(map[string]any)["events"].(float64)
	}
	if windowEvents != 10 {
		t.Fatalf("windows hold %v events, want 10: %s", windowEvents, rt.raw)
	}

	// Durable aggregates, from Postgres, at every level.
	for _, level := range []string{"5s", "hour", "day", "week"} {
		r := s.waitFor(t, s.keys[acme], "/v1/metrics/event-types?level="+level, func(r response) bool { return len(r.body["rows"].([]any)) == 10 })
		if r.body["freshness"].(map[string]any)["data_updated_at"] == nil {
			t.Fatalf("%s: no freshness: %s", level, r.raw)
		}
	}
	r := s.do(t, "GET", "/v1/metrics/campaigns?level=day&channel=search", s.keys[acme], "", nil)
	rows := r.body["rows"].([]any)
	if r.status != 200 || len(rows) != 1 {
		t.Fatalf("campaigns: %d %s", r.status, r.raw)
	}
	var want events.CampaignMetrics // the three campaign examples share one campaign
	for _, e := range batch {
		if e.EventType.Family() == events.FamilyCampaign && e.PerformanceMetrics != nil {
			want.Impressions += e.PerformanceMetrics.Impressions
			want.Clicks += e.PerformanceMetrics.Clicks
			want.Cost += e.PerformanceMetrics.Cost
		}
	}
	row := rows[0].(map[string]any)
	if row["impressions"] != float64(want.Impressions) || row["cost_micros"] != float64(int64(want.Cost*1e6)) {
		t.Fatalf("campaign row %v, want the campaign events' metrics %+v", row, want)
	}
	if wantCTR := float64(want.Clicks) / float64(want.Impressions); row["ctr"] != wantCTR {
		t.Fatalf("ctr %v, want %v", row["ctr"], wantCTR)
	}
	r = s.do(t, "GET", "/v1/metrics/channels?level=hour", s.keys[acme], "", nil)
	if r.status != 200 || len(r.body["rows"].([]any)) == 0 || !strings.Contains(r.raw, "conversion_value_micros") {
		t.Fatalf("channels: %d %s", r.status, r.raw)
	}
	r = s.do(t, "GET", "/v1/metrics/variants?level=week", s.keys[acme], "", nil)
	if r.status != 200 || len(r.body["rows"].([]any)) == 0 || !strings.Contains(r.raw, "mean_engagement_score") {
		t.Fatalf("variants: %d %s", r.status, r.raw)
	}

	// Another tenant sees none of it.
	r = s.do(t, "GET", "/v1/metrics/event-types?level=day", s.keys[globex], "", nil)
	if r.status != 200 || len(r.body["rows"].([]any)) != 0 {
		t.Fatalf("globex sees acme's rows: %s", r.raw)
	}
	r = s.do(t, "GET", "/v1/metrics/realtime", s.keys[globex], "", nil)
	if r.body["totals"].(map[string]any)["events"] != float64(0) {
		t.Fatalf("globex sees acme's totals: %s", r.raw)
	}
}

func TestQueryAPIRejectsBadParameters(t *testing.T) {
	s := newStack(t, options{unique: true})
	key := s.keys[s.tenants[0]]
	future := time.Now().Add(time.Hour).Format(time.RFC3339)
	for _, path := range []string{
		"/v1/metrics/campaigns?level=minute",
		"/v1/metrics/campaigns?from=" + future + "&to=" + time.Now().Format(time.RFC3339),
		"/v1/metrics/campaigns?from=yesterday",
		"/v1/metrics/channels?campaign_id=x",
		"/v1/metrics/event-types?level=5s&from=2026-01-01T00:00:00Z",
		"/v1/metrics/realtime?windows=abc",
		"/v1/metrics/realtime?windows=100000",
	} {
		if r := s.do(t, "GET", path, key, "", nil); r.status != http.StatusBadRequest || r.body["error"] == "" {
			t.Errorf("%s: %d %s", path, r.status, r.raw)
		}
	}
	if r := s.do(t, "GET", "/v1/metrics/realtime", "", "", nil); r.status != 401 {
		t.Errorf("no key: %d", r.status)
	}
}

// TestRealtimeFallsBackToPostgres: with Redis unreachable the real-time endpoint
// still answers, from Postgres, and says so.
func TestRealtimeFallsBackToPostgres(t *testing.T) {
	dead := &store.Realtime{RDB: redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})}
	s := newStack(t, options{unique: true, realtime: dead})
	s.startConsumer(t)
	acme := s.tenants[0]
	if r := s.postJSON(t, s.keys[acme], events.Example(events.JourneyStart, acme, time.Now().UTC())); r.status != 202 {
		t.Fatalf("ingest: %d %s", r.status, r.raw)
	}
	r := s.waitFor(t, s.keys[acme], "/v1/metrics/realtime", func(r response) bool {
		return r.body["totals"].(map[string]any)["events"] == float64(1)
	})
	if src := r.body["freshness"].(map[string]any)["source"]; src != "postgres" {
		t.Fatalf("source %v, want postgres", src)
	}
}
