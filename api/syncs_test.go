package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/api"
	"github.com/touchpoint/touchpoint/connectors/googleads"
	"github.com/touchpoint/touchpoint/internal/temporaltest"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
	"github.com/touchpoint/touchpoint/worker"
	"github.com/touchpoint/touchpoint/workflows"
)

type syncStack struct {
	srv         *httptest.Server
	tenant, key string
	otherKey    string
	fake        *googleads.Fake
}

// newSyncStack is the API with a real Temporal server and a worker syncing from the
// Google Ads fake at four requests a second, so a sync lasts a few seconds.
func newSyncStack(t *testing.T) *syncStack {
	t.Helper()
	ctx := context.Background()
	pool := storetest.Postgres(t)
	tenants := store.Tenants{DB: pool}
	suffix := strconv.FormatInt(time.Now().UnixNano()%1e9, 10)
	s := &syncStack{tenant: "acme-" + suffix, fake: googleads.NewFake(3)}
	for i, id := range []string{s.tenant, "globex-" + suffix} {
		if _, err := tenants.Create(ctx, id, ""); err != nil {
			t.Fatal(err)
		}
		_, key, err := tenants.CreateKey(ctx, id, "test", store.AllScopes)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			s.key = key
		} else {
			s.otherKey = key
		}
	}
	fakeSrv := httptest.NewServer(s.fake)
	t.Cleanup(fakeSrv.Close)
	conns := store.Connections{DB: pool, Key: store.SecretsKey("api-test-key")}
	c := temporaltest.Client(t)
	w := worker.New(c, worker.Deps{
		Archive: &activities.Archive{},
		Sync: &activities.Sync{Connections: conns, GoogleAdsBaseURL: fakeSrv.URL, GoogleAdsTokenURL: fakeSrv.URL + "/token",
			HTTPClient: fakeSrv.Client(), Limiter: rate.NewLimiter(4, 1), ChunkDays: 1},
	})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	srv := api.New(api.Options{TenantRate: 1e6, TenantBurst: 1e6, MaxBodyBytes: 1 << 20},
		api.Deps{Tenants: tenants, Syncs: api.TemporalSyncs{Client: c}, Connections: conns})
	s.srv = httptest.NewServer(srv)
	t.Cleanup(s.srv.Close)
	return s
}

