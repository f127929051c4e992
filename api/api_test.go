package api_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchpoint/touchpoint/api"
	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
	"github.com/touchpoint/touchpoint/streaming"
)

const adminKey = "test-admin-key-0123456789"

// stack is an API server wired to a real Kafka-protocol broker over TCP, a real
// schema registry client, and a real Postgres.
type stack struct {
	srv     *httptest.Server
	brokers []string
	codec   *events.Codec
	keys    map[string]string // tenant -> API key
	pool    *pgxpool.Pool
	rdb     *redis.Client
	tenants []string
}

type options struct {
	rate     float64
	burst    int
	body     int64
	realtime *store.Realtime // nil: the shared Redis
	unique   bool            // tenant ids with a unique suffix
}

func newStack(t *testing.T, o options) *stack {
	t.Helper()
	ctx := context.Background()
	broker, err := streaming.StartBroker(0, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(broker.Close)
	brokers := broker.Addrs()
	if err := streaming.EnsureTopics(ctx, brokers, streaming.Topics{Events: "marketing-events", DLQ: "marketing-events-dlq", Partitions: 3, Retention: 90 * 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	reg, err := events.InProcessRegistry()
	if err != nil {
		t.Fatal(err)
	}
	codec, err := events.NewCodec(ctx, reg)
	if err != nil {
		t.Fatal(err)
	}
	producer, err := streaming.NewProducer(brokers, "marketing-events", codec, streaming.ProducerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(producer.Close)
	tenants := store.Tenants{DB: storetest.Postgres(t)}
	keys := map[string]string{}
	ids := []string{"acme", "globex"}
	if o.unique { // tests that fill Redis need tenant ids no other test uses
		suffix := fmt.Sprintf("-%d", time.Now().UnixNano()%1e9)
		ids = []string{"acme" + suffix, "globex" + suffix}
	}
	for _, id := range ids {
		if _, err := tenants.Create(ctx, id, ""); err != nil {
			t.Fatal(err)
		}
		_, keys[id], err = tenants.CreateKey(ctx, id, "test", store.AllScopes)
		if err != nil {
			t.Fatal(err)
		}
	}
	if o.rate == 0 {
		o.rate, o.burst = 1e6, 1e6
	}
	if o.body == 0 {
		o.body = 1 << 20
	}
	rdb := storetest.Redis(t)
	rt := o.realtime
	if rt == nil {
		rt = &store.Realtime{RDB: rdb}
	}
	s := api.New(api.Options{
		Rules: events.DefaultRules(), MaxBodyBytes: o.body, MaxBatchEvents: 1000,
		TenantRate: o.rate, TenantBurst: o.burst, AdminKey: adminKey,
	}, api.Deps{Tenants: tenants, Publisher: producer, Codec: codec,
		Checks:     []api.Check{{Name: "postgres", Fn: func(ctx context.Context) error { return tenants.DB.Ping(ctx) }}},
		Aggregates: store.Aggregates{DB: tenants.DB}, Realtime: rt})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	st := &stack{srv: srv, brokers: brokers, codec: codec, keys: keys, pool: tenants.DB, rdb: rdb, tenants: ids}
	t.Cleanup(func() {
		for _, id := range ids {
			iter := rdb.Scan(context.Background(), 0, "tp:{"+id+"}:*", 100).Iterator()
			for iter.Next(context.Background()) {
				rdb.Del(context.Background(), iter.Val())
			}
		}
	})
	return st
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (s *stack) do(t *testing.T, method, path, key, contentType string, body []byte) response {
	t.Helper()
	req, err := http.NewRequest(method, s.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := response{status: res.StatusCode, header: res.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func (s *stack) postJSON(t *testing.T, key string, v any) response {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return s.do(t, "POST", "/v1/events", key, "application/json", b)
}

// consume reads n records from the events topic with a plain Kafka client.
func (s *stack) consume(t *testing.T, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.brokers...), kgo.ConsumeTopics("marketing-events"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		f := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records", len(out), n)
		}
		out = append(out, f.Records()...)
	}
	return out
}

func TestEveryEventTypeIsAcceptedAndKeyedByTenant(t *testing.T) {
	s := newStack(t, options{})
	now := time.Now().UTC()
	sent := map[string]events.Event{}
	for _, typ := range events.AllTypes {
		e := events.Example(typ, "acme", now)
		sent[e.EventID] = e
		r := s.postJSON(t, s.keys["acme"], e)
		if r.status != http.StatusAccepted {
			t.Fatalf("%s: status %d: %s", typ, r.status, r.raw)
		}
	}
	for _, rec := range s.consume(t, len(events.AllTypes)) {
		if string(rec.Key) != "acme" {
			t.Errorf("record key %q, want the tenant id", rec.Key)
		}
		var got events.Event
		if err := s.codec.Decode(context.Background(), rec.Value, &got); err != nil {
			t.Fatalf("decode record: %v", err)
		}
		want, ok := sent[got.EventID]
		if !ok {
			t.Fatalf("unexpected event %s", got.EventID)
		}
		if a, b := mustJSON(t, want), mustJSON(t, got); a != b {
			t.Errorf("event %s changed on the way:\nsent %s\ngot  %s", got.EventID, a, b)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestBatchAcceptsGoodEventsAndReportsBadOnes(t *testing.T) {
	s := newStack(t, options{})
	now := time.Now().UTC()
	good1 := events.Example(events.TouchpointInteraction, "acme", now)
	good2 := events.Example(events.ConversionEvent, "acme", now)
	good2.EventID = "" // the edge assigns one
	neg := events.Example(events.CampaignOptimization, "acme", now)
	neg.PerformanceMetrics.Cost = -5
	other := events.Example(events.CampaignLaunch, "globex", now)
	batch := []any{good1, neg, good2, other, map[string]any{"event_type": "campaign_launch", "bogus": 1}}
	r := s.postJSON(t, s.keys["acme"], batch)
	if r.status != http.StatusAccepted {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	if r.body["accepted"] != float64(2) {
		t.Fatalf("accepted %v, want 2: %s", r.body["accepted"], r.raw)
	}
	ids := r.body["event_ids"].([]any)
	if ids[0] != good1.EventID || ids[1] == "" {
		t.Fatalf("event_ids %v", ids)
	}
	rej := r.body["rejected"].([]any)
	wantIdx := map[float64]string{1: "performance_metrics.cost", 3: "tenant_id", 4: "bogus"}
	if len(rej) != len(wantIdx) {
		t.Fatalf("rejected %v", rej)
	}
	for _, x := range rej {
		m := x.(map[string]any)
		if !strings.Contains(m["reason"].(string), wantIdx[m["index"].(float64)]) {
			t.Errorf("rejection %v does not name %q", m, wantIdx[m["index"].(float64)])
		}
	}
	if n := len(s.consume(t, 2)); n != 2 {
		t.Fatalf("%d records in Kafka, want 2", n)
	}
}

func TestBadRequests(t *testing.T) {
	s := newStack(t, options{body: 64 << 10})
	now := time.Now().UTC()
	valid := events.Example(events.CampaignLaunch, "acme", now)
	mutate := func(f func(m map[string]any)) []byte {
		var m map[string]any
		_ = json.Unmarshal([]byte(mustJSON(t, valid)), &m)
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	cases := []struct {
		name        string
		key         string
		contentType string
		body        []byte
		status      int
		reason      string
	}{
		{"malformed JSON", s.keys["acme"], "application/json", []byte(`{"event_type": "campaign_launch",`), 400, "JSON"},
		{"not an object", s.keys["acme"], "application/json", []byte(`"hello"`), 400, "JSON"},
		{"empty body", s.keys["acme"], "application/json", nil, 400, "empty"},
		{"empty batch", s.keys["acme"], "application/json", []byte(`[]`), 400, "empty"},
		{"unknown event_type", s.keys["acme"], "application/json", mutate(func(m map[string]any) { m["event_type"] = "campaign_party" }), 400, "event_type"},
		{"missing tenant", s.keys["acme"], "application/json", mutate(func(m map[string]any) { delete(m, "tenant_id") }), 400, "tenant_id"},
		{"wrong tenant for key", s.keys["globex"], "application/json", mutate(func(m map[string]any) {}), 403, "tenant_id"},
		{"negative metrics", s.keys["acme"], "application/json", mutate(func(m map[string]any) {
			m["performance_metrics"].(map[string]any)["clicks"] = -1
		}), 400, "performance_metrics.clicks"},
		{"unknown channel", s.keys["acme"], "application/json", mutate(func(m map[string]any) { m["channel"] = "telepathy" }), 400, "channel"},
		{"far-future timestamp", s.keys["acme"], "application/json", mutate(func(m map[string]any) { m["timestamp"] = now.Add(48 * time.Hour).Format(time.RFC3339) }), 400, "timestamp"},
		{"oversized body", s.keys["acme"], "application/json", bytes.Repeat([]byte(" "), 70<<10), 413, "limit"},
		{"missing API key", "", "application/json", mutate(func(m map[string]any) {}), 401, "missing API key"},
		{"wrong API key", "tpk_not-a-real-key", "application/json", mutate(func(m map[string]any) {}), 401, "unknown"},
		{"unsupported content type", s.keys["acme"], "text/csv", []byte("a,b"), 400, "Content-Type"},
		{"broken avro frame", s.keys["acme"], "application/vnd.touchpoint.avro-batch", []byte{0, 0, 1, 0, 1}, 400, "avro batch"},
		{"avro that is not wire format", s.keys["acme"], "application/vnd.touchpoint.avro", []byte("plain bytes"), 400, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.do(t, "POST", "/v1/events", c.key, c.contentType, c.body)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.raw)
			}
			msg, _ := r.body["error"].(string)
			if msg == "" || !strings.Contains(msg, c.reason) {
				t.Fatalf("error %q does not mention %q", msg, c.reason)
			}
		})
	}
}

func TestRateLimitPerTenant(t *testing.T) {
	s := newStack(t, options{rate: 1, burst: 3})
	now := time.Now().UTC()
	batch := func(tenant string, n int) []events.Event {
		var out []events.Event
		for range n {
			out = append(out, events.Example(events.TouchpointInteraction, tenant, now))
			out[len(out)-1].EventID = events.NewEventID()
		}
		return out
	}
	if r := s.postJSON(t, s.keys["acme"], batch("acme", 3)); r.status != http.StatusAccepted {
		t.Fatalf("within burst: %d %s", r.status, r.raw)
	}
	r := s.postJSON(t, s.keys["acme"], batch("acme", 2))
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("over the limit: status %d Retry-After %q: %s", r.status, r.header.Get("Retry-After"), r.raw)
	}
	if r := s.postJSON(t, s.keys["globex"], batch("globex", 3)); r.status != http.StatusAccepted {
		t.Fatalf("another tenant is not limited by acme: %d %s", r.status, r.raw)
	}
	if r := s.postJSON(t, s.keys["acme"], batch("acme", 10)); r.status != http.StatusTooManyRequests {
		t.Fatalf("batch larger than the burst: %d %s", r.status, r.raw)
	}
}

func TestAvroIngest(t *testing.T) {
	s := newStack(t, options{})
	now := time.Now().UTC()
	one := events.Example(events.ContentOptimization, "acme", now)
	rec, err := s.codec.Encode(&one)
	if err != nil {
		t.Fatal(err)
	}
	if r := s.do(t, "POST", "/v1/events", s.keys["acme"], "application/vnd.touchpoint.avro", rec); r.status != http.StatusAccepted {
		t.Fatalf("single avro: %d %s", r.status, r.raw)
	}
	var framed []byte
	for _, typ := range []events.Type{events.JourneyStart, events.SegmentUpdate} {
		e := events.Example(typ, "acme", now)
		b, err := s.codec.Encode(&e)
		if err != nil {
			t.Fatal(err)
		}
		framed = binary.BigEndian.AppendUint32(framed, uint32(len(b)))
		framed = append(framed, b...)
	}
	framed = binary.BigEndian.AppendUint32(framed, 3)
	framed = append(framed, 9, 9, 9) // a bad record inside a good frame is rejected alone
	r := s.do(t, "POST", "/v1/events", s.keys["acme"], "application/vnd.touchpoint.avro-batch", framed)
	if r.status != http.StatusAccepted || r.body["accepted"] != float64(2) {
		t.Fatalf("avro batch: %d %s", r.status, r.raw)
	}
	if rej := r.body["rejected"].([]any); len(rej) != 1 {
		t.Fatalf("rejected %v", rej)
	}
	s.consume(t, 3)
}

func TestAdminTenantsAndKeys(t *testing.T) {
	s := newStack(t, options{})
	if r := s.do(t, "POST", "/v1/admin/tenants", "wrong-admin-key-xxxxxxxx", "application/json", []byte(`{"tenant_id":"initech"}`)); r.status != 401 {
		t.Fatalf("wrong admin key: %d", r.status)
	}
	if r := s.do(t, "POST", "/v1/admin/tenants", s.keys["acme"], "application/json", []byte(`{"tenant_id":"initech"}`)); r.status != 401 {
		t.Fatalf("a tenant key is not an admin key: %d", r.status)
	}
	if r := s.do(t, "POST", "/v1/admin/tenants", adminKey, "application/json", []byte(`{"tenant_id":"Initech!"}`)); r.status != 400 {
		t.Fatalf("bad tenant id: %d %s", r.status, r.raw)
	}
	if r := s.do(t, "POST", "/v1/admin/tenants", adminKey, "application/json", []byte(`{"tenant_id":"initech","name":"Initech"}`)); r.status != 201 {
		t.Fatalf("create tenant: %d %s", r.status, r.raw)
	}
	if r := s.do(t, "POST", "/v1/admin/tenants", adminKey, "application/json", []byte(`{"tenant_id":"initech"}`)); r.status != 409 {
		t.Fatalf("duplicate tenant: %d %s", r.status, r.raw)
	}
	r := s.do(t, "POST", "/v1/admin/tenants/initech/keys", adminKey, "application/json", []byte(`{"name":"ingest"}`))
	if r.status != 201 {
		t.Fatalf("create key: %d %s", r.status, r.raw)
	}
	key, keyID := r.body["key"].(string), r.body["key_id"].(string)
	e := events.Example(events.SegmentUpdate, "initech", time.Now().UTC())
	if r := s.postJSON(t, key, e); r.status != 202 {
		t.Fatalf("new key ingests: %d %s", r.status, r.raw)
	}
	if r := s.do(t, "DELETE", fmt.Sprintf("/v1/admin/tenants/initech/keys/%s", keyID), adminKey, "", nil); r.status != 204 {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	if r := s.do(t, "POST", "/v1/admin/tenants/nobody/keys", adminKey, "", nil); r.status != 404 {
		t.Fatalf("key for unknown tenant: %d %s", r.status, r.raw)
	}
	if r := s.do(t, "GET", "/v1/admin/tenants", adminKey, "", nil); r.status != 200 || len(r.body["tenants"].([]any)) != 3 {
		t.Fatalf("list: %d %s", r.status, r.raw)
	}
}

func TestHealthReadinessMetrics(t *testing.T) {
	s := newStack(t, options{})
	if r := s.do(t, "GET", "/healthz", "", "", nil); r.status != 200 {
		t.Fatalf("healthz %d", r.status)
	}
	r := s.do(t, "GET", "/readyz", "", "", nil)
	if r.status != 200 || r.body["checks"].(map[string]any)["postgres"].(map[string]any)["status"] != "ok" {
		t.Fatalf("readyz %d %s", r.status, r.raw)
	}
	s.postJSON(t, s.keys["acme"], events.Example(events.JourneyStart, "acme", time.Now().UTC()))
	r = s.do(t, "GET", "/metrics", "", "", nil)
	// Public, so it names no tenant.
	if r.status != 200 || !strings.Contains(r.raw, "touchpoint_ingest_events_accepted_total 1") || strings.Contains(r.raw, "acme") {
		t.Fatalf("metrics %d:\n%s", r.status, r.raw)
	}
	if r := s.do(t, "GET", "/nope", "", "", nil); r.status != 404 {
		t.Fatalf("unknown route %d", r.status)
	}
}

func TestReadinessReportsAFailingDependency(t *testing.T) {
	s := api.New(api.Options{Rules: events.DefaultRules(), MaxBodyBytes: 1 << 20, MaxBatchEvents: 10, TenantRate: 1, TenantBurst: 1},
		api.Deps{Checks: []api.Check{{Name: "redis", Fn: func(context.Context) error { return fmt.Errorf("connection refused") }}}})
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "connection refused") {
		t.Fatalf("readyz with redis down: %d %s", rec.Code, rec.Body.String())
	}
}
