package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PartitionBatch is what one consumer batch produced for one Kafka partition.
type PartitionBatch struct {
	Topic       string
	Partition   int32
	FirstOffset int64
	LastOffset  int64                   // the batch's last consumed offset, valid or not
	Records     []byte                  // framed original values of the accepted events
	EventHashes []byte                  // 16-byte hashes of (tenant_id, event_id), one per accepted event
	EventCount  int                     // accepted events in Records
	TenantIDs   []string                // distinct
	Subjects    []string                // distinct "tenant:id" of customers, users, anonymous ids and devices
	Journeys    map[string]*JourneyRows // touchpoints and conversions by tenant
}

// Batches writes consumer batches to Postgres exactly once.
type Batches struct {
	DB    *pgxpool.Pool
	Group string
}

// Offsets returns the next offset to consume for each partition of topic that has one.
func (b Batches) Offsets(ctx context.Context, topic string, partitions []int32) (map[int32]int64, error) {
	rows, err := b.DB.Query(ctx, `SELECT partition, next_offset FROM consumer_offsets
		WHERE consumer_group = $1 AND topic = $2 AND partition = ANY($3)`, b.Group, topic, partitions)
	if err != nil {
		return nil, fmt.Errorf("load offsets of %s: %w", topic, err)
	}
	out := map[int32]int64{}
	var p int32
	var off int64
	_, err = pgx.ForEachRow(rows, []any{&p, &off}, func() error { out[p] = off; return nil })
	if err != nil {
		return nil, fmt.Errorf("load offsets of %s: %w", topic, err)
	}
	return out, nil
}

// Build turns the consumed records into the archive batches and aggregate deltas to
// write, keeping only records at or beyond each partition's stored next offset:
// anything before it was already applied (by this consumer before a crash, or by
// another before a rebalance).
type Build func(stored map[int32]int64) ([]PartitionBatch, *PreparedDeltas)

// Apply writes one consumer batch exactly once: in one transaction it locks the
// partitions' offsets, lets build drop what was already applied, writes the archive
// rows and the aggregate upserts at every level, and advances the offsets.
func (b Batches) Apply(ctx context.Context, topic string, day time.Time, partitions []int32, build Build) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("apply batch: %w", err)
		}
	}()
	tx, err := b.DB.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	// A lost commit loses its offsets too, and the batch is re-read from Kafka, so
	// waiting for the WAL flush buys nothing.
	if _, err := tx.Exec(ctx, "SET LOCAL synchronous_commit = off"); err != nil {
		return err
	}
	stored, err := b.lockOffsets(ctx, tx, topic, partitions)
	if err != nil {
		return err
	}
	batches, deltas := build(stored)
	for _, pb := range batches {
		if err := b.write(ctx, tx, day, pb); err != nil {
			return err
		}
	}
	if err := deltas.Write(ctx, tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// lockOffsets makes sure every partition has an offset row and locks them all, so two
// consumers that both think they own a partition (during a rebalance) serialize here.
func (b Batches) lockOffsets(ctx context.Context, tx pgx.Tx, topic string, partitions []int32) (map[int32]int64, error) {
	if _, err := tx.Exec(ctx, `INSERT INTO consumer_offsets (consumer_group, topic, partition, next_offset)
		SELECT $1, $2, p, 0 FROM unnest($3::int[]) AS p
		ON CONFLICT DO NOTHING`, b.Group, topic, partitions); err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, `SELECT partition, next_offset FROM consumer_offsets
		WHERE consumer_group = $1 AND topic = $2 AND partition = ANY($3)
		ORDER BY partition FOR UPDATE`, b.Group, topic, partitions)
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	var p int32
	var off int64
	_, err = pgx.ForEachRow(rows, []any{&p, &off}, func() error { out[p] = off; return nil })
	return out, err
}

func (b Batches) write(ctx context.Context, tx pgx.Tx, day time.Time, pb PartitionBatch) error {
	if err := writeJourneys(ctx, tx, day, pb); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE consumer_offsets SET next_offset = $4, updated_at = now()
		WHERE consumer_group = $1 AND topic = $2 AND partition = $3`,
		b.Group, pb.Topic, pb.Partition, pb.LastOffset+1); err != nil {
		return err
	}
	if pb.EventCount == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO event_archive
		(day, topic, partition, first_offset, last_offset, tenant_ids, subjects, event_count, records, event_hashes)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		day, pb.Topic, pb.Partition, pb.FirstOffset, pb.LastOffset, pb.TenantIDs, pb.Subjects, pb.EventCount, pb.Records, pb.EventHashes)
	return err
}

// RecentHashes returns the event hashes archived for a partition since a time,
// concatenated, for rebuilding the deduplication set of a partition taken over.
func (b Batches) RecentHashes(ctx context.Context, topic string, partition int32, since time.Time) ([]byte, error) {
	rows, err := b.DB.Query(ctx, `SELECT event_hashes FROM event_archive
		WHERE topic = $1 AND partition = $2 AND archived_at >= $3`, topic, partition, since)
	if err != nil {
		return nil, fmt.Errorf("load recent event hashes of %s/%d: %w", topic, partition, err)
	}
	var out, h []byte
	if _, err := pgx.ForEachRow(rows, []any{&h}, func() error { out = append(out, h...); return nil }); err != nil {
		return nil, fmt.Errorf("load recent event hashes of %s/%d: %w", topic, partition, err)
	}
	return out, nil
}
