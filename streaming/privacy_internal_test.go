package streaming

import (
	"context"
	"strconv"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
)

// TestSuppressionBetweenPrepareAndApply closes the pipeline's race: a poll filtered
// by the poll stage before a suppression and written by the apply stage after it must
// not write the suppressed subject's events.
func TestSuppressionBetweenPrepareAndApply(t *testing.T) {
	ctx := context.Background()
	pool, rdb := storetest.Postgres(t), storetest.Redis(t)
	tenant := "race-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	t.Cleanup(func() { rdb.Del(context.Background(), store.PrivacyBlockedSetKey(tenant)) })
	priv := store.Privacy{DB: pool, Redis: rdb, Hasher: store.NewSubjectHasher([]byte("race-test-secrets-key"))}
	reg, err := events.InProcessRegistry()
	if err != nil {
		t.Fatal(err)
	}
	codec, err := events.NewCodec(ctx, reg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewConsumer(ConsumerConfig{
		Brokers: []string{"127.0.0.1:1"}, Topic: "marketing-events", DLQTopic: "dlq", Group: "race",
		Rules: events.DefaultRules(), PrivacyRefresh: time.Hour, // only the Redis version can tell it
	}, codec, ConsumerStores{
		Batches: store.Batches{DB: pool, Group: "race"}, Archive: store.Archive{DB: pool},
		Aggregates: store.Aggregates{DB: pool}, Privacy: priv,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.cl.Close()

	var recs []*kgo.Record
	for i, who := range []string{"gone", "stays", "gone"} {
		e := events.Example(events.TouchpointInteraction, tenant, time.Now().UTC())
		e.CustomerID = who
		b, err := codec.Encode(&e)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: "marketing-events", Partition: 0, Offset: int64(i), Key: []byte(tenant), Value: b})
	}
	fetches := kgo.Fetches{{Topics: []kgo.FetchTopic{{Topic: "marketing-events",
		Partitions: []kgo.FetchPartition{{Partition: 0, Records: recs}}}}}}
	pl, err := c.prepare(ctx, fetches)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(pl.byPartition[0].events); n != 3 {
		t.Fatalf("prepared %d events, want 3 (nothing blocked yet)", n)
	}

	if err := priv.Suppress(ctx, tenant, []string{"gone"}, "gdpr deletion"); err != nil {
		t.Fatal(err)
	}
	groups, err := c.apply(ctx, pl)
	if err != nil {
		t.Fatal(err)
	}
	b := groups[0]
	if len(b.batches) != 1 || b.batches[0].EventCount != 1 || b.batches[0].LastOffset != 2 {
		t.Fatalf("applied %+v, want one event and the offsets up to 2", b.batches)
	}
	var m dto.Metric
	if err := c.m.dropped.WithLabelValues(store.ReasonSuppressed).Write(&m); err != nil || m.GetCounter().GetValue() != 2 {
		t.Fatalf("%v dropped as suppressed, want 2 (%v)", m.GetCounter().GetValue(), err)
	}
	var archived int
	if err := pool.QueryRow(ctx, `SELECT coalesce(sum(event_count), 0) FROM event_archive`).Scan(&archived); err != nil {
		t.Fatal(err)
	}
	if archived != 1 {
		t.Fatalf("%d events archived, want 1", archived)
	}
}
