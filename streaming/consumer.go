package streaming

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/store"
)

// ConsumerConfig says where the consumer reads, where bad records go, and how it
// validates.
type ConsumerConfig struct {
	Brokers  []string
	Topic    string
	DLQTopic string
	Group    string
	// SessionTimeout is how long the group waits for a silent member before giving
	// its partitions to others (franz-go's default is 45 s).
	SessionTimeout time.Duration
	// InstanceID, when set, makes this a static member (KIP-345): restarted with the
	// same id, it gets its partitions back at once instead of after a rebalance.
	InstanceID     string
	Rules          events.Rules
	MaxPollRecords int
	// DedupWindow is how long an applied event id is remembered: an event re-sent
	// within it is dropped as a duplicate. Records Kafka delivers again are never
	// counted twice whatever their age, since offsets are applied exactly once.
	DedupWindow time.Duration
	// WindowRetention is how long 5-second windows are kept (maintenance prunes older
	// ones); an event older than that when it arrives counts in its hour, day and
	// week only. Zero writes every event's window.
	WindowRetention time.Duration
	// ApplyConnections is how many transactions write one poll at once, each for a
	// group of its partitions (default 2): late events make Postgres the bottleneck,
	// and one transaction keeps it on one core.
	ApplyConnections int
	// PrivacyRefresh is how often the suppression list and consent are reloaded.
	PrivacyRefresh time.Duration
}

// ConsumerStores are the consumer's Postgres and Redis parts; Realtime may be nil.
type ConsumerStores struct {
	Batches    store.Batches
	Archive    store.Archive
	Aggregates store.Aggregates
	Privacy    store.Privacy
	Realtime   *store.Realtime
	// SubjectKeys opens sealed events (crypto-shredding); nil: sealed events are
	// dead-lettered, since nothing can open them.
	SubjectKeys KeyLookup
}

// DLQ header names: why a record was refused and where it came from.
const (
	HeaderReason    = "touchpoint-reason"
	HeaderError     = "touchpoint-error-class"
	HeaderTopic     = "touchpoint-original-topic"
	HeaderPartition = "touchpoint-original-partition"
	HeaderOffset    = "touchpoint-original-offset"
)

// Consumer reads marketing events in a consumer group and applies each poll to
// Postgres exactly once: offsets are stored with the data, loaded on assignment, and
// guarded so a batch already applied is never applied again. Records that cannot be
// decoded or fail validation go to the dead-letter topic with the reason.
type Consumer struct {
	cfg     ConsumerConfig
	cl      *kgo.Client
	codec   *events.Codec
	batches store.Batches
	archive store.Archive
	ready   map[string]bool // archive days whose partition exists
	privacy *privacyCache
	unseal  *Unsealer
	view    *view
	m       consumerMetrics

	mu    sync.Mutex // guards dedup, which group callbacks change between polls
	dedup map[int32]*dedupSet
}

type consumerMetrics struct {
	consumed, archived prometheus.Counter
	deadLettered       *prometheus.CounterVec
	dropped            *prometheus.CounterVec
	batchSeconds       prometheus.Histogram
	degraded           prometheus.Gauge
}