func (s *syncStack) call(t *testing.T, method, path, key string, body any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.srv.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestConnectionsSyncAndBackfill(t *testing.T) {
	s := newSyncStack(t)
	c := temporaltest.Client(t)
	creds := map[string]string{"developer_token": s.fake.DeveloperToken, "client_id": s.fake.ClientID,
		"client_secret": s.fake.ClientSecret, "refresh_token": s.fake.RefreshToken}
	conn := map[string]any{"connection_id": "ads", "platform": "googleads", "account_id": "1234567890", "credentials": creds}

	if code, body := s.call(t, "POST", "/v1/connections", s.key, map[string]any{"connection_id": "x", "platform": "tiktok",
		"account_id": "1", "credentials": creds}); code != http.StatusBadRequest {
		t.Fatalf("unknown platform: %d %s", code, body)
	}
	code, body := s.call(t, "POST", "/v1/connections", s.key, conn)
	if code != http.StatusCreated || strings.Contains(body, s.fake.RefreshToken) || strings.Contains(body, "credentials") {
		t.Fatalf("create: %d %s", code, body)
	}
	defer func() {
		_ = c.ScheduleClient().GetHandle(context.Background(), workflows.SyncScheduleID(s.tenant, "googleads", "ads")).Delete(context.Background())
	}()
	if code, body := s.call(t, "POST", "/v1/connections", s.key, conn); code != http.StatusConflict {
		t.Fatalf("create again: %d %s", code, body)
	}
	desc, err := c.ScheduleClient().GetHandle(context.Background(), workflows.SyncScheduleID(s.tenant, "googleads", "ads")).Describe(context.Background())
	if err != nil || desc.Schedule.Spec.Intervals[0].Every != 15*time.Minute {
		t.Fatalf("schedule: %v", err)
	}
	code, body = s.call(t, "GET", "/v1/connections", s.key, nil)
	if code != http.StatusOK || !strings.Contains(body, `"connection_id":"ads"`) || strings.Contains(body, s.fake.RefreshToken) || strings.Contains(body, s.fake.DeveloperToken) {
		t.Fatalf("list: %d %s", code, body)
	}
	if code, body := s.call(t, "GET", "/v1/connections", s.otherKey, nil); code != http.StatusOK || strings.Contains(body, `"ads"`) {
		t.Fatalf("another tenant's list: %d %s", code, body)
	}
	if code, _ := s.call(t, "POST", "/v1/connections/ads/sync", s.otherKey, nil); code != http.StatusNotFound {
		t.Fatalf("another tenant's sync: %d", code)
	}

	// A sync of the 15-day lookback at four requests a second runs for seconds: a
	// second trigger meanwhile is refused with the running workflow's id.
	code, body = s.call(t, "POST", "/v1/connections/ads/sync", s.key, nil)
	var started struct {
		WorkflowID string `json:"workflow_id"`
		RunID      string `json:"run_id"`
	}
	_ = json.Unmarshal([]byte(body), &started)
	wantID := "sync/" + s.tenant + "/googleads/ads"
	if code != http.StatusAccepted || started.WorkflowID != wantID {
		t.Fatalf("sync: %d %s", code, body)
	}
	code, body = s.call(t, "POST", "/v1/connections/ads/sync", s.key, nil)
	var running struct {
		WorkflowID string `json:"workflow_id"`
		RunID      string `json:"run_id"`
	}
	_ = json.Unmarshal([]byte(body), &running)
	if code != http.StatusConflict || running.WorkflowID != wantID || running.RunID != started.RunID {
		desc, derr := c.DescribeWorkflowExecution(context.Background(), wantID, started.RunID)
		if derr == nil {
			t.Logf("first run: %v", desc.WorkflowExecutionInfo.Status)
		}
		t.Fatalf("sync while running: %d %s", code, body)
	}

	code, body = s.call(t, "POST", "/v1/connections/ads/backfill", s.key, map[string]any{"from": "2025-01-01", "to": "2025-01-03"})
	if code != http.StatusAccepted {
		t.Fatalf("backfill: %d %s", code, body)
	}
	if code, body := s.call(t, "POST", "/v1/connections/ads/backfill", s.key, map[string]any{"from": "2025-01-05", "to": "2025-01-03"}); code != http.StatusBadRequest {
		t.Fatalf("backwards backfill: %d %s", code, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := c.GetWorkflow(ctx, "backfill/"+s.tenant+"/googleads/ads", "").Get(ctx, nil); err != nil {
		t.Fatal(err)
	}
	code, body = s.call(t, "GET", "/v1/connections/ads/backfill", s.key, nil)
	var progress struct {
		Progress workflows.BackfillProgress `json:"progress"`
	}
	_ = json.Unmarshal([]byte(body), &progress)
	if code != http.StatusOK || !progress.Progress.Done || progress.Progress.Rows != 3*s.fake.Campaigns || progress.Progress.Status != "completed" {
		t.Fatalf("backfill progress: %d %s", code, body)
	}

	if code, body := s.call(t, "DELETE", "/v1/connections/ads", s.key, nil); code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", code, body)
	}
	if code, _ := s.call(t, "DELETE", "/v1/connections/ads", s.key, nil); code != http.StatusNotFound {
		t.Fatalf("delete again: %d", code)
	}
	if _, err := c.ScheduleClient().GetHandle(context.Background(), workflows.SyncScheduleID(s.tenant, "googleads", "ads")).Describe(context.Background()); err == nil {
		t.Fatal("the schedule outlived its connection")
	}
}
