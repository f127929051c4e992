package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/aggregate"
	"github.com/touchpoint/touchpoint/api"
	"github.com/touchpoint/touchpoint/internal/temporaltest"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
	"github.com/touchpoint/touchpoint/worker"
	"github.com/touchpoint/touchpoint/workflows"
)

// attributionStack is the API with a real Temporal server and worker and Postgres
// holding one tenant's journeys: a phone touch (social) and a logged-in phone touch
// (email) before a 10 EUR conversion on a laptop, and a search touch before another
// person's 3 USD conversion.
type attributionStack struct {
	srv          *httptest.Server
	tenant, key  string
	otherKey     string
	from, to     time.Time
	convertedDay time.Time
}

func newAttributionStack(t *testing.T) *attributionStack {
	t.Helper()
	ctx := context.Background()
	pool := storetest.Postgres(t)
	tenants := store.Tenants{DB: pool}
	suffix := strconv.FormatInt(time.Now().UnixNano()%1e9, 10) // the dev server outlives databases
	s := &attributionStack{tenant: "acme-" + suffix, from: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)}
	s.to, s.convertedDay = s.from.AddDate(0, 0, 3), s.from.AddDate(0, 0, 1)
	for i, id := range []string{s.tenant, "globex-" + suffix} {
		if _, err := tenants.Create(ctx, id, ""); err != nil {
			t.Fatal(err)
		}
		_, key, err := tenants.CreateKey(ctx, id, "test", store.AllScopes)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			s.key = key
		} else {
			s.otherKey = key
		}
	}
	seedSmallJourneys(t, pool, s.tenant, s.convertedDay)
	c := temporaltest.Client(t)
	w := worker.New(c, worker.Deps{
		Archive:     &activities.Archive{Store: store.Archive{DB: pool}, Aggregates: store.Aggregates{DB: pool}},
		Attribution: &activities.Attribution{Journeys: store.Journeys{DB: pool}, Credits: store.Attribution{DB: pool}},
	})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	srv := api.New(api.Options{TenantRate: 1e6, TenantBurst: 1e6, MaxBodyBytes: 1 << 20},
		api.Deps{Tenants: tenants, Workflows: api.TemporalWorkflows{Client: c}, Attribution: store.Attribution{DB: pool}})
	s.srv = httptest.NewServer(srv)
	t.Cleanup(s.srv.Close)
	return s
}

