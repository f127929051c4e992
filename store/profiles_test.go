package store_test

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/touchpoint/touchpoint/aggregate"
	"github.com/touchpoint/touchpoint/connectors/segment"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
)

func at(day int) time.Time { return time.Date(2025, 3, day, 12, 0, 0, 0, time.UTC) }

// TestProfileMergeLatestWins: a newer observation replaces only what is newer, a
// stale one changes nothing, a replay changes nothing, and consent follows the later
// consent timestamp.
func TestProfileMergeLatestWins(t *testing.T) {
	ctx := context.Background()
	s := store.Profiles{DB: storetest.Postgres(t)}
	first := segment.Profile{CustomerID: "c1", Traits: map[string]any{"plan": "free", "orders": 3.0},
		SourceTimestamp: at(2), ConsentTimestamp: at(2)}
	ch, err := s.Merge(ctx, "acme", "segment", []segment.Profile{first})
	if err != nil || len(ch) != 1 || !ch[0].Changed || !ch[0].Created {
		t.Fatalf("first merge %+v %v", ch, err)
	}
	// Stale: an older plan must not overwrite the stored one, but a new trait lands.
	stale := segment.Profile{CustomerID: "c1", Traits: map[string]any{"plan": "enterprise", "email": "a@b.c"},
		SourceTimestamp: at(1), ConsentTimestamp: at(1), GDPR: true}
	if _, err := s.Merge(ctx, "acme", "mparticle", []segment.Profile{stale}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "acme", "c1")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"plan": "free", "orders": 3.0, "email": "a@b.c"}
	if !reflect.DeepEqual(got.Traits, want) || got.GDPR || !got.SourceTimestamp.Equal(at(2)) {
		t.Fatalf("after stale merge %+v", got)
	}
	if !got.TraitTimes["email"].Equal(at(1)) || !got.TraitTimes["plan"].Equal(at(2)) {
		t.Fatalf("trait times %v", got.TraitTimes)
	}
	if !reflect.DeepEqual(got.Sources, []string{"mparticle", "segment"}) {
		t.Fatalf("sources %v", got.Sources)
	}
	// Newer: wins per trait, and its GDPR flag with it.
	newer := segment.Profile{CustomerID: "c1", Traits: map[string]any{"plan": "pro"}, SourceTimestamp: at(3),
		ConsentTimestamp: at(3), GDPR: true, CCPA: true}
	if _, err := s.Merge(ctx, "acme", "segment", []segment.Profile{newer}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Get(ctx, "acme", "c1")
	if got.Traits["plan"] != "pro" || got.Traits["orders"] != 3.0 || !got.GDPR || !got.CCPA || !got.ConsentTimestamp.Equal(at(3)) {
		t.Fatalf("after newer merge %+v", got)
	}
	// Replaying every observation changes nothing, not even updated_at.
	for _, p := range []segment.Profile{first, stale, newer} {
		ch, err := s.Merge(ctx, "acme", "segment", []segment.Profile{p})
		if err != nil || ch[0].Changed {
			t.Fatalf("replay changed the profile: %+v %v", ch, err)
		}
	}
	again, _ := s.Get(ctx, "acme", "c1")
	if !again.UpdatedAt.Equal(got.UpdatedAt) {
		t.Fatalf("updated_at moved on a replay: %v -> %v", got.UpdatedAt, again.UpdatedAt)
	}
	if _, err := s.Get(ctx, "other", "c1"); !errors.Is(err, store.ErrProfileNotFound) {
		t.Fatalf("other tenant: %v", err)
	}
}

// TestProfileMergeConcurrent: syncs merging the same new customer at once lose no
// trait, whatever the interleaving.
func TestProfileMergeConcurrent(t *testing.T) {
	ctx := context.Background()
	s := store.Profiles{DB: storetest.Postgres(t)}
	traits := []string{"email", "first_name", "last_name", "plan"}
	var wg sync.WaitGroup
	errs := make(chan error, len(traits))
	for i, k := range traits {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Merge(ctx, "acme", "segment", []segment.Profile{
				{CustomerID: "new", Traits: map[string]any{k: "v"}, SourceTimestamp: at(1 + i)},
				{CustomerID: "also-new", Traits: map[string]any{k: "v"}, SourceTimestamp: at(1 + i)}})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"new", "also-new"} {
		got, err := s.Get(ctx, "acme", id)
		if err != nil || len(got.Traits) != len(traits) || !got.SourceTimestamp.Equal(at(len(traits))) {
			t.Fatalf("%s: %+v %v", id, got, err)
		}
	}
}

