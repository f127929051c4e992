package streaming_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchpoint/touchpoint/aggregate/aggregatetest"
	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/streaming"
)

// TestExactlyOnceWithPoisonAndDuplicates streams generator events with re-sent
// duplicates and every kind of poison record, then checks Postgres and Redis against
// the generator's own totals, the dead-letter topic, and that a restarted consumer
// changes nothing and still recognises duplicates.
func TestExactlyOnceWithPoisonAndDuplicates(t *testing.T) {
	r := newRig(t)
	g := r.generator(1)
	first := take(g, 20000)
	r.publish(t, first)
	r.publish(t, first[1000:1500]) // re-sent: must not count twice
	poison := poisonRecords(t, r)
	r.publishRaw(t, poison...)

	rt := &store.Realtime{RDB: r.rdb}
	_, stop := r.start(t, r.stores(rt))
	r.waitCaughtUp(t)
	want := g.Totals()
	if diff := aggregatetest.Diff(r.postgresTotals(t), want); diff != "" {
		t.Fatalf("Postgres totals differ from the generator's:\n%s", diff)
	}
	eventually(t, "Redis totals", func() string { return aggregatetest.Diff(r.redisTotals(t, want), want) })
	checkDeadLetters(t, r, len(poison))
	var archived int64
	if err := r.pool.QueryRow(context.Background(), `SELECT sum(event_count) FROM event_archive`).Scan(&archived); err != nil || archived != 20000 {
		t.Fatalf("archive holds %d events, want 20000 (%v)", archived, err)
	}
	stop()

	// A new consumer resumes from Postgres' offsets, reloads the deduplication set from
	// the archive, and counts only the new events.
	_, stop = r.start(t, r.stores(rt))
	defer stop()
	r.publish(t, take(g, 3000))
	r.publish(t, first[:200])
	r.waitCaughtUp(t)
	want = g.Totals()
	if diff := aggregatetest.Diff(r.postgresTotals(t), want); diff != "" {
		t.Fatalf("after restart, Postgres totals differ:\n%s", diff)
	}
	eventually(t, "Redis totals after restart", func() string { return aggregatetest.Diff(r.redisTotals(t, want), want) })
}

// poisonRecords are records no consumer may count, each of a different kind.
func poisonRecords(t *testing.T, r *rig) []*kgo.Record {
	t.Helper()
	now := time.Now().UTC()
	valid := events.Example(events.TouchpointInteraction, r.prefix+"tenant-01", now)
	enc, err := r.codec.Encode(&valid)
	if err != nil {
		t.Fatal(err)
	}
	unknownID := bytes.Clone(enc)
	binary.BigEndian.PutUint32(unknownID[1:5], 987654)
	future := events.Example(events.CampaignLaunch, r.prefix+"tenant-01", now.Add(24*time.Hour))
	futureJSON, _ := json.Marshal(future)
	wrongKey := events.Example(events.CampaignLaunch, r.prefix+"tenant-01", now)
	wrongKeyJSON, _ := json.Marshal(wrongKey)
	key := []byte(r.prefix + "tenant-01")
	return []*kgo.Record{
		{Key: key, Value: []byte{0xde, 0xad, 0xbe, 0xef, 0x01}},                                                   // random bytes
		{Key: key, Value: enc[:len(enc)/2]},                                                                       // truncated Avro
		{Key: key, Value: unknownID},                                                                              // unknown schema id
		{Key: key, Value: []byte(`{"event_id":"x","event_type":"campaign_launch","tenant_id":7}`)},                // wrong types
		{Key: key, Value: append([]byte(`{"event_id":"`), append(bytes.Repeat([]byte("a"), 70<<10), `"}`...)...)}, // oversized
		{Key: key, Value: []byte("{\"event_id\":\"\xff\xfe\"}")},                                                  // invalid UTF-8
		{Key: key, Value: futureJSON},                                                                             // far-future timestamp
		{Key: []byte("someone-else"), Value: wrongKeyJSON},                                                        // key is not the tenant
		{Key: key, Value: nil},                                                                                    // empty
	}
}

func checkDeadLetters(t *testing.T, r *rig, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.brokers...), kgo.ConsumeTopics(dlqTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []*kgo.Record
	for len(got) < n && ctx.Err() == nil {
		got = append(got, cl.PollFetches(ctx).Records()...)
	}
	if len(got) != n {
		t.Fatalf("%d dead letters, want %d", len(got), n)
	}
	for _, rec := range got {
		h := map[string]string{}
		for _, kv := range rec.Headers {
			h[kv.Key] = string(kv.Value)
		}
		if h[streaming.HeaderReason] == "" || h[streaming.HeaderTopic] != topic || h[streaming.HeaderOffset] == "" || h[streaming.HeaderPartition] == "" {
			t.Fatalf("dead letter without reason or origin: %v", h)
		}
		if strings.Contains(h[streaming.HeaderReason], "record key") && h[streaming.HeaderError] != "invalid" {
			t.Fatalf("key mismatch classed %q", h[streaming.HeaderError])
		}
	}
}

// TestBlockedSubjectsAreDropped: suppressed subjects and subjects without analytics
// consent are not counted; everyone else is.
func TestBlockedSubjectsAreDropped(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	tenant := r.prefix + "tenant-01"
	p := r.stores(nil).Privacy
	if err := p.Suppress(ctx, tenant, []string{"cust-gone"}, "gdpr deletion"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.SetConsent(ctx, store.Consent{TenantID: tenant, SubjectID: "anon-no", Analytics: false}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	var evs []events.Event
	for _, who := range []string{"cust-gone", "cust-ok", "cust-ok2"} {
		e := events.Example(events.TouchpointInteraction, tenant, now)
		e.CustomerID = who
		e.Device.AnonymousID = "anon-" + who
		evs = append(evs, e)
	}
	evs[2].Device.AnonymousID = "anon-no" // consent refused on another identifier
	r.publish(t, evs)
	_, stop := r.start(t, r.stores(nil))
	defer stop()
	r.waitCaughtUp(t)
	got := r.postgresTotals(t)
	if n := got.Events(); n != 1 {
		t.Fatalf("%d events counted, want 1 (only cust-ok)", n)
	}
}
