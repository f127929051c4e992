package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/touchpoint/touchpoint/aggregate"
	"github.com/touchpoint/touchpoint/attribution"
	"github.com/touchpoint/touchpoint/internal/temporaltest"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
	"github.com/touchpoint/touchpoint/workflows"
)

// seedSynthJourneys stores the synthetic journeys as journey rows of tenant, each
// journey its own person (one device id), with a conversion event for the converting
// ones.
func seedSynthJourneys(t testing.TB, pool *pgxpool.Pool, tenant string, journeys []attribution.Journey) {
	t.Helper()
	ctx := context.Background()
	today := time.Now().UTC().Truncate(24 * time.Hour)
	if err := (store.Archive{DB: pool}).EnsurePartitions(ctx, today, 0); err != nil {
		t.Fatal(err)
	}
	rows := &store.JourneyRows{}
	for i, j := range journeys {
		who := store.Who{DeviceID: fmt.Sprintf("dev-%d", i), UserID: fmt.Sprintf("user-%d", i)}
		for k, tc := range j.Touches {
			rows.Touchpoints = append(rows.Touchpoints, store.Touchpoint{EventID: fmt.Sprintf("t-%d-%d", i, k), OccurredAt: tc.At, Who: who,
				Channel: tc.Channel, InteractionType: "click", CampaignID: tc.CampaignID})
		}
		if j.Converted {
			rows.Conversions = append(rows.Conversions, store.Conversion{EventID: fmt.Sprintf("c-%d", i), OccurredAt: j.ConvertedAt, Who: who,
				Channel: "web", ValueMicros: j.ValueMicros, Currency: j.Currency, AttributionWeight: 1})
		}
	}
	n := int64(len(rows.Touchpoints) + len(rows.Conversions))
	err := (store.Batches{DB: pool, Group: "training-seed"}).Apply(ctx, "seed", today, []int32{0}, func(map[int32]int64) ([]store.PartitionBatch, *store.PreparedDeltas) {
		return []store.PartitionBatch{{Topic: "seed", FirstOffset: 0, LastOffset: n - 1,
			Journeys: map[string]*store.JourneyRows{tenant: rows}}}, store.PrepareDeltas(aggregate.New())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestModelTrainingStoresAndPromotes trains a tenant's models on the real worker,
// Temporal server and Postgres from synthetic journeys whose channels have known
// effects: both versions are stored with their held-out metrics and promoted, as
// none was active; a second training on the same data does not beat them and
// promotes nothing.
func TestModelTrainingStoresAndPromotes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool := storetest.Postgres(t)
	c := temporaltest.Client(t)
	tenant := "training-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 10)
	end := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	synth := attribution.Synth{Channels: []attribution.SynthChannel{
		{Name: "search", Reach: 0.4, LogOdds: 3}, {Name: "email", Reach: 0.4, LogOdds: 2}, {Name: "display", Reach: 0.4, LogOdds: 1},
		{Name: "social", Reach: 0.4, LogOdds: 0}}, BaseLogOdds: -3, Campaigns: 2, MaxTouches: 2, End: end, Seed: 1}
	seedSynthJourneys(t, pool, tenant, synth.Journeys(6000))

	w := attributionWorker(c, pool)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	in := workflows.TrainingInput{Tenant: tenant, From: end.AddDate(0, 0, -90), To: end}
	train := func() workflows.TrainingResult {
		t.Helper()
		run, err := c.ExecuteWorkflow(ctx, workflows.TrainingStartOptions(in), workflows.AttributionModelTraining, in)
		if err != nil {
			t.Fatal(err)
		}
		if run.GetID() != workflows.TrainingWorkflowID(tenant, in.From, in.To) {
			t.Errorf("workflow id %s", run.GetID())
		}
		var res workflows.TrainingResult
		if err := run.Get(ctx, &res); err != nil {
			t.Fatal(err)
		}
		return res
	}
	first := train()
	if len(first.Models) != 2 {
		t.Fatalf("trained %+v", first)
	}
	for _, m := range first.Models {
		if !m.Promoted || m.Previous != 0 || m.HeldOut < 600 || m.Train < 3*m.HeldOut {
			t.Errorf("%s: %+v, want promoted over none with a 80/20 split", m.Kind, m)
		}
		t.Logf("%s v%d: %d train, %d held out, AUC %.3f, log-loss %.3f", m.Kind, m.Version, m.Train, m.HeldOut, m.AUC, m.LogLoss)
	}
	models := store.Models{DB: pool}
	for _, kind := range []string{"markov", "shapley"} {
		v, err := models.Active(ctx, tenant, kind)
		if err != nil {
			t.Fatal(err)
		}
		if v.Journeys < 5000 || v.Metrics.BaseRateLogLoss <= 0 || len(v.Model) == 0 {
			t.Errorf("stored %s version %+v", kind, v)
		}
		if kind == "shapley" {
			if v.Metrics.AUC < 0.75 || v.Metrics.LogLoss >= v.Metrics.BaseRateLogLoss {
				t.Errorf("shapley held-out metrics %+v: want AUC ≥ 0.75 and better than the base rate", v.Metrics)
			}
			var p attribution.ShapleyParams
			if err := json.Unmarshal(v.Model, &p); err != nil {
				t.Fatal(err)
			}
			sh, err := attribution.ShapleyFromParams(p)
			if err != nil {
				t.Fatal(err)
			}
			if e := sh.Effects(); !(e["search"] > e["email"] && e["email"] > e["display"] && e["display"] > e["social"]) {
				t.Errorf("stored effects %v do not rank the channels by their true effects", e)
			}
		}
	}
	second := train()
	for _, m := range second.Models {
		if m.Promoted || m.Previous == 0 {
			t.Errorf("retraining on the same data: %+v, want kept the active version", m)
		}
	}
	list, err := models.List(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	active := 0
	for _, v := range list {
		if v.Active {
			active++
		}
	}
	if len(list) != 4 || active != 2 {
		t.Errorf("%d versions, %d active: want 4 and 2", len(list), active)
	}
}
