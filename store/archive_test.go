package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
)

func TestArchivePartitions(t *testing.T) {
	ctx := context.Background()
	a := store.Archive{DB: storetest.Postgres(t)}
	start := time.Date(2026, 3, 1, 15, 0, 0, 0, time.UTC)
	if err := a.EnsurePartitions(ctx, start, 3); err != nil {
		t.Fatal(err)
	}
	if err := a.EnsurePartitions(ctx, start, 3); err != nil { // idempotent
		t.Fatal(err)
	}
	if _, err := a.DB.Exec(ctx, `INSERT INTO event_archive (day, topic, partition, first_offset, last_offset, tenant_ids, subjects, event_count, records, event_hashes)
		VALUES ('2026-03-02', 't', 0, 0, 9, '{a}', '{c1}', 10, '\x00', '\x00')`); err != nil {
		t.Fatalf("insert into a created partition: %v", err)
	}
	dropped, err := a.DropBefore(ctx, time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, table := range []string{"event_archive", "journey_conversions", "journey_touchpoints"} {
		want = append(want, table+"_20260301", table+"_20260302")
	}
	if !slices.Equal(dropped, want) {
		t.Fatalf("dropped %v, want %v", dropped, want)
	}
	var n int
	if err := a.DB.QueryRow(ctx, `SELECT count(*) FROM event_archive`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("rows left after drop: %d, %v", n, err)
	}
}
