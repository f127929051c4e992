package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/touchpoint/touchpoint"
	"github.com/touchpoint/touchpoint/connectors/segment"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
)

// TestProfileScoresRFMAndSummaries: the SQL aggregation gives clv's RFM summary
// (purchase days, weeks since the first, mean repeat spend in currency units, holdout
// days); the behaviour summaries add touchpoint counts and CDP-only customers.
func TestProfileScoresRFMAndSummaries(t *testing.T) {
	ctx := context.Background()
	pool := storetest.Postgres(t)
	if err := (store.Archive{DB: pool}).EnsurePartitions(ctx, time.Now(), 0); err != nil {
		t.Fatal(err)
	}
	ingest := time.Now().UTC().Truncate(24 * time.Hour)
	d0 := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	at := func(days int) time.Time { return d0.AddDate(0, 0, days) }
	// c1: first on day 0, two purchases on day 7 (one occasion, 30 + 10), one on day
	// 21, one in the holdout (day 35). c2: one purchase. other tenant ignored.
	conv := func(tenant string, off int, ids []string, times []time.Time, who []string, micros []int64) {
		t.Helper()
		w := make([]float64, len(ids))
		if _, err := pool.Exec(ctx, `INSERT INTO journey_conversions (tenant_id, day, topic, partition, first_offset, event_ids, occurred_at,
			customer_ids, journey_ids, device_ids, anonymous_ids, user_ids, channels, value_micros, currencies, attribution_weights,
			min_occurred_at, max_occurred_at) VALUES ($1, $2, 't', 0, $3, $4, $5, $6, $6, $6, $6, $6, $6, $7, $6, $8, $9, $10)`,
			tenant, ingest, off, ids, times, who, micros, w, times[0], times[len(times)-1]); err != nil {
			t.Fatal(err)
		}
	}
	conv("acme", 1, []string{"e1", "e2", "e3", "e4", "e5", "e6"}, []time.Time{at(0), at(7), at(7).Add(time.Hour), at(21), at(35), at(3)},
		[]string{"c1", "c1", "c1", "c1", "c1", "c2"}, []int64{5e6, 30e6, 10e6, 20e6, 99e6, 7e6})
	conv("globex", 2, []string{"g1"}, []time.Time{at(1)}, []string{"c1"}, []int64{1e6})
	ps := store.ProfileScores{DB: pool}
	recs, err := ps.RFMSummaries(ctx, "acme", time.Time{}, at(28), at(56))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("rfm: %+v", recs)
	}
	c1, c2 := recs[0], recs[1]
	if c1.CustomerID != "c1" || c1.X != 2 || c1.Tx != 3 || c1.T != 4 || math.Abs(c1.MeanSpend-30) > 1e-9 || c1.HoldoutX != 1 || c1.Conversions != 4 || c1.Revenue != 65 {
		t.Errorf("c1 rfm %+v", c1)
	}
	if c2.CustomerID != "c2" || c2.X != 0 || c2.Tx != 0 || math.Abs(c2.T-25.0/7) > 1e-9 || c2.MeanSpend != 0 || c2.HoldoutX != 0 {
		t.Errorf("c2 rfm %+v", c2)
	}

	if _, err := pool.Exec(ctx, `INSERT INTO journey_touchpoints (tenant_id, day, topic, partition, first_offset, event_ids, occurred_at,
		customer_ids, journey_ids, device_ids, anonymous_ids, user_ids, channels, interaction_types, campaign_ids, min_occurred_at, max_occurred_at)
		VALUES ('acme', $1, 't', 0, 3, $2, $3, $4, $4, $4, $4, $4, $5, $4, $4, $6, $7)`, ingest, []string{"t1", "t2", "t3"},
		[]time.Time{at(20), at(50), at(55)}, []string{"c2", "c2", "c2"}, []string{"email", "search", "email"}, at(20), at(55)); err != nil {
		t.Fatal(err)
	}
	if _, err := (store.Profiles{DB: pool}).Merge(ctx, "acme", "segment", []segment.Profile{{CustomerID: "c9", Traits: map[string]any{"plan": "pro"}, SourceTimestamp: at(1)}}); err != nil {
		t.Fatal(err)
	}
	// As of day 56: the day is included, so T runs to day 57.
	n, err := ps.BuildSummaries(ctx, "acme", at(56))
	if err != nil || n != 3 {
		t.Fatalf("build summaries: %d, %v", n, err)
	}
	sums, err := ps.Summaries(ctx, "acme", "", 10)
	if err != nil || len(sums) != 3 {
		t.Fatalf("summaries: %+v, %v", sums, err)
	}
	if s := sums[0]; s.CustomerID != "c1" || s.X != 3 || math.Abs(s.T-57.0/7) > 1e-9 || !s.LastSeen.Equal(at(35)) {
		t.Errorf("c1 summary %+v", s)
	}
	if s := sums[1]; s.Touchpoints30d != 2 || s.Touchpoints90d != 3 || s.Channels != 2 || !s.LastSeen.Equal(at(55)) {
		t.Errorf("c2 summary %+v", s)
	}
	if s := sums[2]; s.CustomerID != "c9" || s.T != 0 || s.Traits["plan"] != "pro" || s.Sources[0] != "segment" {
		t.Errorf("c9 summary %+v", s)
	}
	if page, _ := ps.Summaries(ctx, "acme", "c1", 1); len(page) != 1 || page[0].CustomerID != "c2" {
		t.Errorf("paged summaries %+v", page)
	}

	// Scores: written with COPY, creating event-only customers' profiles and keeping
	// the CDP traits of the others.
	ltv, eng := 42.0, 55.5
	now := time.Now().UTC().Truncate(time.Millisecond)
	if err := ps.WriteScores(ctx, "acme", []store.Scores{{CustomerID: "c1", LTV: &ltv, EngagementScore: &eng, ScoredAt: now, ModelVersion: 7},
		{CustomerID: "c9", EngagementScore: &eng, ScoredAt: now}}); err != nil {
		t.Fatal(err)
	}
	sc, err := ps.ScoresOf(ctx, "acme", "c1")
	if err != nil || *sc.LTV != 42 || sc.ModelVersion != 7 || sc.PAlive != nil || !sc.ScoredAt.Equal(now) {
		t.Errorf("c1 scores %+v, %v", sc, err)
	}
	if p, err := (store.Profiles{DB: pool}).Get(ctx, "acme", "c9"); err != nil || p.Traits["plan"] != "pro" {
		t.Errorf("c9 profile after scoring: %+v, %v", p, err)
	}
	if _, err := ps.ScoresOf(ctx, "globex", "c1"); !errors.Is(err, store.ErrProfileNotFound) {
		t.Errorf("other tenant's scores: %v", err)
	}
}

