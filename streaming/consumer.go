package streaming

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchpoint/touchpoint/aggregate"
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
	privacy privacyCache
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
	if cfg.PrivacyRefresh == 0 {
		cfg.PrivacyRefresh = 5 * time.Second
	}
	c := &Consumer{
		cfg: cfg, codec: codec, batches: st.Batches, archive: st.Archive, ready: map[string]bool{},
		privacy: privacyCache{source: st.Privacy, every: cfg.PrivacyRefresh},
		m:       newConsumerMetrics(reg),
		dedup:   map[int32]*dedupSet{},
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
	go func() { applied <- c.applyLoop(ctx, prepared) }()
	err := c.pollLoop(ctx, prepared, applied)
	close(prepared)
	if applyErr := <-applied; err == nil {
		err = applyErr
	}
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// poll is one poll's valid events, ready to apply.
type poll struct {
	start       time.Time
	byPartition map[int32]*partitionRecords
	// sets are the partitions' deduplication sets as of this poll, taken before the
	// poll stage allows a rebalance: if one happens while the poll is written, the
	// write still checks against the set that saw every earlier batch.
	sets map[int32]*dedupSet
	// pre is the batch built by the poll stage, assuming nothing of it was applied:
	// the CPU work of a batch happens there, off the transaction's critical path.
	pre *built
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

// applyLoop writes prepared polls in order until the channel closes. A poll handed
// over before shutdown is still written, so a clean stop re-reads nothing.
func (c *Consumer) applyLoop(ctx context.Context, prepared <-chan *poll) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case pl, ok := <-prepared:
			if !ok {
				return nil
			}
			b, err := c.apply(ctx, pl)
			if err != nil {
				for range prepared { // drain so the poll stage never blocks
				}
				return err
			}
			c.afterCommit(ctx, b)
			c.m.batchSeconds.Observe(time.Since(pl.start).Seconds())
		case <-tick.C:
			c.view.maintain(ctx)
		}
	}
}

// accepted is one valid event and the record it came in.
type accepted struct {
	offset int64
	value  []byte
	hash   eventHash
	event  events.Event
}

type partitionRecords struct {
	first, last int64
	events      []accepted
}

// prepare decodes and validates a poll, sends its bad records to the dead-letter
// topic (durably, before any offset can move past them), and returns the valid events.
func (c *Consumer) prepare(ctx context.Context, fetches kgo.Fetches) (*poll, error) {
	if fetches.NumRecords() == 0 {
		return nil, nil
	}
	start := time.Now()
	c.privacy.refresh(ctx, start)
	byPartition := map[int32]*partitionRecords{}
	var dead []*kgo.Record
	fetches.EachRecord(func(r *kgo.Record) {
		c.m.consumed.Inc()
		pr := byPartition[r.Partition]
		if pr == nil {
			pr = &partitionRecords{first: r.Offset}
			byPartition[r.Partition] = pr
		}
		pr.last = r.Offset
		e, class, err := c.parse(ctx, r, start)
		if err != nil {
			dead = append(dead, c.deadLetter(r, class, err))
			return
		}
		if c.privacy.blocks(&e) {
			c.m.dropped.WithLabelValues("privacy").Inc()
			return
		}
		pr.events = append(pr.events, accepted{offset: r.Offset, value: r.Value, hash: hashEvent(e.TenantID, e.EventID), event: e})
	})
	if ctx.Err() != nil {
		return nil, ctx.Err() // stopped mid-poll (e.g. waiting for the registry): re-read it next time
	}
	if err := c.sendDeadLetters(ctx, dead); err != nil {
		return nil, err
	}
	pl := &poll{start: start, byPartition: byPartition, sets: make(map[int32]*dedupSet, len(byPartition))}
	fresh := make(map[int32]int64, len(byPartition))
	for p, pr := range byPartition {
		pl.sets[p] = c.dedupFor(p)
		fresh[p] = pr.first
	}
	pl.pre = c.build(pl, pl.partitions(), fresh, nil)
	// Remembered now, not at commit, so the next poll (prepared while this one is
	// written) sees them; a batch is retried until it commits, and a crash rebuilds
	// the sets from the archive, so nothing is remembered that is not applied.
	for p, hashes := range pl.pre.hashes {
		pl.sets[p].add(start, hashes)
	}
	return pl, nil
}

