package streaming

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchpoint/touchpoint/events"
)

// poll is one poll's valid events, ready to apply.
type poll struct {
	start       time.Time
	byPartition map[int32]*partitionRecords
	// sets are the partitions' deduplication sets as of this poll, taken before the
	// poll stage allows a rebalance: if one happens while the poll is written, the
	// write still checks against the set that saw every earlier batch.
	sets map[int32]*dedupSet
	// groups split the poll's partitions into the sets written concurrently, each in
	// a transaction of its own (see Consumer.apply).
	groups [][]int32
	// pre holds the batch of each group as the poll stage built it, assuming nothing
	// of it was applied: the CPU work of a batch happens there, off the transaction's
	// critical path.
	pre []*built
	// privacyGen is the generation of the blocked set the events were filtered
	// against; apply filters them again if it moved (see Consumer.recheck).
	privacyGen uint64
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
	bytes       int // of the events' values, to size the archive batch at once
}

// prepare decodes and validates a poll, sends its bad records to the dead-letter
// topic (durably, before any offset can move past them), and returns the valid events.
func (c *Consumer) prepare(ctx context.Context, fetches kgo.Fetches) (*poll, error) {
	if fetches.NumRecords() == 0 {
		return nil, nil
	}
	start := time.Now()
	c.privacy.refresh(ctx, start)
	privacyGen := c.privacy.current().gen // before filtering: a set loaded meanwhile only makes apply re-check
	byPartition := map[int32]*partitionRecords{}
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if len(p.Records) == 0 {
			return
		}
		pr := byPartition[p.Partition]
		if pr == nil {
			pr = &partitionRecords{first: p.Records[0].Offset}
			byPartition[p.Partition] = pr
		}
		// Sized at once: an accepted event is a few hundred bytes, and a poll holds
		// up to tens of thousands of them.
		pr.events = slices.Grow(pr.events, len(p.Records))
	})
	var dead []*kgo.Record
	// Decoded up front, so that sealed events are opened with one key lookup per poll;
	// EachRecord below visits the records in the same order.
	decoded, next := c.decodePoll(ctx, fetches), 0
	fetches.EachRecord(func(r *kgo.Record) {
		c.m.consumed.Inc()
		pr := byPartition[r.Partition] // made above for every partition with records
		pr.last = r.Offset
		e, class, err := c.parse(&decoded[next], start)
		next++
		if class == classShredded { // its subject was deleted: unreadable, by design
			c.m.dropped.WithLabelValues(classShredded).Inc()
			return
		}
		if err != nil {
			dead = append(dead, c.deadLetter(r, class, err))
			return
		}
		if why := c.privacy.blocks(ctx, &e); why != "" { // "suppressed" or "consent"
			c.m.dropped.WithLabelValues(why).Inc()
			return
		}
		pr.events = append(pr.events, accepted{offset: r.Offset, value: r.Value, hash: hashEvent(e.TenantID, e.EventID), event: e})
		pr.bytes += len(r.Value)
	})
	if ctx.Err() != nil {
		return nil, ctx.Err() // stopped mid-poll (e.g. waiting for the registry): re-read it next time
	}
	if err := c.sendDeadLetters(ctx, dead); err != nil {
		return nil, err
	}
	pl := &poll{start: start, byPartition: byPartition, sets: make(map[int32]*dedupSet, len(byPartition)), privacyGen: privacyGen}
	fresh := make(map[int32]int64, len(byPartition))
	for p, pr := range byPartition {
		pl.sets[p] = c.dedupFor(p)
		fresh[p] = pr.first
	}
	pl.groups = splitPartitions(byPartition, c.cfg.ApplyConnections)
	pl.pre = make([]*built, len(pl.groups))
	for i, g := range pl.groups {
		pl.pre[i] = c.build(pl, g, fresh, nil)
		// Remembered now, not at commit, so the next poll (prepared while this one is
		// written) sees them; a batch is retried until it commits, and a crash rebuilds
		// the sets from the archive, so nothing is remembered that is not applied.
		for p, hashes := range pl.pre[i].hashes {
			pl.sets[p].add(start, hashes)
		}
	}
	return pl, nil
}

// splitPartitions deals a poll's partitions into at most n groups of about equal
// events, largest first onto the group with the fewest so far. One tenant's events
// are on one partition (the record key), so the groups' transactions write disjoint
// aggregate rows and do not wait on each other.
func splitPartitions(byPartition map[int32]*partitionRecords, n int) [][]int32 {
	parts := make([]int32, 0, len(byPartition))
	for p := range byPartition {
		parts = append(parts, p)
	}
	slices.SortFunc(parts, func(a, b int32) int {
		if d := len(byPartition[b].events) - len(byPartition[a].events); d != 0 {
			return d
		}
		return int(a - b)
	})
	groups := make([][]int32, min(max(n, 1), len(parts)))
	load := make([]int, len(groups))
	for _, p := range parts {
		i := slices.Index(load, slices.Min(load))
		groups[i] = append(groups[i], p)
		load[i] += len(byPartition[p].events)
	}
	for _, g := range groups {
		slices.Sort(g) // offsets are locked in partition order
	}
	return groups
}

// fresh says whether nothing of the poll was applied yet, so the batch the poll stage
// built holds as it is: the usual case, unless a rebalance or a lost commit
// acknowledgement came between.
func (pl *poll) fresh(partitions []int32, stored map[int32]int64) bool {
	for _, p := range partitions {
		if stored[p] > pl.byPartition[p].first {
			return false
		}
	}
	return true
}

// parse validates one decoded (and opened) record.
func (c *Consumer) parse(d *decoded, now time.Time) (events.Event, string, error) {
	r, e := d.rec, d.event
	if d.err != nil {
		return e, d.class, d.err
	}
	if err := c.cfg.Rules.Validate(&e, now); err != nil {
		return e, "invalid", err
	}
	if string(r.Key) != "" && string(r.Key) != e.TenantID {
		return e, "invalid", fmt.Errorf("record key %q does not match tenant_id %q", r.Key, e.TenantID)
	}
	return e, "", nil
}

// decode decodes one record. Avro (wire format, magic byte 0) is what Touchpoint's
// producers write; JSON is accepted from any other Kafka client.
func (c *Consumer) decode(ctx context.Context, r *kgo.Record) (events.Event, string, error) {
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