// TestProfileModelsAndSegments: versions save idempotently, one is promoted at a
// time; segments CRUD; member changes apply idempotently.
func TestProfileModelsAndSegments(t *testing.T) {
	ctx := context.Background()
	ps := store.ProfileScores{DB: storetest.Postgres(t)}
	if _, err := ps.ActiveModel(ctx, "acme"); !errors.Is(err, store.ErrNoProfileModel) {
		t.Fatalf("active before any: %v", err)
	}
	m := store.ProfileModel{Tenant: "acme", TrainingID: "r1", Params: json.RawMessage(`{"bgnbd":{}}`), Metrics: store.ProfileModelMetrics{HoldoutMAE: 0.5}}
	v1, err := ps.SaveModel(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := ps.SaveModel(ctx, m); again != v1 {
		t.Errorf("retried save: %d, want %d", again, v1)
	}
	m.TrainingID = "r2"
	v2, _ := ps.SaveModel(ctx, m)
	for _, v := range []int64{v1, v2} {
		if err := ps.PromoteModel(ctx, "acme", v); err != nil {
			t.Fatal(err)
		}
	}
	if a, err := ps.ActiveModel(ctx, "acme"); err != nil || a.Version != v2 || a.Metrics.HoldoutMAE != 0.5 || !a.Promoted {
		t.Errorf("active %+v, %v", a, err)
	}
	if old, _ := ps.Model(ctx, "acme", v1); old.Promoted {
		t.Errorf("v1 still promoted")
	}
	if err := ps.PromoteModel(ctx, "globex", v1); !errors.Is(err, store.ErrNoProfileModel) {
		t.Errorf("promoting another tenant's version: %v", err)
	}

	def, created, err := ps.SaveSegment(ctx, "acme", store.SegmentDef{SegmentID: "vip", Name: "VIP", Rule: "ltv > 100"})
	if err != nil || !created || def.CreatedAt.IsZero() {
		t.Fatalf("create segment: %+v %v %v", def, created, err)
	}
	if _, created, _ := ps.SaveSegment(ctx, "acme", store.SegmentDef{SegmentID: "vip", Name: "VIP", Rule: "ltv > 200"}); created {
		t.Errorf("replacing a segment created it")
	}
	at := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	ch := []store.MemberChange{{SegmentID: "vip", CustomerID: "a", Enter: true}, {SegmentID: "vip", CustomerID: "b", Enter: true}}
	for range 2 {
		if err := ps.ApplyMembers(ctx, "acme", ch, at); err != nil {
			t.Fatal(err)
		}
	}
	if err := ps.ApplyMembers(ctx, "acme", []store.MemberChange{{SegmentID: "vip", CustomerID: "a"}}, at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	members, err := ps.Members(ctx, "acme", "vip", "", 10)
	if err != nil || len(members) != 1 || members[0].CustomerID != "b" || !members[0].Since.Equal(at) {
		t.Errorf("members %+v, %v", members, err)
	}
	if got, _ := ps.MembershipsIn(ctx, "acme", "", "z"); len(got) != 1 || !got["b"]["vip"] {
		t.Errorf("memberships %+v", got)
	}
	if _, err := ps.Members(ctx, "globex", "vip", "", 10); touchpoint.KindOf(err) != touchpoint.ENotFound {
		t.Errorf("another tenant's members: %v", err)
	}
	if err := ps.DeleteSegment(ctx, "acme", "vip"); err != nil {
		t.Fatal(err)
	}
	if err := ps.DeleteSegment(ctx, "acme", "vip"); touchpoint.KindOf(err) != touchpoint.ENotFound {
		t.Errorf("deleting again: %v", err)
	}
}
