package streaming_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchpoint/touchpoint/aggregate"
	"github.com/touchpoint/touchpoint/aggregate/aggregatetest"
	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/generator"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
	"github.com/touchpoint/touchpoint/streaming"
)

// testHasher hashes subjects for the privacy stores of every test consumer.
var testHasher = store.NewSubjectHasher([]byte("streaming-test-secrets-key"))

const (
	topic    = "marketing-events"
	dlqTopic = "marketing-events-dlq"
	group    = "test-aggregator"
)

// rig is a real pipeline for one test: a kfake broker over TCP, a fresh Postgres
// database, the shared Redis, and tenants of its own.
type rig struct {
	brokers  []string
	pool     *pgxpool.Pool
	rdb      *redis.Client
	codec    *events.Codec
	producer *streaming.Producer
	prefix   string
	produced int64 // records written to the events topic
	// windowRetention is the consumers' ConsumerConfig.WindowRetention.
	windowRetention time.Duration
}

func newRig(t *testing.T) *rig {
	t.Helper()
	ctx := context.Background()
	b, err := streaming.StartBroker(0, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	r := &rig{brokers: b.Addrs(), pool: storetest.Postgres(t), rdb: storetest.Redis(t)}
	if err := streaming.EnsureTopics(ctx, r.brokers, streaming.Topics{Events: topic, DLQ: dlqTopic, Partitions: 4, Retention: 90 * 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	reg, err := events.InProcessRegistry()
	if err != nil {
		t.Fatal(err)
	}
	if r.codec, err = events.NewCodec(ctx, reg); err != nil {
		t.Fatal(err)
	}
	if r.producer, err = streaming.NewProducer(r.brokers, topic, r.codec, streaming.ProducerOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.producer.Close)
	buf := make([]byte, 4)
	_, _ = rand.Read(buf)
	r.prefix = "t" + hex.EncodeToString(buf) + "-"
	t.Cleanup(func() { r.cleanRedis() })
	return r
}

func (r *rig) cleanRedis() {
	ctx := context.Background()
	for _, pattern := range []string{"tp:{" + r.prefix + "*", "privacy:{" + r.prefix + "*"} {
		iter := r.rdb.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			r.rdb.Del(ctx, iter.Val())
		}
	}
}

func (r *rig) generator(seed uint64) *generator.Generator {
	return generator.New(generator.Config{Seed: seed, Tenants: 3, TenantPrefix: r.prefix, Clock: time.Now})
}

// publish writes events through the real producer.
func (r *rig) publish(t *testing.T, evs []events.Event) {
	t.Helper()
	for len(evs) > 0 {
		n := min(len(evs), 5000)
		if err := r.producer.Publish(context.Background(), evs[:n]); err != nil {
			t.Fatal(err)
		}
		r.produced += int64(n)
		evs = evs[n:]
	}
}

// publishRaw writes records as they are, as any Kafka client could.
func (r *rig) publishRaw(t *testing.T, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.brokers...), kgo.DefaultProduceTopic(topic), kgo.ProducerBatchMaxBytes(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	r.produced += int64(len(recs))
}

func (r *rig) stores(rt *store.Realtime) streaming.ConsumerStores {
	return streaming.ConsumerStores{
		Batches:    store.Batches{DB: r.pool, Group: group},
		Archive:    store.Archive{DB: r.pool},
		Aggregates: store.Aggregates{DB: r.pool},
		Privacy:    store.Privacy{DB: r.pool, Redis: r.rdb, Hasher: testHasher},
		Realtime:   rt,
	}
}

// start runs a consumer in the background; the returned function stops it and waits.
func (r *rig) start(t *testing.T, st streaming.ConsumerStores) (*streaming.Consumer, func()) {
	t.Helper()
	c, err := streaming.NewConsumer(streaming.ConsumerConfig{
		Brokers: r.brokers, Topic: topic, DLQTopic: dlqTopic, Group: group,
		Rules: events.DefaultRules(), MaxPollRecords: 3000, PrivacyRefresh: 100 * time.Millisecond,
		WindowRetention: r.windowRetention,
	}, r.codec, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := c.Run(ctx); err != nil {
			t.Errorf("consumer: %v", err)
		}
	})
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return c, stop
}

// waitCaughtUp waits until the stored offsets cover every record produced.
func (r *rig) waitCaughtUp(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var n int64
		if err := r.pool.QueryRow(context.Background(),
			`SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets WHERE consumer_group = $1 AND topic = $2`, group, topic).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == r.produced {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer applied %d of %d records", n, r.produced)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// postgresTotals sums the week-level aggregates of the rig's tenants.
func (r *rig) postgresTotals(t *testing.T) generator.Totals {
	t.Helper()
	agg := store.Aggregates{DB: r.pool}
	tenants, err := agg.Tenants(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	all := aggregate.New()
	for _, tenant := range tenants {
		d, err := agg.Totals(context.Background(), tenant)
		if err != nil {
			t.Fatal(err)
		}
		all.Merge(d)
	}
	return aggregatetest.Totals(all, aggregate.Week)
}

// redisTotals reads the running totals of the tenants in want from the Redis view.
func (r *rig) redisTotals(t *testing.T, want generator.Totals) generator.Totals {
	t.Helper()
	rt := store.Realtime{RDB: r.rdb}
	all := aggregate.New()
	for tenant := range want.EventsByType {
		d, _, err := rt.Totals(context.Background(), tenant)
		if err != nil {
			t.Fatal(err)
		}
		all.Merge(d)
	}
	return aggregatetest.Totals(all, aggregate.Week)
}

// eventually retries check until it returns "" or time runs out.
func eventually(t *testing.T, what string, check func() string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		diff := check()
		if diff == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s:\n%s", what, diff)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func take(g *generator.Generator, n int) []events.Event {
	out := make([]events.Event, n)
	for i := range out {
		out[i] = g.Next()
	}
	return out
}
