package worker_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"

	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/aggregate"
	"github.com/touchpoint/touchpoint/internal/temporaltest"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
	"github.com/touchpoint/touchpoint/worker"
	"github.com/touchpoint/touchpoint/workflows"
)

var recomputeFrom = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)

// seedJourneys stores, for each tenant, the same perDay conversions on each of days
// days from recomputeFrom, each by its own person: two touches on a phone (the second
// after logging in, which links the phone to the user), one on a laptop and the
// conversion on the laptop, spread over the 20 days before it. It writes through the
// consumer's own batch path, batchSize events per journey row.
func seedJourneys(t testing.TB, pool *pgxpool.Pool, tenants []string, days, perDay int) {
	t.Helper()
	ctx := context.Background()
	today := time.Now().UTC().Truncate(24 * time.Hour)
	if err := (store.Archive{DB: pool}).EnsurePartitions(ctx, today, 0); err != nil {
		t.Fatal(err)
	}
	const batchSize = 20_000
	batches := store.Batches{DB: pool, Group: "attribution-seed"}
	var offset int64
	write := func(tenant string, rows *store.JourneyRows) {
		n := int64(len(rows.Touchpoints) + len(rows.Conversions))
		err := batches.Apply(ctx, "seed", today, []int32{0}, func(map[int32]int64) ([]store.PartitionBatch, *store.PreparedDeltas) {
			return []store.PartitionBatch{{Topic: "seed", FirstOffset: offset, LastOffset: offset + n - 1,
				Journeys: map[string]*store.JourneyRows{tenant: rows}}}, store.PrepareDeltas(aggregate.New())
		})
		if err != nil {
			t.Fatal(err)
		}
		offset += n
	}
	channels := []string{"email", "social", "search", "display", "video", "native"}
	for _, tenant := range tenants {
		rng := rand.New(rand.NewPCG(7, 11)) // the same data for every tenant
		rows := &store.JourneyRows{}
		for i := range days * perDay {
			u := strconv.Itoa(i)
			converted := recomputeFrom.Add(time.Duration(i/perDay)*24*time.Hour + time.Duration(rng.Int64N(int64(24*time.Hour))))
			phone := store.Who{DeviceID: "phone-" + u, AnonymousID: "anon-" + u}
			loggedIn := store.Who{DeviceID: "phone-" + u, UserID: "user-" + u}
			laptop := store.Who{DeviceID: "laptop-" + u, UserID: "user-" + u}
			for k, who := range []store.Who{phone, loggedIn, laptop} {
				ch := channels[rng.IntN(len(channels))]
				at := converted.Add(-time.Duration(rng.Int64N(int64(20 * 24 * time.Hour))))
				rows.Touchpoints = append(rows.Touchpoints, store.Touchpoint{EventID: fmt.Sprintf("t-%s-%d", u, k), OccurredAt: at, Who: who,
					Channel: ch, InteractionType: "click", CampaignID: ch + "-" + strconv.Itoa(rng.IntN(3))})
			}
			rows.Conversions = append(rows.Conversions, store.Conversion{EventID: "c-" + u, OccurredAt: converted, Who: laptop,
				Channel: "search", ValueMicros: 1 + rng.Int64N(500_000_000), Currency: []string{"EUR", "USD"}[i%2], AttributionWeight: 1})
			if len(rows.Touchpoints)+len(rows.Conversions) >= batchSize {
				write(tenant, rows)
				rows = &store.JourneyRows{}
			}
		}
		if len(rows.Conversions) > 0 {
			write(tenant, rows)
		}
	}
}

func attributionWorker(c client.Client, pool *pgxpool.Pool) interface {
	Start() error
	Stop()
} {
	return worker.New(c, worker.Deps{
		Archive:     &activities.Archive{Store: store.Archive{DB: pool}, Aggregates: store.Aggregates{DB: pool}},
		Attribution: &activities.Attribution{Journeys: store.Journeys{DB: pool}, Credits: store.Attribution{DB: pool}},
	})
}

type storedCredit struct {
	Model, Conversion string
	At                time.Time
	Channel, Campaign string
	Currency          string
	Micros            int64
	Share             float64
}

