package store

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Archive manages the day partitions of the raw event archive.
type Archive struct{ DB *pgxpool.Pool }

func partitionName(day time.Time) string { return "event_archive_" + day.Format("20060102") }

var partitionPattern = regexp.MustCompile(`^event_archive_(\d{8})$`)

// EnsurePartitions creates the partitions for the days from `from` through `days`
// days later, if missing.
func (a Archive) EnsurePartitions(ctx context.Context, from time.Time, days int) error {
	from = from.UTC().Truncate(24 * time.Hour)
	for i := 0; i <= days; i++ {
		day := from.AddDate(0, 0, i)
		sql := fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s PARTITION OF event_archive FOR VALUES FROM ('%s') TO ('%s')`,
			pgx.Identifier{partitionName(day)}.Sanitize(), day.Format(time.DateOnly), day.AddDate(0, 0, 1).Format(time.DateOnly))
		if _, err := a.DB.Exec(ctx, sql); err != nil {
			return fmt.Errorf("archive: create partition for %s: %w", day.Format(time.DateOnly), err)
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
		WHERE p.relname = 'event_archive' ORDER BY c.relname`)
	if err != nil {
		return nil, fmt.Errorf("archive: list partitions: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("archive: list partitions: %w", err)
	}
	return names, nil
}
