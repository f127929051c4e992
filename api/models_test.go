package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/touchpoint/touchpoint/api"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
	"github.com/touchpoint/touchpoint/workflows"
)

// fakeTrainer is a Workflows that records the trainings it is asked to start.
type fakeTrainer struct{ started []workflows.TrainingInput }

func (f *fakeTrainer) StartAttribution(context.Context, workflows.AttributionRecomputeInput) (string, string, error) {
	return "", "", nil
}

func (f *fakeTrainer) AttributionProgress(context.Context, string) (workflows.AttributionProgress, error) {
	return workflows.AttributionProgress{}, nil
}

func (f *fakeTrainer) StartTraining(_ context.Context, in workflows.TrainingInput) (string, string, error) {
	f.started = append(f.started, in)
	return workflows.TrainingWorkflowID(in.Tenant, in.From, in.To), "run-1", nil
}

// TestModelsTrainAndList: POST /v1/attribution/models/train starts the tenant's
// training under its idempotency key and answers 202; GET /v1/attribution/models lists
// the tenant's versions, newest first, with their metrics and the active one of each
// kind, and nothing of another tenant's.
func TestModelsTrainAndList(t *testing.T) {
	ctx := context.Background()
	pool := storetest.Postgres(t)
	tenants := store.Tenants{DB: pool}
	if _, err := tenants.Create(ctx, "acme", ""); err != nil {
		t.Fatal(err)
	}
	_, key, err := tenants.CreateKey(ctx, "acme", "test", store.AllScopes)
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	models := store.Models{DB: pool}
	var versions []int64
	for i, v := range []struct {
		tenant, kind string
		auc          float64
	}{{"acme", "markov", 0.7}, {"acme", "shapley", 0.85}, {"acme", "markov", 0.72}, {"globex", "markov", 0.9}} {
		n, err := models.Save(ctx, store.ModelVersion{Tenant: v.tenant, Kind: v.kind, TrainingID: "run" + string(rune('a'+i)), From: from, To: from.AddDate(0, 1, 0),
			Journeys: 1000, Metrics: store.ModelMetrics{AUC: v.auc, LogLoss: 0.4, BaseRateLogLoss: 0.5}, Model: json.RawMessage(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		if err := models.Promote(ctx, v.tenant, n); err != nil {
			t.Fatal(err)
		}
		versions = append(versions, n)
	}
	trainer := &fakeTrainer{}
	srv := httptest.NewServer(api.New(api.Options{TenantRate: 1e6, TenantBurst: 1e6, MaxBodyBytes: 1 << 20},
		api.Deps{Tenants: tenants, Workflows: trainer, Attribution: store.Attribution{DB: pool}}))
	defer srv.Close()
	call := func(method, path, body string, out any) int {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		_ = json.NewDecoder(res.Body).Decode(out)
		return res.StatusCode
	}

	var started struct {
		WorkflowID string `json:"workflow_id"`
	}
	if status := call("POST", "/v1/attribution/models/train", `{"from":"2026-01-01T00:00:00Z","to":"2026-02-01T00:00:00Z"}`, &started); status != http.StatusAccepted ||
		started.WorkflowID != "training/acme/20260101T000000Z-20260201T000000Z" {
		t.Errorf("train: %d %+v", status, started)
	}
	if len(trainer.started) != 1 || trainer.started[0].Tenant != "acme" || !trainer.started[0].From.Equal(from) {
		t.Errorf("started %+v", trainer.started)
	}
	var bad map[string]any
	if status := call("POST", "/v1/attribution/models/train", `{"from":"2026-02-01T00:00:00Z","to":"2026-01-01T00:00:00Z"}`, &bad); status != http.StatusBadRequest {
		t.Errorf("reversed range: %d %v", status, bad)
	}

	var list struct {
		Active   map[string]int64 `json:"active"`
		Versions []struct {
			Version int64              `json:"version"`
			Kind    string             `json:"kind"`
			Active  bool               `json:"active"`
			Metrics store.ModelMetrics `json:"metrics"`
			Model   json.RawMessage    `json:"model"`
		} `json:"versions"`
	}
	if status := call("GET", "/v1/attribution/models", "", &list); status != http.StatusOK {
		t.Fatalf("list: %d", status)
	}
	if len(list.Versions) != 3 || list.Versions[0].Version != versions[2] || list.Versions[0].Metrics.AUC != 0.72 || list.Versions[0].Model != nil {
		t.Errorf("versions %+v", list.Versions)
	}
	if list.Active["markov"] != versions[2] || list.Active["shapley"] != versions[1] || len(list.Active) != 2 {
		t.Errorf("active %v, want markov %d and shapley %d", list.Active, versions[2], versions[1])
	}
}

// TestModelsTrainUnavailable: without workflows that can train, training answers 503.
func TestModelsTrainUnavailable(t *testing.T) {
	ctx := context.Background()
	pool := storetest.Postgres(t)
	tenants := store.Tenants{DB: pool}
	if _, err := tenants.Create(ctx, "acme", ""); err != nil {
		t.Fatal(err)
	}
	_, key, err := tenants.CreateKey(ctx, "acme", "test", store.AllScopes)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.New(api.Options{TenantRate: 1e6, TenantBurst: 1e6, MaxBodyBytes: 1 << 20}, api.Deps{Tenants: tenants}))
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/v1/attribution/models/train", strings.NewReader(`{"from":"2026-01-01T00:00:00Z","to":"2026-02-01T00:00:00Z"}`))
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("train without workflows: %d, want 503", res.StatusCode)
	}
}
