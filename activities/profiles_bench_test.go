package activities_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/clv"
	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
)

// counter is a publisher that only counts.
type counter struct{ n atomic.Int64 }

func (c *counter) Publish(_ context.Context, evs []events.Event) error {
	c.n.Add(int64(len(evs)))
	return nil
}

// BenchmarkProfileRefresh is the refresh's scoring path end to end for
// PROFILE_BENCH_CUSTOMERS customers (default 1,000,000) whose summaries are seeded in
// Postgres with COPY: read the summaries in chunks of 10,000, score each customer
// (P(alive), churn, expected purchases, 52-week CLV, engagement), evaluate two
// segments, write the scores with COPY and apply the memberships. The first
// iteration enters every matching customer; run with -benchtime=1x:
//
//	go test ./activities/ -run '^$' -bench BenchmarkProfileRefresh -benchtime=1x
func BenchmarkProfileRefresh(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("PROFILE_BENCH_CUSTOMERS")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	pool := storetest.Postgres(b)
	ps := store.ProfileScores{DB: pool}
	const tenant = "bench"
	asOf := time.Now().UTC().Truncate(time.Hour)
	start := time.Now()
	seedSummaries(b, ctx, pool, tenant, n, asOf)
	if _, err := pool.Exec(ctx, `ANALYZE profile_summaries`); err != nil { // as BuildSummaries does
		b.Fatal(err)
	}
	b.Logf("seeded %d summaries with COPY in %v", n, time.Since(start).Round(time.Millisecond))
	// The published CDNOW fits (FHL 2005): the refresh's cost does not depend on
	// where the parameters came from.
	params := activities.ProfileParams{BGNBD: clv.BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426},
		Spend: clv.GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44}, HasSpend: true}
	blob, _ := json.Marshal(params)
	v, err := ps.SaveModel(ctx, store.ProfileModel{Tenant: tenant, TrainingID: "bench", Params: blob})
	if err != nil {
		b.Fatal(err)
	}
	if err := ps.PromoteModel(ctx, tenant, v); err != nil {
		b.Fatal(err)
	}
	for _, d := range []store.SegmentDef{
		{SegmentID: "at-risk-value", Name: "At-risk value", Rule: "churn_probability > 0.5 and ltv >= 50"},
		{SegmentID: "engaged", Name: "Engaged", Rule: "engagement_score >= 40"},
	} {
		if _, _, err := ps.SaveSegment(ctx, tenant, d); err != nil {
			b.Fatal(err)
		}
	}
	pub := &counter{}
	p := &activities.Profiles{Store: ps, Publisher: pub}
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		prog, err := p.Refresh(ctx, activities.RefreshInput{Tenant: tenant, AsOf: asOf}, activities.RefreshProgress{}, func(activities.RefreshProgress) {})
		if err != nil {
			b.Fatal(err)
		}
		if prog.Customers != n {
			b.Fatalf("refreshed %d customers, want %d", prog.Customers, n)
		}
		el := time.Since(t0)
		b.Logf("refreshed %d customers in %v (%.0f/s): %d chunks, %d entries, %d exits, %d events",
			n, el.Round(time.Millisecond), float64(n)/el.Seconds(), prog.Chunks, prog.Entered, prog.Exited, pub.n.Load())
		b.ReportMetric(float64(n)/el.Seconds(), "customers/s")
	}
}

// seedSummaries COPYs n customers' summaries: random RFM and recent touchpoints.
func seedSummaries(b *testing.B, ctx context.Context, pool interface {
	CopyFrom(context.Context, pgx.Identifier, []string, pgx.CopyFromSource) (int64, error)
}, tenant string, n int, asOf time.Time) {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	k := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if k == n {
			return nil, nil
		}
		k++
		T := 4 + 100*rng.Float64()
		x := float64(rng.IntN(8))
		tx, spend := 0.0, 0.0
		if x > 0 {
			tx, spend = T*rng.Float64(), 5+95*rng.Float64()
		}
		n30 := rng.IntN(6)
		last := asOf.Add(-time.Duration(rng.IntN(60*24)) * time.Hour)
		return []any{tenant, fmt.Sprintf("c%08d", k), x, tx, T, spend, int(x) + 1, spend * (x + 1), last, n30, n30 + rng.IntN(10), 1 + rng.IntN(3), asOf}, nil
	})
	cols := []string{"tenant_id", "customer_id", "x", "t_x", "t_weeks", "mean_spend", "conversions", "revenue", "last_seen",
		"touchpoints_30d", "touchpoints_90d", "channels", "as_of"}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"profile_summaries"}, cols, src); err != nil {
		b.Fatal(err)
	}
}
