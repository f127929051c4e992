package streaming_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/seal"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/streaming"
)

// sealerFor is the edge's sealer over the rig's key store (api.NewSealer does the
// same; the api package is not imported here to keep the test in streaming).
func sealerFor(keys store.SubjectKeys) *seal.Edge {
	return seal.NewEdge(func(ctx context.Context, tenant string, subjects []string) (map[string]seal.Key, error) {
		got, err := keys.Ensure(ctx, tenant, subjects)
		out := make(map[string]seal.Key, len(got))
		for s, k := range got {
			out[s] = seal.Key(k)
		}
		return out, err
	}, store.NewSubjectHasher(keys.SecretsKey).Hash)
}

// personEvent is a touchpoint of customer with identifiers derived from it.
func personEvent(tenant, customer string, i int) events.Event {
	e := events.Example(events.TouchpointInteraction, tenant, time.Now().Add(-time.Minute))
	e.EventID = fmt.Sprintf("%s-%x-%d", tenant, customer[0], i) // no identifier in the (cleartext) event id
	e.CustomerID = customer
	e.Device = &events.Device{
		DeviceID: "dev-" + customer, AnonymousID: "anon-" + customer, UserID: "user-" + customer,
		IP: "198.51.100.7", UserAgent: "agent-" + customer,
		Geo: &events.Geo{Country: "DE", City: "city-" + customer, Latitude: 52.52, Longitude: 13.4},
	}
	e.Normalize()
	return e
}

// topicValues reads every record of the events topic, as any Kafka client could.
func topicValues(t *testing.T, r *rig) [][]byte {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out [][]byte
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for int64(len(out)) < r.produced {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records", len(out), r.produced)
		}
		fs.EachRecord(func(rec *kgo.Record) { out = append(out, rec.Value) })
	}
	return out
}

// storedIdentities maps event id to the customer and device ids of the stored
// journey rows: what the consumer restored.
func storedIdentities(t *testing.T, r *rig, tenant string) map[string][2]string {
	t.Helper()
	rows, err := r.pool.Query(context.Background(), `SELECT e, c, d FROM journey_touchpoints,
		unnest(event_ids, customer_ids, device_ids) AS t(e, c, d) WHERE tenant_id = $1`, tenant)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][2]string{}
	for rows.Next() {
		var e, c, d string
		if err := rows.Scan(&e, &c, &d); err != nil {
			t.Fatal(err)
		}
		out[e] = [2]string{c, d}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSealedEventsEndToEnd(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	keys := store.SubjectKeys{DB: r.pool, SecretsKey: store.SecretsKey("test-secret")}
	sealer := sealerFor(keys)
	tenant := r.prefix + "acme"

	var first []events.Event
	for i := range 3 {
		first = append(first, personEvent(tenant, "alice", i), personEvent(tenant, "bob", i))
	}
	sealed := append([]events.Event(nil), first...)
	if err := sealer.SealAll(ctx, sealed); err != nil {
		t.Fatal(err)
	}
	r.publish(t, sealed)

	// Kafka holds no identifier in clear, in any record's bytes.
	for _, v := range topicValues(t, r) {
		for _, secret := range []string{"alice", "bob", "198.51.100.7", "city-", "agent-"} {
			if bytes.Contains(v, []byte(secret)) {
				t.Fatalf("record bytes show %q: %q", secret, v)
			}
		}
		if !bytes.Contains(v, []byte(seal.CustomerIDPrefix)) {
			t.Fatalf("record is not sealed: %q", v)
		}
	}

	reg := prometheus.NewRegistry()
	st := r.stores(nil)
	st.SubjectKeys = keys
	c, err := streaming.NewConsumer(streaming.ConsumerConfig{
		Brokers: r.brokers, Topic: topic, DLQTopic: dlqTopic, Group: group,
		Rules: events.DefaultRules(), MaxPollRecords: 3000, PrivacyRefresh: 100 * time.Millisecond,
	}, r.codec, st, reg)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := c.Run(runCtx); err != nil {
			t.Errorf("consumer: %v", err)
		}
	})
	defer func() { cancel(); wg.Wait() }()
	r.waitCaughtUp(t)

	// The consumer stored the events with their identifiers restored.
	got := storedIdentities(t, r, tenant)
	for _, e := range first {
		if want := [2]string{e.CustomerID, e.Device.DeviceID}; got[e.EventID] != want {
			t.Fatalf("event %s stored with %v, want %v", e.EventID, got[e.EventID], want)
		}
	}

	// Alice is deleted: her key is destroyed (and the consumer's cache dropped, as a
	// privacy change does). An event still sealed under her old key (the edge's cache
	// holds it) is dropped as shredded; Bob's events still flow.
	if n, err := keys.Destroy(ctx, tenant, []string{"alice"}); err != nil || n != 1 {
		t.Fatalf("Destroy: %d, %v", n, err)
	}
	c.ForgetSubjectKeys()
	late := []events.Event{personEvent(tenant, "alice", 10), personEvent(tenant, "bob", 10)}
	if err := sealer.SealAll(ctx, late); err != nil {
		t.Fatal(err)
	}
	if late[0].Sealed.Token != sealed[0].Sealed.Token {
		t.Fatal("the edge did not use its cached key; the test needs the old key")
	}
	r.publish(t, late)
	r.waitCaughtUp(t)

	got = storedIdentities(t, r, tenant)
	if _, ok := got[late[0].EventID]; ok {
		t.Fatal("an event sealed under a destroyed key was stored")
	}
	if got[late[1].EventID] != [2]string{"bob", "dev-bob"} {
		t.Fatalf("bob's later event stored as %v", got[late[1].EventID])
	}
	if n := counterValue(t, reg, "touchpoint_consumer_dropped_total", "shredded"); n != 1 {
		t.Fatalf("%v events dropped as shredded, want 1", n)
	}
	if n := counterValue(t, reg, "touchpoint_consumer_dead_letters_total", "sealed"); n != 0 {
		t.Fatalf("%v sealed events dead-lettered, want 0", n)
	}
}

// counterValue returns the value of one label of a counter family.
func counterValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == label {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}
