package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/touchpoint/touchpoint"
	"github.com/touchpoint/touchpoint/api"
	"github.com/touchpoint/touchpoint/campaign"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
	"github.com/touchpoint/touchpoint/workflows"
)

// campaignFake stands in for Temporal: it records starts and signals and knows which
// campaigns run. The workflow itself is tested in workflows/ and worker/.
type campaignFake struct {
	mu      sync.Mutex
	running map[string]bool
	signals []string
	args    []any
}

func (f *campaignFake) StartCampaign(_ context.Context, in workflows.CampaignInput) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := workflows.CampaignWorkflowID(in.Tenant, in.Config.CampaignID)
	if f.running[id] {
		return "", touchpoint.Errorf(touchpoint.EConflict, "campaign %s is already running", in.Config.CampaignID)
	}
	f.running[id] = true
	return id, nil
}

func (f *campaignFake) SignalCampaign(_ context.Context, tenant, id, signal string, arg any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.running[workflows.CampaignWorkflowID(tenant, id)] {
		return touchpoint.Errorf(touchpoint.EConflict, "campaign %s is not running", id)
	}
	f.signals, f.args = append(f.signals, signal), append(f.args, arg)
	return nil
}

func (f *campaignFake) CampaignState(_ context.Context, tenant, id string) (campaign.State, error) {
	return campaign.State{Tenant: tenant, Status: campaign.Running, Evaluations: 3}, nil
}

func launchBody(id string) map[string]any {
	return map[string]any{"campaign_id": id, "name": "Spring", "channel": "search", "target_audience": "returning_30d",
		"budget": 5000, "duration": "P30D", "evaluation_interval": "P1D", "creative_ids": []string{"cr-a", "cr-b"},
		"target_cpa": 20, "ctr_floor": 0.01, "roas_floor": 2}
}