// NewConsumer connects a consumer; call Run to consume.
func NewConsumer(cfg ConsumerConfig, codec *events.Codec, st ConsumerStores, reg prometheus.Registerer) (*Consumer, error) {
	if cfg.MaxPollRecords == 0 {
		cfg.MaxPollRecords = 20000
	}
	if cfg.DedupWindow == 0 {
		cfg.DedupWindow = 2 * time.Minute
	}
	if cfg.ApplyConnections == 0 {
		cfg.ApplyConnections = 2
	}
	if cfg.PrivacyRefresh == 0 {
		cfg.PrivacyRefresh = 5 * time.Second
	}
	if st.Privacy.DB != nil && !st.Privacy.Hasher.Valid() {
		// The blocked set holds keyed hashes: without the same key nothing would match.
		return nil, errors.New("kafka consumer: store.Privacy needs a Hasher (from the secrets key) to recognise blocked subjects")
	}
	c := &Consumer{
		cfg: cfg, codec: codec, batches: st.Batches, archive: st.Archive, ready: map[string]bool{},
		privacy: newPrivacyCache(st.Privacy, cfg.PrivacyRefresh),
		m:       newConsumerMetrics(reg),
		dedup:   map[int32]*dedupSet{},
		unseal:  NewUnsealer(st.SubjectKeys),
	}
	c.view = &view{rt: st.Realtime, degraded: c.m.degraded, rebuild: func(ctx context.Context) error {
		return store.RebuildView(ctx, st.Aggregates, *st.Realtime, cfg.Group, cfg.Topic)
	}}
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.AdjustFetchOffsetsFn(c.storedOffsets),
		kgo.OnPartitionsRevoked(c.forget),
		kgo.OnPartitionsLost(c.forget),
		kgo.FetchMaxBytes(32 << 20),
		kgo.FetchMaxWait(100 * time.Millisecond),
		kgo.RequiredAcks(kgo.AllISRAcks()),
	}
	if cfg.SessionTimeout > 0 {
		opts = append(opts, kgo.SessionTimeout(cfg.SessionTimeout), kgo.HeartbeatInterval(cfg.SessionTimeout/5))
	}
	if cfg.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(cfg.InstanceID))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka consumer: %w", err)
	}
	c.cl = cl
	return c, nil
}

func newConsumerMetrics(reg prometheus.Registerer) consumerMetrics {
	m := consumerMetrics{
		consumed:     prometheus.NewCounter(prometheus.CounterOpts{Name: "touchpoint_consumer_records_total", Help: "Records read from the events topic."}),
		archived:     prometheus.NewCounter(prometheus.CounterOpts{Name: "touchpoint_consumer_events_applied_total", Help: "Valid events applied to Postgres."}),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "touchpoint_consumer_dead_letters_total", Help: "Records sent to the dead-letter topic, by error class."}, []string{"class"}),
		dropped:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "touchpoint_consumer_dropped_total", Help: "Valid events not applied: duplicates and blocked subjects."}, []string{"reason"}),
		degraded:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "touchpoint_consumer_degraded", Help: "1 while Redis is unavailable and only Postgres is updated."}),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "touchpoint_consumer_batch_seconds", Help: "Time to apply one poll to Postgres.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
	}
	if reg != nil {
		reg.MustRegister(m.consumed, m.archived, m.deadLettered, m.dropped, m.batchSeconds, m.degraded)
	}
	return m
}

// storedOffsets replaces the group's Kafka offsets with the ones stored in Postgres,
// the only ones that say what was applied.
func (c *Consumer) storedOffsets(ctx context.Context, assigned map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	for topic, parts := range assigned {
		ids := make([]int32, 0, len(parts))
		for p := range parts {
			ids = append(ids, p)
		}
		stored, err := c.batches.Offsets(ctx, topic, ids)
		if err != nil {
			return nil, err
		}
		if err := c.loadDedup(ctx, topic, ids); err != nil {
			return nil, err
		}
		c.view.assigned()
		for p := range parts {
			if off, ok := stored[p]; ok {
				parts[p] = kgo.NewOffset().At(off).WithEpoch(-1)
			} else {
				parts[p] = kgo.NewOffset().AtStart()
			}
		}
	}
	return assigned, nil
}

// loadDedup rebuilds the deduplication sets of newly assigned partitions from the
// event hashes archived with their recent batches.
func (c *Consumer) loadDedup(ctx context.Context, topic string, partitions []int32) error {
	now := time.Now()
	for _, p := range partitions {
		raw, err := c.batches.RecentHashes(ctx, topic, p, now.Add(-c.cfg.DedupWindow))
		if err != nil {
			return err
		}
		set := newDedupSet(c.cfg.DedupWindow)
		set.load(now, raw)
		c.mu.Lock()
		c.dedup[p] = set
		c.mu.Unlock()
	}
	return nil
}

