package worker_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/aggregate"
	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/identity"
	"github.com/touchpoint/touchpoint/internal/temporaltest"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
	"github.com/touchpoint/touchpoint/worker"
	"github.com/touchpoint/touchpoint/workflows"
)

// TestIdentityUpdateLinksDevicesAcrossBatches runs the real worker against a real
// Temporal server and Postgres. A phone browses anonymously and a laptop is logged in;
// in a later batch the same user logs in on the phone. After the IdentityUpdate
// workflows both devices resolve to one person in the stored links. EnsureSchedules then
// leaves the identity and sweep schedules in place.
func TestIdentityUpdateLinksDevicesAcrossBatches(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool := storetest.Postgres(t)
	c := temporaltest.Client(t)
	archive := store.Archive{DB: pool}
	links := store.Identity{DB: pool}
	now := time.Now().UTC()
	if err := archive.EnsurePartitions(ctx, now.AddDate(0, 0, -1), 1); err != nil {
		t.Fatal(err)
	}

	event := func(at time.Time, device, anon, user string) []byte {
		e := events.Example(events.TouchpointInteraction, "acme", at)
		e.CustomerID = ""
		e.Device = &events.Device{DeviceID: device, AnonymousID: anon, UserID: user, IP: "198.51.100.7"}
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	batch := func(first int64, archivedAt time.Time, records ...[]byte) {
		var blob []byte
		for _, r := range records {
			blob = binary.BigEndian.AppendUint32(blob, uint32(len(r)))
			blob = append(blob, r...)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO event_archive (day, topic, partition, first_offset, last_offset, tenant_ids, subjects, event_count, records, event_hashes, archived_at)
			VALUES ($1, 'marketing-events', 0, $2, $3, '{acme}', '{}', $4, $5, '\x00', $6)`,
			archivedAt.Truncate(24*time.Hour), first, first+int64(len(records))-1, len(records), blob, archivedAt); err != nil {
			t.Fatal(err)
		}
	}
	t0 := now.Add(-3 * time.Hour)
	batch(0, now.Add(-20*time.Minute),
		event(t0, "phone", "p-anon", ""),
		event(t0.Add(time.Minute), "laptop", "", "u1"))

	w := worker.New(c, worker.Deps{
		Archive:     &activities.Archive{Store: archive, Aggregates: store.Aggregates{DB: pool}},
		Attribution: &activities.Attribution{Journeys: store.Journeys{DB: pool}, Credits: store.Attribution{DB: pool}, Links: links},
		Identity:    &activities.Identity{Archive: archive, Links: links, Secret: []byte("test-secret-0123456789")},
	})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	update := func(in workflows.IdentityUpdateInput) activities.UpdateIdentityResult {
		t.Helper()
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "identity-test-" + t.Name(), TaskQueue: workflows.TaskQueue}, workflows.IdentityUpdate, in)
		if err != nil {
			t.Fatal(err)
		}
		var res activities.UpdateIdentityResult
		if err := run.Get(ctx, &res); err != nil {
			t.Fatal(err)
		}
		if res.Undecodable != 0 {
			t.Fatalf("%d archived records undecodable", res.Undecodable)
		}
		return res
	}
	person := func(id string) string {
		t.Helper()
		stored, err := links.Links(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		ls := make([]identity.Link, len(stored))
		for i, l := range stored {
			ls[i] = identity.Link{A: l.A, B: l.B, Method: identity.Method(l.Method), Confidence: l.Confidence, FirstSeen: l.FirstSeen, LastSeen: l.LastSeen}
		}
		g, err := identity.Restore(identity.Config{}, ls)
		if err != nil {
			t.Fatal(err)
		}
		return g.Person(id)
	}

	if res := update(workflows.IdentityUpdateInput{Tenant: "acme"}); res.Records != 2 {
		t.Fatalf("first update read %d records, want 2", res.Records)
	}
	if p, l := person("device:phone"), person("device:laptop"); p == l {
		t.Fatalf("phone and laptop one person (%s) before the phone logged in", p)
	}
	// Archived a moment before the watermark (which trails the update by a minute to
	// wait for late commits), so the next update is asked to start earlier.
	batch(2, now.Add(-2*time.Minute), event(now.Add(-time.Hour), "phone", "p-anon", "u1"))
	if res := update(workflows.IdentityUpdateInput{Tenant: "acme", Since: now.Add(-10 * time.Minute)}); res.Tenants != 1 {
		t.Fatalf("second update: %+v", res)
	}
	for _, id := range []string{"device:phone", "anon:p-anon", "device:laptop"} {
		if p := person(id); p != "user:u1" {
			t.Errorf("%s resolves to %s, want user:u1", id, p)
		}
	}

	// Schedules.
	ids := []string{worker.MaintenanceScheduleID, worker.IdentityScheduleID, worker.AttributionHourlyScheduleID, worker.AttributionDailyScheduleID,
		worker.TrainingWeeklyScheduleID, worker.ProfileTrainingScheduleID}
	for _, id := range ids {
		_ = c.ScheduleClient().GetHandle(ctx, id).Delete(ctx) // from an earlier run on a shared server
	}
	t.Cleanup(func() {
		for _, id := range ids {
			_ = c.ScheduleClient().GetHandle(context.Background(), id).Delete(context.Background())
		}
	})
	for range 2 { // the second takes the update path
		if err := worker.EnsureSchedules(ctx, c, 90*24*time.Hour, 7*24*time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]time.Duration{worker.IdentityScheduleID: 15 * time.Minute, worker.AttributionHourlyScheduleID: time.Hour, worker.AttributionDailyScheduleID: 24 * time.Hour,
		worker.TrainingWeeklyScheduleID: 7 * 24 * time.Hour, worker.ProfileTrainingScheduleID: 7 * 24 * time.Hour}
	for id, every := range want {
		d, err := c.ScheduleClient().GetHandle(ctx, id).Describe(ctx)
		if err != nil {
			t.Fatalf("describe %s: %v", id, err)
		}
		iv := d.Schedule.Spec.Intervals
		if len(iv) != 1 || iv[0].Every != every {
			t.Errorf("schedule %s intervals %+v, want every %v", id, iv, every)
		}
		if a, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction); !ok || a.TaskQueue != workflows.TaskQueue {
			t.Errorf("schedule %s action %+v", id, d.Schedule.Action)
		} else if id == worker.TrainingWeeklyScheduleID && (a.Workflow != "TrainingSweep" || a.ID != workflows.TrainingSweepWorkflowID) {
			t.Errorf("schedule %s runs %v as %s, want TrainingSweep as %s", id, a.Workflow, a.ID, workflows.TrainingSweepWorkflowID)
		}
	}
}

// TestRecomputeUsesStoredProbabilisticLinks: a journey whose touch is on a phone that
// no event ties to the converting user is attributed across both devices once the
// identity graph holds a probabilistic link between them.
func TestRecomputeUsesStoredProbabilisticLinks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool := storetest.Postgres(t)
	c := temporaltest.Client(t)
	today := time.Now().UTC().Truncate(24 * time.Hour)
	if err := (store.Archive{DB: pool}).EnsurePartitions(ctx, today, 0); err != nil {
		t.Fatal(err)
	}
	converted := recomputeFrom.Add(36 * time.Hour)
	rows := &store.JourneyRows{
		Touchpoints: []store.Touchpoint{{EventID: "t-phone", OccurredAt: converted.Add(-48 * time.Hour), Who: store.Who{DeviceID: "phone", AnonymousID: "pa"},
			Channel: "social", InteractionType: "click", CampaignID: "spring"}},
		Conversions: []store.Conversion{{EventID: "c-laptop", OccurredAt: converted, Who: store.Who{DeviceID: "laptop", UserID: "u1"},
			Channel: "search", ValueMicros: 10_000_000, Currency: "EUR", AttributionWeight: 1}},
	}
	err := (store.Batches{DB: pool, Group: "identity-seed"}).Apply(ctx, "seed", today, []int32{0}, func(map[int32]int64) ([]store.PartitionBatch, *store.PreparedDeltas) {
		return []store.PartitionBatch{{Topic: "seed", FirstOffset: 0, LastOffset: 1, Journeys: map[string]*store.JourneyRows{"acme": rows}}}, store.PrepareDeltas(aggregate.New())
	})
	if err != nil {
		t.Fatal(err)
	}
	links := store.Identity{DB: pool}
	if err := links.ReplaceLinks(ctx, "acme", []store.IdentityLink{
		{A: "device:laptop", B: "user:u1", Method: "deterministic", Confidence: 1, FirstSeen: converted, LastSeen: converted},
		{A: "device:phone", B: "user:u1", Method: "probabilistic", Confidence: 0.86, FirstSeen: converted, LastSeen: converted},
	}); err != nil {
		t.Fatal(err)
	}
	w := worker.New(c, worker.Deps{
		Archive:     &activities.Archive{Store: store.Archive{DB: pool}, Aggregates: store.Aggregates{DB: pool}},
		Attribution: &activities.Attribution{Journeys: store.Journeys{DB: pool}, Credits: store.Attribution{DB: pool}, Links: links},
	})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	in := workflows.AttributionRecomputeInput{Tenant: "acme", From: recomputeFrom, To: recomputeFrom.AddDate(0, 0, 3), Models: []string{"last_touch"}}
	run, err := c.ExecuteWorkflow(ctx, workflows.AttributionStartOptions(in), workflows.AttributionRecompute, in)
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Get(ctx, nil); err != nil {
		t.Fatal(err)
	}
	got := credits(t, pool, "acme")
	if len(got) != 1 || got[0].Conversion != "c-laptop" || got[0].Channel != "social" || got[0].Micros != 10_000_000 {
		t.Fatalf("credits %+v, want the laptop conversion credited to the phone's social touch", got)
	}
}