func credits(t *testing.T, pool *pgxpool.Pool, tenant string) []storedCredit {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT model, conversion_event_id, converted_at, channel, campaign_id, currency, value_micros, share
		FROM attribution_credits WHERE tenant_id = $1 ORDER BY model, conversion_event_id, channel, campaign_id`, tenant)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[storedCredit])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRecomputeSurvivesAWorkerCrash runs a recompute on the real worker against a real
// Temporal server and Postgres, stops the worker once a few days are written, starts
// a new one, and checks that the workflow completes, that its activity resumed from
// its heartbeat, and that the credits equal those of an uninterrupted run over the
// same data under another tenant.
func TestRecomputeSurvivesAWorkerCrash(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pool := storetest.Postgres(t)
	c := temporaltest.Client(t)
	suffix := strconv.FormatInt(time.Now().UnixNano()%1e9, 10) // the dev server may be shared
	crashed, reference := "crashed-"+suffix, "reference-"+suffix
	const days, perDay = 14, 2500
	seedJourneys(t, pool, []string{crashed, reference}, days, perDay)
	input := func(tenant string) workflows.AttributionRecomputeInput {
		return workflows.AttributionRecomputeInput{Tenant: tenant, From: recomputeFrom, To: recomputeFrom.AddDate(0, 0, days), ChunkDays: 7}
	}

	first := attributionWorker(c, pool)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	run, err := c.ExecuteWorkflow(ctx, workflows.AttributionStartOptions(input(crashed)), workflows.AttributionRecompute, input(crashed))
	if err != nil {
		t.Fatal(err)
	}
	waitForDays(ctx, t, pool, crashed, 3)
	first.Stop()
	var written int
	if err := pool.QueryRow(ctx, `SELECT count(DISTINCT date_trunc('day', converted_at)) FROM attribution_credits WHERE tenant_id = $1`, crashed).Scan(&written); err != nil {
		t.Fatal(err)
	}
	if written >= days {
		t.Fatalf("all %d days were written before the worker stopped: the test needs more data", days)
	}

	second := attributionWorker(c, pool)
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	defer second.Stop()
	var got workflows.AttributionProgress
	if err := run.Get(ctx, &got); err != nil {
		t.Fatal(err)
	}
	if got.Resumed < 1 || !got.Done || got.ChunksDone != 2 || got.Conversions != days*perDay {
		t.Errorf("crashed run's progress %+v: want 2 chunks done, %d conversions, one resumed", got, days*perDay)
	}
	var want workflows.AttributionProgress
	if err := mustRun(ctx, t, c, input(reference)).Get(ctx, &want); err != nil {
		t.Fatal(err)
	}
	if want.Resumed != 0 || want.Credits != got.Credits {
		t.Errorf("reference run %+v, crashed run %+v", want, got)
	}
	a, b := credits(t, pool, crashed), credits(t, pool, reference)
	if len(a) != want.Credits || len(a) < days*perDay*5 {
		t.Fatalf("%d credits stored, the workflow wrote %d, want at least one per conversion and model", len(a), want.Credits)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("the crashed run's %d credits differ from the uninterrupted run's %d", len(a), len(b))
	}
	// Identity resolution stitched the phone to the laptop: three touches of 18
	// (channel, campaign) pairs give linear about 2.8 credits per conversion; the
	// laptop's touch alone would give 1, and the logged-in phone touch 1.9.
	var linear int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM attribution_credits WHERE tenant_id = $1 AND model = 'linear'`, crashed).Scan(&linear); err != nil {
		t.Fatal(err)
	}
	if perConversion := float64(linear) / (days * perDay); perConversion < 2.5 {
		t.Errorf("linear gave %.2f credits per conversion: the phone's touches were not stitched to the laptop", perConversion)
	}
	t.Logf("stopped after %d of %d days; progress %+v", written, days, got)
}

func mustRun(ctx context.Context, t *testing.T, c client.Client, in workflows.AttributionRecomputeInput) client.WorkflowRun {
	t.Helper()
	run, err := c.ExecuteWorkflow(ctx, workflows.AttributionStartOptions(in), workflows.AttributionRecompute, in)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// waitForDays waits until n days of tenant's credits are in Postgres.
func waitForDays(ctx context.Context, t *testing.T, pool *pgxpool.Pool, tenant string, n int) {
	t.Helper()
	for {
		var days int
		if err := pool.QueryRow(ctx, `SELECT count(DISTINCT date_trunc('day', converted_at)) FROM attribution_credits WHERE tenant_id = $1`, tenant).Scan(&days); err != nil {
			t.Fatal(err)
		}
		if days >= n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("only %d days credited", days)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// BenchmarkRecompute measures a recompute of ATTRIBUTION_BENCH_CONVERSIONS (default
// 100,000) conversions, with three touches each, from Postgres and back through the
// real worker and Temporal server; b.N is ignored past the first run's data.
func BenchmarkRecompute(b *testing.B) {
	n := 100_000
	if s := os.Getenv("ATTRIBUTION_BENCH_CONVERSIONS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	const days = 14
	pool := storetest.Postgres(b)
	c := temporaltest.Client(b)
	tenant := "bench-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 10)
	start := time.Now()
	seedJourneys(b, pool, []string{tenant}, days, n/days)
	b.Logf("seeded %d conversions in %v", n/days*days, time.Since(start))
	w := attributionWorker(c, pool)
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	in := workflows.AttributionRecomputeInput{Tenant: tenant, From: recomputeFrom, To: recomputeFrom.AddDate(0, 0, days), ChunkDays: 7}
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		run, err := c.ExecuteWorkflow(ctx, workflows.AttributionStartOptions(in), workflows.AttributionRecompute, in)
		if err != nil {
			b.Fatal(err)
		}
		var p workflows.AttributionProgress
		if err := run.Get(ctx, &p); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(p.Conversions), "conversions/op")
		b.ReportMetric(float64(p.Credits), "credits/op")
	}
}