// TestCustomersToSyncAndRampIDs: the customers of recent journey rows and of stored
// profiles, paged in order; RampIDs stored, not replaced by an older resolution, and
// cleared; CDP ids linked idempotently; the cursor never moves back.
func TestCustomersToSyncAndRampIDs(t *testing.T) {
	ctx := context.Background()
	pool := storetest.Postgres(t)
	s := store.Profiles{DB: pool}
	today := time.Now().UTC().Truncate(24 * time.Hour)
	rows := &store.JourneyRows{
		Touchpoints: []store.Touchpoint{{EventID: "t1", OccurredAt: today, Who: store.Who{CustomerID: "b"}, Channel: "email", InteractionType: "click"},
			{EventID: "t2", OccurredAt: today, Who: store.Who{CustomerID: ""}, Channel: "email", InteractionType: "click"}},
		Conversions: []store.Conversion{{EventID: "c1", OccurredAt: today, Who: store.Who{CustomerID: "d"}, Channel: "web", Currency: "EUR", AttributionWeight: 1}},
	}
	if err := (store.Archive{DB: pool}).EnsurePartitions(ctx, today, 0); err != nil {
		t.Fatal(err)
	}
	err := (store.Batches{DB: pool, Group: "profiles-seed"}).Apply(ctx, "seed", today, []int32{0}, func(map[int32]int64) ([]store.PartitionBatch, *store.PreparedDeltas) {
		return []store.PartitionBatch{{Topic: "seed", FirstOffset: 0, LastOffset: 2, Journeys: map[string]*store.JourneyRows{"acme": rows}}}, store.PrepareDeltas(aggregate.New())
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Merge(ctx, "acme", "segment", []segment.Profile{{CustomerID: "a", SourceTimestamp: at(1)},
		{CustomerID: "c", SourceTimestamp: at(1)}}); err != nil {
		t.Fatal(err)
	}
	page1, err := s.CustomersToSync(ctx, "acme", today, "", 3)
	if err != nil || !reflect.DeepEqual(page1, []string{"a", "b", "c"}) {
		t.Fatalf("page 1 %v %v", page1, err)
	}
	page2, _ := s.CustomersToSync(ctx, "acme", today, "c", 3)
	if !reflect.DeepEqual(page2, []string{"d"}) {
		t.Fatalf("page 2 %v", page2)
	}
	later, _ := s.CustomersToSync(ctx, "acme", today.AddDate(0, 0, 1), "", 10)
	if !reflect.DeepEqual(later, []string{"a", "c"}) {
		t.Fatalf("after the cursor %v", later)
	}

	if err := s.SetRampIDs(ctx, "acme", []store.RampID{{CustomerID: "a", RampID: "XYnew", For: at(2)}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRampIDs(ctx, "acme", []store.RampID{{CustomerID: "a", RampID: "XYold", For: at(1)}}); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Get(ctx, "acme", "a"); p.RampID != "XYnew" || !p.RampResolvedFor.Equal(at(2)) {
		t.Fatalf("ramp id %+v", p)
	}
	if err := s.SetRampIDs(ctx, "acme", []store.RampID{{CustomerID: "a"}}); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Get(ctx, "acme", "a"); p.RampID != "" {
		t.Fatalf("ramp id not cleared %+v", p)
	}

	for range 2 {
		if err := s.LinkCDP(ctx, "acme", "mparticle", map[string]string{"42": "a", "7": "c"}); err != nil {
			t.Fatal(err)
		}
	}
	ids, err := s.CDPIDs(ctx, "acme", "mparticle", []string{"a", "b", "c"})
	if err != nil || !reflect.DeepEqual(ids, map[string]string{"a": "42", "c": "7"}) {
		t.Fatalf("cdp ids %v %v", ids, err)
	}

	conns := store.Connections{DB: pool, Key: store.SecretsKey("k")}
	if err := s.AdvanceCursor(ctx, "acme", "seg", "profiles", today); err != nil {
		t.Fatal(err)
	}
	if err := s.AdvanceCursor(ctx, "acme", "seg", "profiles", today.AddDate(0, 0, -3)); err != nil {
		t.Fatal(err)
	}
	if cur, ok, err := conns.Cursor(ctx, "acme", "seg", "profiles"); err != nil || !ok || !cur.Equal(today) {
		t.Fatalf("cursor %v %v %v", cur, ok, err)
	}
}
