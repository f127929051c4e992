package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/internal/temporaltest"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
	"github.com/touchpoint/touchpoint/worker"
)

// TestScheduledMaintenance runs the real worker against a real Temporal server and
// Postgres: the schedule fires at once and the maintenance workflow creates the
// coming days' archive partitions. Ensuring the schedule twice takes the update path.
func TestScheduledMaintenance(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pool := storetest.Postgres(t)
	c := temporaltest.Client(t)
	w := worker.New(c, worker.Deps{Archive: &activities.Archive{Store: store.Archive{DB: pool}, Aggregates: store.Aggregates{DB: pool}}})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	t.Cleanup(func() {
		_ = c.ScheduleClient().GetHandle(context.Background(), worker.MaintenanceScheduleID).Delete(context.Background())
	})
	_ = c.ScheduleClient().GetHandle(ctx, worker.MaintenanceScheduleID).Delete(ctx) // from an earlier run on a shared server

	if err := worker.EnsureSchedules(ctx, c, 90*24*time.Hour, 7*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := worker.EnsureSchedules(ctx, c, 90*24*time.Hour, 7*24*time.Hour); err != nil {
		t.Fatalf("second EnsureSchedules (update): %v", err)
	}
	want := "event_archive_" + time.Now().UTC().AddDate(0, 0, 7).Format("20060102")
	for {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_class WHERE relname = $1`, want).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("partition %s not created by the scheduled maintenance run", want)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