func (pl *poll) partitions() []int32 {
	out := make([]int32, 0, len(pl.byPartition))
	for p := range pl.byPartition {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// fresh says whether nothing of the poll was applied yet, so the batch the poll stage
// built holds as it is: the usual case, unless a rebalance or a lost commit
// acknowledgement came between.
func (pl *poll) fresh(stored map[int32]int64) bool {
	for p, pr := range pl.byPartition {
		if stored[p] > pr.first {
			return false
		}
	}
	return true
}

// parse decodes and validates one record. Avro (wire format, magic byte 0) is what
// Touchpoint's producers write; JSON is accepted from any other Kafka client.
func (c *Consumer) parse(ctx context.Context, r *kgo.Record, now time.Time) (events.Event, string, error) {
	var e events.Event
	var err error
	switch {
	case len(r.Value) == 0:
		return e, "empty", errors.New("empty record")
	case r.Value[0] == 0:
		err = c.decodeAvro(ctx, r.Value, &e)
	case r.Value[0] == '{' || r.Value[0] == ' ' || r.Value[0] == '\n':
		if !utf8.Valid(r.Value) {
			return e, "decode", errors.New("JSON record is not valid UTF-8")
		}
		e, err = events.DecodeJSON(r.Value)
	default:
		return e, "decode", fmt.Errorf("neither Avro wire format nor JSON (first byte 0x%02x)", r.Value[0])
	}
	if err != nil {
		return e, "decode", err
	}
	if err := c.cfg.Rules.Validate(&e, now); err != nil {
		return e, "invalid", err
	}
	if string(r.Key) != "" && string(r.Key) != e.TenantID {
		return e, "invalid", fmt.Errorf("record key %q does not match tenant_id %q", r.Key, e.TenantID)
	}
	return e, "", nil
}

// decodeAvro decodes a wire-format record, waiting out a schema-registry outage: the
// record may well be valid, so it must not go to the dead-letter topic for it.
func (c *Consumer) decodeAvro(ctx context.Context, b []byte, e *events.Event) error {
	for {
		err := c.codec.Decode(ctx, b, e)
		if !errors.Is(err, events.ErrRegistryUnavailable) {
			return err
		}
		slog.Warn("consumer: schema registry unavailable, retrying", "err", err)
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
	}
}

func (c *Consumer) deadLetter(r *kgo.Record, class string, err error) *kgo.Record {
	c.m.deadLettered.WithLabelValues(class).Inc()
	return &kgo.Record{
		Topic: c.cfg.DLQTopic,
		Key:   r.Key,
		Value: r.Value,
		Headers: append(slices.Clone(r.Headers),
			kgo.RecordHeader{Key: HeaderReason, Value: []byte(err.Error())},
			kgo.RecordHeader{Key: HeaderError, Value: []byte(class)},
			kgo.RecordHeader{Key: HeaderTopic, Value: []byte(r.Topic)},
			kgo.RecordHeader{Key: HeaderPartition, Value: []byte(strconv.Itoa(int(r.Partition)))},
			kgo.RecordHeader{Key: HeaderOffset, Value: []byte(strconv.FormatInt(r.Offset, 10))},
		),
	}
}

// sendDeadLetters makes the dead letters durable before the batch's offsets move past
// them, retrying until the broker takes them. A crash in between re-sends them: the
// dead-letter topic is at-least-once.
func (c *Consumer) sendDeadLetters(ctx context.Context, dead []*kgo.Record) error {
	for len(dead) > 0 {
		err := c.cl.ProduceSync(ctx, dead...).FirstErr()
		if err == nil {
			return nil
		}
		slog.Warn("consumer: dead-letter produce failed, retrying", "err", err)
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
	}
	return nil
}

// built is what one attempt to write a poll produced; after the commit it updates the
// in-memory deduplication sets and the Redis view.
type built struct {
	batches  []store.PartitionBatch
	all      *aggregate.Deltas
	deltas   map[int32]*aggregate.Deltas
	hashes   map[int32][]eventHash // events this batch applied
	known    map[int32][]eventHash // events found applied already
	replayed bool                  // some records were applied before this batch
	last     map[int32]int64
	sets     map[int32]*dedupSet
	own      map[eventHash]struct{} // hashes this batch applies
	rebuilt  bool                   // built again in the transaction, not by the poll stage
	dups     int
}

func isOwn(own map[eventHash]struct{}, h eventHash) bool {
	_, ok := own[h]
	return ok
}

// apply writes the poll to Postgres, retrying while Postgres is unavailable: a batch
// is never skipped, so nothing is lost while the database restarts.
func (c *Consumer) apply(ctx context.Context, pl *poll) (*built, error) {
	day := pl.start.UTC().Truncate(24 * time.Hour)
	partitions := pl.partitions()
	var b *built
	build := func(stored map[int32]int64) ([]store.PartitionBatch, *aggregate.Deltas) {
		if b = pl.pre; !pl.fresh(stored) {
			b = c.build(pl, partitions, stored, pl.pre.own)
			b.rebuilt = true
		}
		return b.batches, b.all
	}
	for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
		// The attempt itself is not cut short by shutdown: a batch already read is
		// finished, so a clean stop re-reads nothing.
		attemptCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		err := c.ensureDay(attemptCtx, day)
		if err == nil {
			err = c.batches.Apply(attemptCtx, c.cfg.Topic, day, partitions, build)
		}
		cancel()
		if err == nil {
			return b, nil
		}
		slog.Warn("consumer: applying batch failed, retrying", "err", err, "backoff", backoff)
		if err := sleep(ctx, backoff); err != nil {
			return nil, err
		}
	}
}

// build keeps, per partition, the records at or beyond the stored offset that are not
// duplicates, and sums them into the archive batch and the aggregate deltas.
//
// Records before the stored offset were applied already — by this consumer, when a
// commit succeeded but its acknowledgement was lost, or by another one around a
// rebalance. Their hashes are still remembered (they are in the archive), and the
// Redis view is marked for a rebuild, since whoever applied them may not have
// updated it.
//
// own, when set, holds the hashes the poll stage already remembered for this very
// poll: they are not duplicates of themselves.
func (c *Consumer) build(pl *poll, partitions []int32, stored map[int32]int64, own map[eventHash]struct{}) *built {
	b := &built{all: aggregate.New(), deltas: map[int32]*aggregate.Deltas{}, hashes: map[int32][]eventHash{},
		known: map[int32][]eventHash{}, last: map[int32]int64{}, sets: pl.sets, own: map[eventHash]struct{}{}}
	for _, p := range partitions {
		pr := pl.byPartition[p]
		next := stored[p]
		if pr.first < next {
			b.replayed = true
		}
		if pr.last < next {
			for i := range pr.events {
				b.known[p] = append(b.known[p], pr.events[i].hash)
			}
			continue
		}
		pb := store.PartitionBatch{Topic: c.cfg.Topic, Partition: p, FirstOffset: max(pr.first, next), LastOffset: pr.last,
			Journeys: map[string]*store.JourneyRows{}}
		seen := pl.sets[p]
		deltas := aggregate.New()
		tenants, subjects := map[string]bool{}, map[subjectKey]bool{}
		for i := range pr.events {
			a := &pr.events[i]
			if a.offset < next {
				b.known[p] = append(b.known[p], a.hash)
				continue
			}
			if isOwn(b.own, a.hash) || seen.contains(a.hash) && !isOwn(own, a.hash) {
				b.dups++
				continue
			}
			b.own[a.hash] = struct{}{}
			b.hashes[p] = append(b.hashes[p], a.hash)
			pb.Records = binary.BigEndian.AppendUint32(pb.Records, uint32(len(a.value)))
			pb.Records = append(pb.Records, a.value...)
			pb.EventHashes = append(pb.EventHashes, a.hash[:]...)
			pb.EventCount++
			deltas.Add(&a.event)
			addJourneyRows(&a.event, pb.Journeys)
			tenants[a.event.TenantID] = true
			forSubjects(&a.event, func(s string) { subjects[subjectKey{a.event.TenantID, s}] = true })
		}
		pb.TenantIDs, pb.Subjects = sortedKeys(tenants), subjectNames(subjects)
		b.batches = append(b.batches, pb)
		b.deltas[p], b.last[p] = deltas, pr.last
		b.all.Merge(deltas)
	}
	return b
}

// afterCommit remembers the applied events for deduplication and updates the Redis
// view. Redis failing does not stop the pipeline: Postgres has the batch, and the view
// is rebuilt from it once Redis is back.
func (c *Consumer) afterCommit(ctx context.Context, b *built) {
	now := time.Now()
	applied := 0
	for p, hashes := range b.hashes {
		if b.rebuilt { // the poll stage remembered the hashes of the batch it built
			b.sets[p].add(now, hashes)
		}
		applied += len(hashes)
	}
	for p, hashes := range b.known {
		b.sets[p].add(now, hashes)
	}
	c.m.archived.Add(float64(applied))
	c.m.dropped.WithLabelValues("duplicate").Add(float64(b.dups))
	if b.replayed {
		c.view.assigned()
	}
	// The batch is committed: its view update is finished even during shutdown.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	c.view.apply(ctx, b)
}

// forSubjects calls fn with each personal identifier an event mentions, so a deletion
// can find every archived batch that holds one subject's data.
func forSubjects(e *events.Event, fn func(string)) {
	if e.CustomerID != "" {
		fn(e.CustomerID)
	}
	if d := e.Device; d != nil {
		for _, id := range [...]string{d.UserID, d.AnonymousID, d.DeviceID} {
			if id != "" {
				fn(id)
			}
		}
	}
}

func subjectsOf(e *events.Event) []string {
	var out []string
	forSubjects(e, func(s string) { out = append(out, s) })
	return out
}

// subjectKey is a subject of one tenant; it becomes "tenant:subject" in the archive's
// index only once per batch, not once per event.
type subjectKey struct{ tenant, subject string }

func subjectNames(m map[subjectKey]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k.tenant+":"+k.subject)
	}
	slices.Sort(out)
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// ensureDay creates the archive partition for day (and the next) once per process.
func (c *Consumer) ensureDay(ctx context.Context, day time.Time) error {
	key := day.Format(time.DateOnly)
	if c.ready[key] {
		return nil
	}
	if err := c.archive.EnsurePartitions(ctx, day, 1); err != nil {
		return err
	}
	c.ready[key] = true
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