func with(b map[string]any, k string, v any) map[string]any {
	out := map[string]any{}
	for key, val := range b {
		out[key] = val
	}
	if v == nil {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

// TestCampaignLaunchValidatesAndSignals: a bad launch configuration is 400 naming
// the field; a good one records the campaign and starts its workflow (202); a second
// launch of the id is 409; list and inspect see only the tenant's campaigns; signals
// are validated, forwarded, 404 for another tenant's campaign and 409 once it ended.
func TestCampaignLaunchValidatesAndSignals(t *testing.T) {
	ctx := context.Background()
	pool := storetest.Postgres(t)
	tenants := store.Tenants{DB: pool}
	suffix := strconv.FormatInt(time.Now().UnixNano()%1e9, 10)
	acme, globex := "acme-"+suffix, "globex-"+suffix
	keys := map[string]string{}
	for _, id := range []string{acme, globex} {
		if _, err := tenants.Create(ctx, id, ""); err != nil {
			t.Fatal(err)
		}
		_, k, err := tenants.CreateKey(ctx, id, "test", store.AllScopes)
		if err != nil {
			t.Fatal(err)
		}
		keys[id] = k
	}
	fake := &campaignFake{running: map[string]bool{}}
	campaigns := store.Campaigns{DB: pool}
	srv := httptest.NewServer(api.New(api.Options{TenantRate: 1e6, TenantBurst: 1e6, MaxBodyBytes: 1 << 20}, api.Deps{
		Tenants: tenants, Campaigns: api.CampaignDeps{Store: campaigns, Workflows: fake}}))
	defer srv.Close()
	s := &syncStack{srv: srv}
	good := launchBody("cmp-1")

	for name, c := range map[string]struct {
		body any
		want string
	}{
		"unknown field":     {with(good, "bid", 2), "unknown field"},
		"no id":             {with(good, "campaign_id", nil), "campaign_id: is required"},
		"no name":           {with(good, "name", nil), "name: is required"},
		"bad channel":       {with(good, "channel", "radio"), "channel: must be one of"},
		"zero budget":       {with(good, "budget", 0), "budget: must be a positive number"},
		"bad duration":      {with(good, "duration", "30 days"), "duration: must be an ISO 8601 duration"},
		"no creatives":      {with(good, "creative_ids", []string{}), "creative_ids: must name at least one creative"},
		"repeated creative": {with(good, "creative_ids", []string{"a", "a"}), "creative_ids: must not repeat"},
		"ctr floor above 1": {with(good, "ctr_floor", 1.5), "ctr_floor: must be a fraction"},
		"negative cpa":      {with(good, "target_cpa", -1), "target_cpa: must be a finite number"},
		"interval too long": {with(good, "evaluation_interval", "P40D"), "evaluation_interval: must not be longer than the duration"},
	} {
		code, resp := s.call(t, "POST", "/v1/campaigns", keys[acme], c.body)
		if code != http.StatusBadRequest || !strings.Contains(resp, c.want) {
			t.Errorf("%s: %d %s, want 400 with %q", name, code, resp, c.want)
		}
	}
	if len(fake.running) != 0 {
		t.Fatalf("an invalid launch started a workflow: %v", fake.running)
	}

	if code, resp := s.call(t, "POST", "/v1/campaigns", keys[acme], good); code != http.StatusAccepted ||
		!strings.Contains(resp, `"workflow_id":"campaign/`+acme+`/cmp-1"`) {
		t.Fatalf("launch: %d %s", code, resp)
	}
	if code, resp := s.call(t, "POST", "/v1/campaigns", keys[acme], good); code != http.StatusConflict {
		t.Errorf("second launch: %d %s", code, resp)
	}
	// Another tenant's campaign of the same id is its own.
	if code, resp := s.call(t, "POST", "/v1/campaigns", keys[globex], launchBody("cmp-1")); code != http.StatusAccepted {
		t.Errorf("globex's launch: %d %s", code, resp)
	}

	code, resp := s.call(t, "GET", "/v1/campaigns", keys[acme], nil)
	var list struct{ Campaigns []store.Campaign }
	_ = json.Unmarshal([]byte(resp), &list)
	if code != http.StatusOK || len(list.Campaigns) != 1 || list.Campaigns[0].CampaignID != "cmp-1" || list.Campaigns[0].LaunchedBy == "" {
		t.Errorf("list: %d %s", code, resp)
	}
	if code, resp := s.call(t, "GET", "/v1/campaigns/cmp-1", keys[acme], nil); code != http.StatusOK ||
		!strings.Contains(resp, `"decisions":[]`) || !strings.Contains(resp, `"evaluations":3`) {
		t.Errorf("inspect: %d %s", code, resp)
	}
	if code, _ := s.call(t, "GET", "/v1/campaigns/cmp-2", keys[acme], nil); code != http.StatusNotFound {
		t.Errorf("inspect unknown: %d", code)
	}

	sig := "/v1/campaigns/cmp-1/signal"
	for name, c := range map[string]struct {
		body any
		want string
	}{
		"unknown signal":    {map[string]any{"signal": "stop"}, "signal must be pause, resume, terminate or optimize"},
		"optimize, nothing": {map[string]any{"signal": "optimize", "reason": "x"}, "optimize needs changes"},
		"empty changes":     {map[string]any{"signal": "optimize", "changes": map[string]any{}}, "must contain at least one change"},
		"bad bid":           {map[string]any{"signal": "optimize", "changes": map[string]any{"bid_adjustment": -2}}, "bid_adjustment"},
		"foreign creative":  {map[string]any{"signal": "optimize", "changes": map[string]any{"creative_rotation": []string{"cr-z"}}}, "not a creative of the campaign"},
	} {
		if code, resp := s.call(t, "POST", sig, keys[acme], c.body); code != http.StatusBadRequest || !strings.Contains(resp, c.want) {
			t.Errorf("%s: %d %s, want 400 with %q", name, code, resp, c.want)
		}
	}
	for _, body := range []map[string]any{
		{"signal": "pause"}, {"signal": "resume"},
		{"signal": "optimize", "reason": "holiday", "changes": map[string]any{"bid_adjustment": 0.2, "creative_rotation": []string{"cr-b"}}},
		{"signal": "terminate", "reason": "done"},
	} {
		if code, resp := s.call(t, "POST", sig, keys[acme], body); code != http.StatusAccepted {
			t.Errorf("%v: %d %s", body, code, resp)
		}
	}
	if strings.Join(fake.signals, ",") != "pause,resume,optimize,terminate" {
		t.Errorf("signals sent: %v", fake.signals)
	}
	if o, ok := fake.args[2].(workflows.OptimizeSignal); !ok || o.Reason != "holiday" || *o.Changes.BidAdjustment != 0.2 {
		t.Errorf("optimize signal: %+v", fake.args[2])
	}
	if code, _ := s.call(t, "POST", "/v1/campaigns/cmp-9/signal", keys[globex], map[string]any{"signal": "pause"}); code != http.StatusNotFound {
		t.Errorf("signal to an unknown campaign: %d", code)
	}
	if err := campaigns.Save(ctx, acme, "cmp-1", store.CampaignUpdate{Status: "ended", EndedAt: time.Now(), EndReason: "terminated"}); err != nil {
		t.Fatal(err)
	}
	if code, resp := s.call(t, "POST", sig, keys[acme], map[string]any{"signal": "pause"}); code != http.StatusConflict {
		t.Errorf("signal to an ended campaign: %d %s", code, resp)
	}
}

// The isolation test's stand-in serves campaigns too, recording the tenant of every
// call (tenantOfID reads it from the workflow id).

func (f *isoWorkflows) StartCampaign(_ context.Context, in workflows.CampaignInput) (string, error) {
	f.record(in.Tenant)
	return workflows.CampaignWorkflowID(in.Tenant, in.Config.CampaignID), nil
}

func (f *isoWorkflows) SignalCampaign(_ context.Context, tenant, _, _ string, _ any) error {
	f.record(tenant)
	return nil
}

func (f *isoWorkflows) CampaignState(_ context.Context, tenant, id string) (campaign.State, error) {
	f.record(tenant)
	return campaign.State{}, touchpoint.Errorf(touchpoint.ENotFound, "no workflow for campaign %s", id)
}

// seedCampaign records a launched campaign of tenant's, as the API does.
func (e *isolationEnv) seedCampaign(t *testing.T, tenant, id string) {
	t.Helper()
	raw, _ := json.Marshal(launchBody(id))
	if _, _, err := (store.Campaigns{DB: e.tenants.DB}).Create(context.Background(), tenant, id, raw, "test", time.Now()); err != nil {
		t.Fatal(err)
	}
}
