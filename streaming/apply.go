package streaming

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/touchpoint/touchpoint/aggregate"
	"github.com/touchpoint/touchpoint/store"
)

// built is what one attempt to write a poll produced; after the commit it updates the
// in-memory deduplication sets and the Redis view.
type built struct {
	batches  []store.PartitionBatch
	rows     *store.PreparedDeltas // every partition's deltas, ready to upsert
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
// is never skipped, so nothing is lost while the database restarts. The poll's
// partition groups are written at once, each in a transaction of its own that
// advances only its partitions' offsets: every partition stays exactly once, and
// Postgres works on as many cores as there are groups. A group that committed is not
// written again when another one is retried.
func (c *Consumer) apply(ctx context.Context, pl *poll) ([]*built, error) {
	day := pl.start.UTC().Truncate(24 * time.Hour)
	done := make([]*built, len(pl.groups))
	for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
		// The attempt itself is not cut short by shutdown: a batch already read is
		// finished, so a clean stop re-reads nothing.
		attemptCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		// Drop events blocked since the poll stage filtered them (a suppression or a
		// consent withdrawal in between): checked at every attempt, right before it.
		c.recheck(attemptCtx, pl, done)
		err := c.ensureDay(attemptCtx, day)
		if err == nil {
			err = c.applyGroups(attemptCtx, pl, day, done)
		}
		cancel()
		if err == nil {
			return done, nil
		}
		slog.Warn("consumer: applying batch failed, retrying", "err", err, "backoff", backoff)
		if err := sleep(ctx, backoff); err != nil {
			return nil, err
		}
	}
}

// applyGroups writes every group not done yet, concurrently, and records in done the
// ones that committed.
func (c *Consumer) applyGroups(ctx context.Context, pl *poll, day time.Time, done []*built) error {
	var wg sync.WaitGroup
	errs := make([]error, len(pl.groups))
	for i := range pl.groups {
		if done[i] != nil {
			continue
		}
		wg.Go(func() { done[i], errs[i] = c.applyGroup(ctx, pl, i, day) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// applyGroup writes group i of the poll in one transaction.
func (c *Consumer) applyGroup(ctx context.Context, pl *poll, i int, day time.Time) (*built, error) {
	partitions, pre := pl.groups[i], pl.pre[i]
	var b *built
	build := func(stored map[int32]int64) ([]store.PartitionBatch, *store.PreparedDeltas) {
		if b = pre; !pl.fresh(partitions, stored) {
			b = c.build(pl, partitions, stored, pre.own)
			b.rebuilt = true
		}
		return b.batches, b.rows
	}
	if err := c.batches.Apply(ctx, c.cfg.Topic, day, partitions, build); err != nil {
		return nil, err
	}
	return b, nil
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
	b := &built{deltas: map[int32]*aggregate.Deltas{}, hashes: map[int32][]eventHash{},
		known: map[int32][]eventHash{}, last: map[int32]int64{}, sets: pl.sets, own: map[eventHash]struct{}{}}
	windowsFrom := c.windowsFrom(pl.start)
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
			Journeys: map[string]*store.JourneyRows{}, Records: make([]byte, 0, pr.bytes+4*len(pr.events)),
			EventHashes: make([]byte, 0, len(eventHash{})*len(pr.events))}
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
			deltas.AddSince(&a.event, windowsFrom)
			addJourneyRows(&a.event, pb.Journeys)
			tenants[a.event.TenantID] = true
			forSubjects(&a.event, func(s string) { subjects[subjectKey{a.event.TenantID, s}] = true })
		}
		pb.TenantIDs, pb.Subjects = sortedKeys(tenants), subjectNames(subjects)
		b.batches = append(b.batches, pb)
		b.deltas[p], b.last[p] = deltas, pr.last
	}
	b.rows = store.PrepareDeltas(mergeAll(b.deltas))
	return b
}

// mergeAll sums the partitions' deltas into the rows to write; one partition's are
// written as they are, without a copy (late events make them large).
func mergeAll(parts map[int32]*aggregate.Deltas) *aggregate.Deltas {
	if len(parts) == 1 {
		for _, d := range parts {
			return d
		}
	}
	all := aggregate.New()
	for _, d := range parts {
		all.Merge(d)
	}
	return all
}

// windowsFrom is the Unix second before which an event polled at start gets no
// 5-second window row: its window is past the window retention. Taken from the
// poll's time, so every attempt at a poll builds the same rows.
func (c *Consumer) windowsFrom(start time.Time) int64 {
	if c.cfg.WindowRetention <= 0 {
		return math.MinInt64
	}
	return start.Add(-c.cfg.WindowRetention).Unix()
}

// afterCommit remembers the applied events for deduplication, before the next poll
// is written.
func (c *Consumer) afterCommit(b *built) {
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
}

// updateView brings a committed batch to the Redis view. Redis failing does not stop
// the pipeline: Postgres has the batch, and the view is rebuilt from it once Redis is
// back.
func (c *Consumer) updateView(ctx context.Context, b *built) {
	// The batch is committed: its view update is finished even during shutdown.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	c.view.apply(ctx, b)
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
