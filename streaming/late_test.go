package streaming_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchpoint/touchpoint/aggregate/aggregatetest"
	"github.com/touchpoint/touchpoint/bench"
	"github.com/touchpoint/touchpoint/generator"
	"github.com/touchpoint/touchpoint/store"
)

// Late events, half of them JSON from a plain Kafka client, are counted exactly at
// the hour, day and week levels and in the Redis totals, while events older than
// the window retention get no 5-second rows (maintenance would prune them anyway).
func TestLateEventsAreExact(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	r.windowRetention = 7 * 24 * time.Hour
	late := bench.NewLateness(720*time.Hour, 5)
	g := generator.New(generator.Config{Seed: 21, Tenants: 3, TenantPrefix: r.prefix,
		Clock: func() time.Time { return time.Now().Add(-late.Draw()) }})
	evs := take(g, 6000)
	var recs []*kgo.Record
	for i := range evs[3000:] {
		e := &evs[3000+i]
		v, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Key: []byte(e.TenantID), Value: v})
	}
	start := time.Now()
	r.publish(t, evs[:3000])
	r.publishRaw(t, recs...)
	r.start(t, r.stores(&store.Realtime{RDB: r.rdb}))
	r.waitCaughtUp(t)

	want := g.Totals()
	if diff := aggregatetest.Diff(r.postgresTotals(t), want); diff != "" {
		t.Fatalf("Postgres totals differ: %s", diff)
	}
	eventually(t, "Redis totals", func() string { return aggregatetest.Diff(r.redisTotals(t, want), want) })

	cutoff := start.Add(-r.windowRetention)
	var recent, old int64
	for i := range evs {
		if evs[i].Timestamp.Before(cutoff.Add(-time.Minute)) {
			old++
		} else if !evs[i].Timestamp.Before(cutoff.Add(time.Minute)) {
			recent++
		}
	}
	if old == 0 {
		t.Fatal("no event older than the window retention: the test proves nothing")
	}
	count := func(level string, from, to time.Time) int64 {
		var n int64
		if err := r.pool.QueryRow(ctx, `SELECT coalesce(sum(events), 0) FROM agg_event_type
			WHERE level = $1 AND bucket >= $2 AND bucket < $3`, level, from, to).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	far, now := start.Add(-1000*time.Hour), time.Now().Add(time.Hour)
	if n := count("5s", far, cutoff.Add(-time.Minute)); n != 0 {
		t.Errorf("%d events have 5-second rows older than the window retention, want 0", n)
	}
	if n := count("5s", cutoff.Add(time.Minute), now); n != recent {
		t.Errorf("5-second rows inside the window retention count %d events, want %d", n, recent)
	}
	if n := count("hour", far, now); n != int64(len(evs)) {
		t.Errorf("hour rows count %d events, want %d", n, len(evs))
	}
}
