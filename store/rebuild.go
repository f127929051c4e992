package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/touchpoint/touchpoint/aggregate"
)

// ViewSnapshot is what the Redis view of one tenant is rebuilt from: its totals, its
// recent windows, and the consumer offsets those figures include, all read in one
// snapshot so they agree with each other.
type ViewSnapshot struct {
	Totals  *aggregate.Deltas
	Recent  *aggregate.Deltas
	Applied map[int32]int64 // partition -> last applied offset
}

// ViewSnapshot reads a tenant's figures for a rebuild of the Redis view.
func (a Aggregates) ViewSnapshot(ctx context.Context, tenant string, since time.Time, group, topic string) (ViewSnapshot, error) {
	s := ViewSnapshot{Totals: aggregate.New(), Recent: aggregate.New(), Applied: map[int32]int64{}}
	err := a.snapshot(ctx, func(tx pgx.Tx) error {
		for _, t := range tables {
			if err := t.read(ctx, tx, s.Totals, t.totals, []any{tenant, string(aggregate.Week)}); err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			if err := t.read(ctx, tx, s.Recent, t.recent, []any{tenant, string(aggregate.Window), since}); err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
		}
		rows, err := tx.Query(ctx, `SELECT partition, next_offset - 1 FROM consumer_offsets
			WHERE consumer_group = $1 AND topic = $2`, group, topic)
		if err != nil {
			return err
		}
		var p int32
		var off int64
		_, err = pgx.ForEachRow(rows, []any{&p, &off}, func() error { s.Applied[p] = off; return nil })
		return err
	})
	if err != nil {
		return s, fmt.Errorf("view snapshot of %s: %w", tenant, err)
	}
	return s, nil
}

// Tenants lists the tenants that have aggregates.
func (a Aggregates) Tenants(ctx context.Context) ([]string, error) {
	rows, err := a.DB.Query(ctx, `SELECT DISTINCT tenant_id FROM agg_event_type WHERE level = $1`, string(aggregate.Week))
	if err != nil {
		return nil, fmt.Errorf("list aggregate tenants: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list aggregate tenants: %w", err)
	}
	return out, nil
}

// RebuildView rebuilds the Redis view of every tenant from Postgres. It is safe while
// consumers run: a tenant whose view moved on during its rebuild is rebuilt again.
func RebuildView(ctx context.Context, a Aggregates, rt Realtime, group, topic string) error {
	tenants, err := a.Tenants(ctx)
	if err != nil {
		return err
	}
	since := time.Now().Add(-rt.ttl())
	for _, tenant := range tenants {
		if err := rebuildTenant(ctx, a, rt, tenant, since, group, topic); err != nil {
			return err
		}
	}
	return nil
}

func rebuildTenant(ctx context.Context, a Aggregates, rt Realtime, tenant string, since time.Time, group, topic string) error {
	for attempt := 0; ; attempt++ {
		s, err := a.ViewSnapshot(ctx, tenant, since, group, topic)
		if err != nil {
			return err
		}
		err = rt.Replace(ctx, tenant, s.Recent, s.Totals, s.Applied)
		if err == nil || !IsStale(err) || attempt == 10 {
			return err
		}
	}
}
