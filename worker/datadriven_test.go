package worker_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/attribution"
	"github.com/touchpoint/touchpoint/internal/temporaltest"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
	"github.com/touchpoint/touchpoint/workflows"
)

// TestRecomputeWithTrainedModels: a recompute asking for "shapley" before any
// training fails with a clear message; once the models are trained, it credits every
// converting journey under "shapley" with credits summing to the conversion's value,
// with the active version, and a recompute naming no model credits the five
// heuristics and both data-driven models. A chunk resumed from a heartbeat credits
// with the versions the heartbeat names, even after another one was promoted.
func TestRecomputeWithTrainedModels(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool := storetest.Postgres(t)
	c := temporaltest.Client(t)
	tenant := "datadriven-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 10)
	end := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	synth := attribution.Synth{Channels: []attribution.SynthChannel{
		{Name: "search", Reach: 0.4, LogOdds: 3}, {Name: "email", Reach: 0.4, LogOdds: 2}, {Name: "display", Reach: 0.4, LogOdds: 1},
		{Name: "social", Reach: 0.4, LogOdds: 0}}, BaseLogOdds: -3, Campaigns: 2, MaxTouches: 2, End: end, Seed: 2}
	journeys := synth.Journeys(3000)
	seedSynthJourneys(t, pool, tenant, journeys)
	// The converting journeys with touches are credited; the others convert too.
	converted := 0
	values := make(map[string]int64)
	for i, j := range journeys {
		if j.Converted {
			converted++
		}
		if j.Converted && len(j.Touches) > 0 {
			values[fmt.Sprintf("c-%d", i)] = j.ValueMicros
		}
	}

	w := attributionWorker(c, pool)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	recompute := func(models ...string) (workflows.AttributionProgress, error) {
		in := workflows.AttributionRecomputeInput{Tenant: tenant, From: end.AddDate(0, 0, -90), To: end, Models: models, ChunkDays: 30}
		var p workflows.AttributionProgress
		return p, mustRun(ctx, t, c, in).Get(ctx, &p)
	}

	if _, err := recompute("shapley"); err == nil || !strings.Contains(err.Error(), "no active shapley model") {
		t.Fatalf("recompute with shapley before training: %v, want no active model", err)
	}

	tin := workflows.TrainingInput{Tenant: tenant, From: end.AddDate(0, 0, -90), To: end}
	run, err := c.ExecuteWorkflow(ctx, workflows.TrainingStartOptions(tin), workflows.AttributionModelTraining, tin)
	if err != nil {
		t.Fatal(err)
	}
	var trained workflows.TrainingResult
	if err := run.Get(ctx, &trained); err != nil {
		t.Fatal(err)
	}
	active, err := store.Models{DB: pool}.Active(ctx, tenant, "shapley")
	if err != nil {
		t.Fatalf("no active shapley version after training %+v: %v", trained, err)
	}

	p, err := recompute("shapley")
	if err != nil {
		t.Fatal(err)
	}
	sums := make(map[string]int64)
	for _, cr := range credits(t, pool, tenant) {
		if cr.Model != "shapley" {
			t.Fatalf("credit under %s, asked for shapley only", cr.Model)
		}
		sums[cr.Conversion] += cr.Micros
	}
	if p.Conversions != converted || len(sums) != len(values) {
		t.Fatalf("%d conversions recomputed, %d credited, want %d and %d", p.Conversions, len(sums), converted, len(values))
	}
	for id, v := range values {
		if sums[id] != v {
			t.Errorf("conversion %s: shapley credits sum to %d, want %d", id, sums[id], v)
		}
	}
	if p.ShapleyVersion != active.Version || p.MarkovVersion != 0 {
		t.Errorf("recompute credited with markov %d and shapley %d, want shapley %d only", p.MarkovVersion, p.ShapleyVersion, active.Version)
	}
	t.Logf("shapley version %d credited %d conversions", active.Version, len(sums))

	if _, err := recompute(); err != nil {
		t.Fatal(err)
	}
	var models []string
	for _, cr := range credits(t, pool, tenant) {
		if !slices.Contains(models, cr.Model) {
			models = append(models, cr.Model)
		}
	}
	slices.Sort(models)
	want := []string{"first_touch", "last_touch", "linear", "markov", "position_based", "shapley", "time_decay"}
	if !slices.Equal(models, want) {
		t.Errorf("default recompute credited %v, want %v", models, want)
	}

	// Promote a copy of the shapley version, then resume a chunk whose heartbeat
	// names the version active before.
	versions := store.Models{DB: pool}
	newer, err := versions.Save(ctx, store.ModelVersion{Tenant: tenant, Kind: "shapley", TrainingID: "copy", From: active.From, To: active.To,
		Journeys: active.Journeys, Metrics: active.Metrics, Model: active.Model})
	if err != nil {
		t.Fatal(err)
	}
	if err := versions.Promote(ctx, tenant, newer); err != nil {
		t.Fatal(err)
	}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	a := &activities.Attribution{Journeys: store.Journeys{DB: pool}, Credits: store.Attribution{DB: pool}}
	env.RegisterActivity(a)
	from := end.AddDate(0, 0, -10)
	env.SetHeartbeatDetails(struct {
		Next   time.Time
		Result activities.RecomputeChunkResult
	}{from.AddDate(0, 0, 5), activities.RecomputeChunkResult{Days: 5, Versions: map[string]int64{"shapley": active.Version}}})
	val, err := env.ExecuteActivity(a.RecomputeChunk, activities.RecomputeChunkInput{Tenant: tenant, From: from, To: end, Models: []string{"shapley"}})
	if err != nil {
		t.Fatal(err)
	}
	var res activities.RecomputeChunkResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	if res.Days != 10 || !res.ResumedFrom.Equal(from.AddDate(0, 0, 5)) || res.Versions["shapley"] != active.Version || len(res.Versions) != 1 {
		t.Errorf("resumed chunk %+v, want 10 days with shapley version %d (not %d)", res, active.Version, newer)
	}
}
