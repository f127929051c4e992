package store_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
)

// TestIdentityLinksReplaceAndExpire: storing a tenant's links upserts them and drops
// the ones no longer in the set, leaving other tenants alone; expiry deletes links by
// last_seen; the watermark never moves back.
func TestIdentityLinksReplaceAndExpire(t *testing.T) {
	ctx := context.Background()
	s := store.Identity{DB: storetest.Postgres(t)}
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	det := store.IdentityLink{A: "anon:p1", B: "user:u1", Method: "deterministic", Confidence: 1, FirstSeen: t0, LastSeen: t0}
	prob := store.IdentityLink{A: "anon:p2", B: "user:u1", Method: "probabilistic", Confidence: 0.83, FirstSeen: t0, LastSeen: t0}
	old := store.IdentityLink{A: "device:d9", B: "user:u9", Method: "deterministic", Confidence: 1, FirstSeen: t0.AddDate(0, 0, -100), LastSeen: t0.AddDate(0, 0, -95)}
	if err := s.ReplaceLinks(ctx, "acme", []store.IdentityLink{det, prob, old}); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplaceLinks(ctx, "other", []store.IdentityLink{det}); err != nil {
		t.Fatal(err)
	}
	// A later update: det seen again, prob no longer judged a match.
	det2 := det
	det2.LastSeen = t0.Add(time.Hour)
	for range 2 { // idempotent
		if err := s.ReplaceLinks(ctx, "acme", []store.IdentityLink{det2, old}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Links(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if want := []store.IdentityLink{det2, old}; !equalLinks(got, want) {
		t.Fatalf("links %+v, want %+v", got, want)
	}
	n, err := s.ExpireLinks(ctx, t0.AddDate(0, 0, -90))
	if err != nil || n != 1 {
		t.Fatalf("expired %d, %v; want 1", n, err)
	}
	if got, _ := s.Links(ctx, "acme"); !equalLinks(got, []store.IdentityLink{det2}) {
		t.Fatalf("after expiry %+v", got)
	}
	if got, _ := s.Links(ctx, "other"); !equalLinks(got, []store.IdentityLink{det}) {
		t.Fatalf("other tenant %+v", got)
	}
	if err := s.ReplaceLinks(ctx, "acme", []store.IdentityLink{{A: "user:z", B: "anon:a", Method: "deterministic", Confidence: 1, FirstSeen: t0, LastSeen: t0}}); err == nil {
		t.Fatal("a link out of order was stored")
	}

	if _, ok, err := s.Watermark(ctx, "*", "event_archive"); err != nil || ok {
		t.Fatalf("watermark before any: %v %v", ok, err)
	}
	for _, at := range []time.Time{t0, t0.Add(-time.Hour)} {
		if err := s.SetWatermark(ctx, "*", "event_archive", at); err != nil {
			t.Fatal(err)
		}
	}
	if at, ok, err := s.Watermark(ctx, "*", "event_archive"); err != nil || !ok || !at.Equal(t0) {
		t.Fatalf("watermark %v %v %v, want %v", at, ok, err, t0)
	}
}

func equalLinks(got, want []store.IdentityLink) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		g, w := got[i], want[i]
		if !g.FirstSeen.Equal(w.FirstSeen) || !g.LastSeen.Equal(w.LastSeen) {
			return false
		}
		g.FirstSeen, g.LastSeen, w.FirstSeen, w.LastSeen = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if !reflect.DeepEqual(g, w) {
			return false
		}
	}
	return true
}