// forget drops the deduplication sets of partitions this consumer no longer owns.
func (c *Consumer) forget(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, parts := range lost {
		for _, p := range parts {
			delete(c.dedup, p)
		}
	}
}

func (c *Consumer) dedupFor(p int32) *dedupSet {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.dedup[p]
	if d == nil {
		d = newDedupSet(c.cfg.DedupWindow)
		c.dedup[p] = d
	}
	return d
}

// OnPrivacyChange registers fn to be called after every reload that changed the set
// of blocked subjects (a suppression, a consent change). Call it before Run; fn must be
// quick and runs on the consumer's goroutines.
func (c *Consumer) OnPrivacyChange(fn func()) { c.privacy.OnChange = fn }

// Degraded reports whether Redis is down and only Postgres is being updated.
func (c *Consumer) Degraded() bool { return c.view.down.Load() }

// Run consumes until ctx ends. It is a two-stage pipeline: this goroutine polls,
// decodes, validates and dead-letters one poll while the apply stage writes the
// previous one to Postgres, so CPU work overlaps the database round trips. Overlap
// is safe across rebalances because the apply stage filters every batch against the
// offsets stored in Postgres under a row lock.
func (c *Consumer) Run(ctx context.Context) error {
	// With BlockRebalanceOnPoll, a plain Close would wait forever to leave the group
	// if the last poll's rebalance block is still held.
	defer c.cl.CloseAllowingRebalance()
	prepared := make(chan *poll, 1)
	applied := make(chan error, 1)
	// Committed batches go to the Redis view in order, in a stage of their own: the
	// next transaction does not wait for Redis.
	committed, viewed := make(chan *built, 2), make(chan struct{})
	go func() { defer close(viewed); c.viewLoop(ctx, committed) }()
	go func() { applied <- c.applyLoop(ctx, prepared, committed) }()
	err := c.pollLoop(ctx, prepared, applied)
	close(prepared)
	if applyErr := <-applied; err == nil {
		err = applyErr
	}
	close(committed) // the apply loop has returned: nothing more is sent
	<-viewed
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (c *Consumer) pollLoop(ctx context.Context, prepared chan<- *poll, applied <-chan error) error {
	for {
		fetches := c.cl.PollRecords(ctx, c.cfg.MaxPollRecords)
		if ctx.Err() != nil {
			return nil
		}
		fetches.EachError(func(topic string, p int32, err error) {
			slog.Warn("consumer: fetch error", "topic", topic, "partition", p, "err", err)
		})
		pl, err := c.prepare(ctx, fetches)
		if err != nil {
			return err
		}
		if pl != nil {
			select {
			case prepared <- pl:
			case err := <-applied:
				return err
			}
		}
		c.cl.AllowRebalance()
	}
}

// applyLoop writes prepared polls in order until the channel closes, and hands each
// committed batch to the view stage. A poll handed over before shutdown is still
// written, so a clean stop re-reads nothing.
func (c *Consumer) applyLoop(ctx context.Context, prepared <-chan *poll, committed chan<- *built) error {
	for pl := range prepared {
		groups, err := c.apply(ctx, pl)
		if err != nil {
			for range prepared { // drain so the poll stage never blocks
			}
			return err
		}
		for _, b := range groups {
			c.afterCommit(b)
			committed <- b
		}
		c.m.batchSeconds.Observe(time.Since(pl.start).Seconds())
	}
	return nil
}

// viewLoop updates the Redis view with committed batches, in commit order (the view
// skips a partition's offsets it has seen, so a later batch must not overtake an
// earlier one), and repairs it between batches, until the channel closes.
func (c *Consumer) viewLoop(ctx context.Context, committed <-chan *built) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case b, ok := <-committed:
			if !ok {
				return
			}
			c.updateView(ctx, b)
		case <-tick.C:
			c.view.maintain(ctx)
		}
	}
}
