package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
)

// TestModelsPromoteKeepsOneActive: versions save idempotently per training run;
// promoting one makes the previous active version of its kind inactive and leaves the
// other kind and other tenants alone.
func TestModelsPromoteKeepsOneActive(t *testing.T) {
	ctx := context.Background()
	m := store.Models{DB: storetest.Postgres(t)}
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	save := func(tenant, kind, run string, auc float64) int64 {
		t.Helper()
		v, err := m.Save(ctx, store.ModelVersion{Tenant: tenant, Kind: kind, TrainingID: run, From: from, To: from.AddDate(0, 0, 7),
			Journeys: 100, Metrics: store.ModelMetrics{AUC: auc, LogLoss: 0.4, BaseRateLogLoss: 0.6}, Model: json.RawMessage(`{"channels":["a"]}`)})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if _, err := m.Active(ctx, "acme", "markov"); !errors.Is(err, store.ErrNoModel) {
		t.Fatalf("active before any: %v, want ErrNoModel", err)
	}
	m1, s1 := save("acme", "markov", "run1", 0.7), save("acme", "shapley", "run1", 0.8)
	if again := save("acme", "markov", "run1", 0.7); again != m1 {
		t.Errorf("a retried save stored version %d, want %d again", again, m1)
	}
	other := save("globex", "markov", "run1", 0.9)
	for _, v := range []struct {
		tenant string
		v      int64
	}{{"acme", m1}, {"acme", s1}, {"globex", other}} {
		if err := m.Promote(ctx, v.tenant, v.v); err != nil {
			t.Fatal(err)
		}
	}
	m2 := save("acme", "markov", "run2", 0.75)
	if err := m.Promote(ctx, "acme", m2); err != nil {
		t.Fatal(err)
	}
	if err := m.Promote(ctx, "acme", 999_999); !errors.Is(err, store.ErrNoModel) {
		t.Errorf("promoting a missing version: %v", err)
	}
	list, err := m.List(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	active := map[int64]bool{}
	for _, v := range list {
		active[v.Version] = v.Active
		if v.Model != nil {
			t.Errorf("list returned parameters of version %d", v.Version)
		}
	}
	if len(list) != 3 || list[0].Version != m2 || !active[m2] || active[m1] || !active[s1] {
		t.Fatalf("versions %+v: want 3 with %d and %d active", list, m2, s1)
	}
	got, err := m.Active(ctx, "acme", "markov")
	if err != nil || got.Version != m2 || got.Metrics.AUC != 0.75 || string(got.Model) != `{"channels": ["a"]}` {
		t.Errorf("active markov %+v (%s), %v", got, got.Model, err)
	}
	if g, err := m.Active(ctx, "globex", "markov"); err != nil || g.Version != other {
		t.Errorf("globex's active markov %+v, %v", g, err)
	}
}
