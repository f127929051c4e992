package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Archive manages the day partitions of the raw event archive.
type Archive struct{ DB *pgxpool.Pool }

// dayTables are the tables partitioned by day of ingestion: the raw archive and the
// journey rows, which hold personal data and so share its retention.
var dayTables = []string{"event_archive", "journey_touchpoints", "journey_conversions"}

func partitionName(table string, day time.Time) string { return table + "_" + day.Format("20060102") }

var partitionPattern = regexp.MustCompile(`_(\d{8})$`)

// EnsurePartitions creates the partitions for the days from `from` through `days`
// days later, if missing.
func (a Archive) EnsurePartitions(ctx context.Context, from time.Time, days int) error {
	from = from.UTC().Truncate(24 * time.Hour)
	for i := 0; i <= days; i++ {
		day := from.AddDate(0, 0, i)
		for _, table := range dayTables {
			sql := fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s PARTITION OF %s FOR VALUES FROM ('%s') TO ('%s')`,
				pgx.Identifier{partitionName(table, day)}.Sanitize(), table, day.Format(time.DateOnly), day.AddDate(0, 0, 1).Format(time.DateOnly))
			if _, err := a.DB.Exec(ctx, sql); err != nil {
				return fmt.Errorf("archive: create %s partition for %s: %w", table, day.Format(time.DateOnly), err)
			}
		}
	}
	return nil
}

// DropBefore drops every partition whose day is before cutoff and returns their names.
func (a Archive) DropBefore(ctx context.Context, cutoff time.Time) ([]string, error) {
	names, err := a.partitions(ctx)
	if err != nil {
		return nil, err
	}
	cutoff = cutoff.UTC().Truncate(24 * time.Hour)
	var dropped []string
	for _, name := range names {
		m := partitionPattern.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		day, err := time.Parse("20060102", m[1])
		if err != nil || !day.Before(cutoff) {
			continue
		}
		if _, err := a.DB.Exec(ctx, "DROP TABLE IF EXISTS "+pgx.Identifier{name}.Sanitize()); err != nil {
			return dropped, fmt.Errorf("archive: drop %s: %w", name, err)
		}
		dropped = append(dropped, name)
	}
	return dropped, nil
}

func (a Archive) partitions(ctx context.Context) ([]string, error) {
	rows, err := a.DB.Query(ctx, `
		SELECT c.relname FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid
		JOIN pg_class p ON p.oid = i.inhparent
		WHERE p.relname = ANY($1) ORDER BY c.relname`, dayTables)
	if err != nil {
		return nil, fmt.Errorf("archive: list partitions: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("archive: list partitions: %w", err)
	}
	return names, nil
}

// Replay calls fn with every archived record (the original Kafka value) of the
// batches archived in [from, to), in archive order. Records are read a batch at a
// time, so a long range streams instead of loading into memory.
func (a Archive) Replay(ctx context.Context, from, to time.Time, fn func(value []byte) error) error {
	rows, err := a.DB.Query(ctx, `SELECT records FROM event_archive
		WHERE day >= $1 AND day <= $2 AND archived_at >= $3 AND archived_at < $4
		ORDER BY archived_at, partition, first_offset`,
		from.UTC().Truncate(24*time.Hour), to.UTC().Truncate(24*time.Hour), from, to)
	if err != nil {
		return fmt.Errorf("archive: replay: %w", err)
	}
	defer rows.Close()
	var blob []byte
	for rows.Next() {
		if err := rows.Scan(&blob); err != nil {
			return fmt.Errorf("archive: replay: %w", err)
		}
		if err := eachFramed(blob, fn); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("archive: replay: %w", err)
	}
	return nil
}

// eachFramed calls fn with each record of a blob of 4-byte-length-prefixed records.
func eachFramed(blob []byte, fn func([]byte) error) error {
	for off := 0; off < len(blob); {
		if len(blob)-off < 4 {
			return fmt.Errorf("archive: corrupt blob: %d stray bytes", len(blob)-off)
		}
		n := int(binary.BigEndian.Uint32(blob[off:]))
		off += 4
		if n > len(blob)-off {
			return fmt.Errorf("archive: corrupt blob: record of %d bytes, %d left", n, len(blob)-off)
		}
		if err := fn(blob[off : off+n]); err != nil {
			return err
		}
		off += n
	}
	return nil
}

// EraseSubject removes one subject's events from the archive: every batch that
// mentions tenant:subject is rewritten without the records matches picks, and the
// subject leaves the batch's index. It returns how many records were removed.
func (a Archive) EraseSubject(ctx context.Context, tenant, subject string, matches func(value []byte) (bool, error)) (removed int, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("archive: erase %s/%s: %w", tenant, subject, err)
		}
	}()
	key := tenant + ":" + subject
	tx, err := a.DB.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, `SELECT day, topic, partition, first_offset, records, event_hashes FROM event_archive
		WHERE subjects @> ARRAY[$1]::text[] FOR UPDATE`, key)
	if err != nil {
		return 0, err
	}
	type batch struct {
		day                  time.Time
		topic                string
		partition            int32
		first                int64
		records, eventHashes []byte
	}
	var batches []batch
	var b batch
	if _, err := pgx.ForEachRow(rows, []any{&b.day, &b.topic, &b.partition, &b.first, &b.records, &b.eventHashes}, func() error {
		batches = append(batches, b)
		return nil
	}); err != nil {
		return 0, err
	}
	for _, b := range batches {
		kept, hashes, n, err := without(b.records, b.eventHashes, matches)
		if err != nil {
			return removed, err
		}
		removed += n
		if _, err := tx.Exec(ctx, `UPDATE event_archive SET records = $5, event_hashes = $6,
			event_count = event_count - $7, subjects = array_remove(subjects, $8)
			WHERE day = $1 AND topic = $2 AND partition = $3 AND first_offset = $4`,
			b.day, b.topic, b.partition, b.first, kept, hashes, n, key); err != nil {
			return removed, err
		}
	}
	return removed, tx.Commit(ctx)
}

// without drops the records matches picks, with their hashes (stored in the same
// order).
func without(records, hashes []byte, matches func([]byte) (bool, error)) ([]byte, []byte, int, error) {
	var kept, keptHashes []byte
	i, removed := 0, 0
	err := eachFramed(records, func(rec []byte) error {
		drop, err := matches(rec)
		if err != nil {
			return err
		}
		if drop {
			removed++
		} else {
			kept = binary.BigEndian.AppendUint32(kept, uint32(len(rec)))
			kept = append(kept, rec...)
			if 16*(i+1) <= len(hashes) {
				keptHashes = append(keptHashes, hashes[16*i:16*(i+1)]...)
			}
		}
		i++
		return nil
	})
	return kept, keptHashes, removed, err
}