func seedSmallJourneys(t *testing.T, p *pgxpool.Pool, tenant string, day time.Time) {
	t.Helper()
	ctx := context.Background()
	today := time.Now().UTC().Truncate(24 * time.Hour)
	if err := (store.Archive{DB: p}).EnsurePartitions(ctx, today, 0); err != nil {
		t.Fatal(err)
	}
	at := func(h int) time.Time { return day.Add(time.Duration(h) * time.Hour) }
	rows := &store.JourneyRows{
		Touchpoints: []store.Touchpoint{
			{EventID: "t1", OccurredAt: at(-30), Who: store.Who{DeviceID: "phone", AnonymousID: "a1"}, Channel: "social", InteractionType: "click", CampaignID: "spring"},
			{EventID: "t2", OccurredAt: at(-20), Who: store.Who{DeviceID: "phone", UserID: "u1"}, Channel: "email", InteractionType: "open", CampaignID: "news"},
			{EventID: "t3", OccurredAt: at(1), Who: store.Who{DeviceID: "other", UserID: "u2"}, Channel: "search", InteractionType: "click", CampaignID: "brand"},
		},
		Conversions: []store.Conversion{
			{EventID: "c1", OccurredAt: at(5), Who: store.Who{DeviceID: "laptop", UserID: "u1"}, ValueMicros: 10_000_000, Currency: "EUR", AttributionWeight: 1},
			{EventID: "c2", OccurredAt: at(6), Who: store.Who{UserID: "u2"}, ValueMicros: 3_000_000, Currency: "USD", AttributionWeight: 1},
		},
	}
	err := store.Batches{DB: p, Group: "seed"}.Apply(ctx, "seed", today, []int32{0}, func(map[int32]int64) ([]store.PartitionBatch, *store.PreparedDeltas) {
		return []store.PartitionBatch{{Topic: "seed", LastOffset: 4, Journeys: map[string]*store.JourneyRows{tenant: rows}}}, store.PrepareDeltas(aggregate.New())
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (s *attributionStack) call(t *testing.T, method, path, key, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, s.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func TestAttributionRecomputeReportCompare(t *testing.T) {
	s := newAttributionStack(t)
	from, to := s.from.Format(time.RFC3339), s.to.Format(time.RFC3339)
	body := `{"from":"` + from + `","to":"` + to + `"}`
	status, started := s.call(t, "POST", "/v1/attribution/recompute", s.key, body)
	wantID := workflows.AttributionWorkflowID(s.tenant, s.from, s.to)
	if status != http.StatusAccepted || started["workflow_id"] != wantID || started["run_id"] == "" {
		t.Fatalf("start: %d %v, want 202 with id %s", status, started, wantID)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, got := s.call(t, "GET", "/v1/attribution/recompute/"+from+"/"+to, s.key, "")
		p, _ := got["progress"].(map[string]any)
		if status == http.StatusOK && p["done"] == true {
			if p["conversions"] != 2.0 || p["chunks_total"] != 1.0 {
				t.Fatalf("progress %v, want 2 conversions in 1 chunk", p)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("recompute not done: %d %v", status, got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if status, got := s.call(t, "GET", "/v1/attribution/recompute?workflow_id="+wantID, s.key, ""); status != http.StatusOK || got["workflow_id"] != wantID {
		t.Errorf("progress by id: %d %v", status, got)
	}
	if status, _ := s.call(t, "GET", "/v1/attribution/recompute?workflow_id="+wantID, s.otherKey, ""); status != http.StatusNotFound {
		t.Errorf("another tenant's recompute: %d, want 404", status)
	}

	// Linear: the laptop conversion's 10 EUR split between the phone's two touches.
	status, report := s.call(t, "GET", "/v1/attribution/report?model=linear&group_by=campaign&from="+from+"&to="+to, s.key, "")
	if status != http.StatusOK {
		t.Fatalf("report: %d %v", status, report)
	}
	got := map[string]float64{}
	for _, r := range report["rows"].([]any) {
		row := r.(map[string]any)
		got[row["key"].(string)+" "+row["currency"].(string)] = row["value_micros"].(float64)
	}
	want := map[string]float64{"spring EUR": 5e6, "news EUR": 5e6, "brand USD": 3e6}
	if len(got) != len(want) || got["spring EUR"] != want["spring EUR"] || got["news EUR"] != want["news EUR"] || got["brand USD"] != want["brand USD"] {
		t.Errorf("linear by campaign %v, want %v", got, want)
	}
	status, cmp := s.call(t, "GET", "/v1/attribution/compare?from="+from+"&to="+to, s.key, "")
	if status != http.StatusOK {
		t.Fatalf("compare: %d %v", status, cmp)
	}
	for _, r := range cmp["rows"].([]any) {
		row := r.(map[string]any)
		if row["channel"] == "social" {
			models := row["models"].(map[string]any)
			first := models["first_touch"].(map[string]any)["value_micros"]
			last, hasLast := models["last_touch"]
			if first != 10e6 || hasLast {
				t.Errorf("social: first_touch %v (want 10e6), last_touch %v (want none)", first, last)
			}
		}
	}
	if len(cmp["rows"].([]any)) != 3 {
		t.Errorf("compare rows %v, want social, email, search", cmp["rows"])
	}
}

func TestAttributionBadRequests(t *testing.T) {
	s := newAttributionStack(t)
	for _, tt := range []struct{ method, path, body string }{
		{"POST", "/v1/attribution/recompute", `{"from":"2026-02-02T00:00:00Z","to":"2026-02-01T00:00:00Z"}`},
		{"POST", "/v1/attribution/recompute", `{"from":"yesterday","to":"2026-02-01T00:00:00Z"}`},
		{"POST", "/v1/attribution/recompute", `{"from":"2026-02-01T00:00:00Z","to":"2026-02-02T00:00:00Z","models":["magic"]}`},
		{"POST", "/v1/attribution/recompute", `{"from":"2020-02-01T00:00:00Z","to":"2026-02-02T00:00:00Z"}`},
		{"POST", "/v1/attribution/recompute", `{"to":"2026-02-02T00:00:00Z"}`},
		{"GET", "/v1/attribution/recompute", ""},
		{"GET", "/v1/attribution/recompute/x/2026-02-02T00:00:00Z", ""},
		{"GET", "/v1/attribution/report?model=linear&from=2026-02-01T00:00:00Z", ""},
		{"GET", "/v1/attribution/report?from=2026-02-01T00:00:00Z&to=2026-02-02T00:00:00Z", ""},
		{"GET", "/v1/attribution/report?model=linear&group_by=country&from=2026-02-01T00:00:00Z&to=2026-02-02T00:00:00Z", ""},
		{"GET", "/v1/attribution/compare?from=2026-02-02T00:00:00Z&to=2026-02-01T00:00:00Z", ""},
	} {
		if status, got := s.call(t, tt.method, tt.path, s.key, tt.body); status != http.StatusBadRequest || got["kind"] != "invalid" {
			t.Errorf("%s %s %s: %d %v, want 400", tt.method, tt.path, tt.body, status, got)
		}
	}
	if status, _ := s.call(t, "GET", "/v1/attribution/compare?from=2026-02-01T00:00:00Z&to=2026-02-02T00:00:00Z", "wrong", ""); status != http.StatusUnauthorized {
		t.Errorf("bad key: %d, want 401", status)
	}
}

func TestAttributionWithoutWorkflowsIs503(t *testing.T) {
	tenants := store.Tenants{DB: storetest.Postgres(t)}
	if _, err := tenants.Create(context.Background(), "acme", ""); err != nil {
		t.Fatal(err)
	}
	_, key, err := tenants.CreateKey(context.Background(), "acme", "test", store.AllScopes)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.New(api.Options{TenantRate: 1e6, TenantBurst: 1e6, MaxBodyBytes: 1 << 20}, api.Deps{Tenants: tenants}))
	defer srv.Close()
	s := &attributionStack{srv: srv}
	for _, tt := range []struct{ method, path, body string }{
		{"POST", "/v1/attribution/recompute", `{"from":"2026-02-01T00:00:00Z","to":"2026-02-02T00:00:00Z"}`},
		{"GET", "/v1/attribution/recompute/2026-02-01T00:00:00Z/2026-02-02T00:00:00Z", ""},
		{"GET", "/v1/attribution/report?model=linear&from=2026-02-01T00:00:00Z&to=2026-02-02T00:00:00Z", ""},
		{"GET", "/v1/attribution/compare?from=2026-02-01T00:00:00Z&to=2026-02-02T00:00:00Z", ""},
	} {
		if status, _ := s.call(t, tt.method, tt.path, key, tt.body); status != http.StatusServiceUnavailable {
			t.Errorf("%s %s: %d, want 503", tt.method, tt.path, status)
		}
	}
}
