package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/touchpoint/touchpoint/aggregate"
	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
)

func TestPruneLevelKeepsRollups(t *testing.T) {
	ctx := context.Background()
	pool := storetest.Postgres(t)
	a := store.Aggregates{DB: pool}
	old, recent := time.Now().Add(-10*24*time.Hour), time.Now()
	d := aggregate.New()
	for _, at := range []time.Time{old, recent} {
		for _, typ := range events.AllTypes {
			e := events.Example(typ, "acme", at)
			d.Add(&e)
		}
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.WriteDeltas(ctx, tx, d); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := a.PruneLevel(ctx, aggregate.Window, time.Now().Add(-7*24*time.Hour))
	if err != nil || n == 0 {
		t.Fatalf("pruned %d rows, %v", n, err)
	}
	rows, _, err := a.EventTypes(ctx, store.Query{Tenant: "acme", Level: aggregate.Window, From: old.Add(-time.Hour), To: recent.Add(time.Hour)})
	if err != nil || len(rows) != len(events.AllTypes) {
		t.Fatalf("5s rows left: %d (want only the recent window's), %v", len(rows), err)
	}
	weeks, err := a.Totals(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, v := range weeks.EventTypes {
		total += v
	}
	if total != 2*int64(len(events.AllTypes)) {
		t.Fatalf("week totals %d after pruning windows, want %d", total, 2*len(events.AllTypes))
	}
}
