package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/touchpoint/touchpoint/api"
	"github.com/touchpoint/touchpoint/internal/temporaltest"
	"github.com/touchpoint/touchpoint/workflows"
)

func TestSchedulesListPauseResumeTrigger(t *testing.T) {
	s := newSyncStack(t)
	c := temporaltest.Client(t)
	ctx := context.Background()
	creds := map[string]string{"developer_token": s.fake.DeveloperToken, "client_id": s.fake.ClientID,
		"client_secret": s.fake.ClientSecret, "refresh_token": s.fake.RefreshToken}
	conn := map[string]any{"connection_id": "sched", "platform": "googleads", "account_id": "1234567890", "credentials": creds}
	if code, body := s.call(t, "POST", "/v1/connections", s.key, conn); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	h := c.ScheduleClient().GetHandle(ctx, workflows.SyncScheduleID(s.tenant, "googleads", "sched"))
	defer func() { _ = h.Delete(ctx) }()

	list := func(key string) []api.ScheduleState {
		t.Helper()
		code, body := s.call(t, "GET", "/v1/schedules", key, nil)
		var out struct{ Schedules []api.ScheduleState }
		if code != http.StatusOK || json.Unmarshal([]byte(body), &out) != nil {
			t.Fatalf("list: %d %s", code, body)
		}
		return out.Schedules
	}
	got := list(s.key)
	if len(got) != 1 || got[0].ID != "sched" || got[0].Paused || got[0].NextRun == nil || !got[0].NextRun.After(time.Now().Add(-time.Minute)) {
		t.Fatalf("schedules: %+v", got)
	}
	if other := list(s.otherKey); len(other) != 0 {
		t.Fatalf("another tenant sees %+v", other)
	}
	if code, _ := s.call(t, "POST", "/v1/schedules/sched/pause", s.otherKey, nil); code != http.StatusNotFound {
		t.Fatalf("another tenant's pause: %d", code)
	}
	if code, body := s.call(t, "POST", "/v1/schedules/sched/pause", s.key, nil); code != http.StatusOK || !strings.Contains(body, `"paused":true`) {
		t.Fatalf("pause: %d %s", code, body)
	}
	if d, err := h.Describe(ctx); err != nil || !d.Schedule.State.Paused {
		t.Fatalf("not paused in Temporal: %v", err)
	}
	if got := list(s.key); len(got) != 1 || !got[0].Paused {
		t.Fatalf("after pause: %+v", got)
	}
	if code, body := s.call(t, "POST", "/v1/schedules/sched/resume", s.key, nil); code != http.StatusOK || !strings.Contains(body, `"paused":false`) {
		t.Fatalf("resume: %d %s", code, body)
	}
	if code, body := s.call(t, "POST", "/v1/schedules/sched/trigger", s.key, nil); code != http.StatusAccepted {
		t.Fatalf("trigger: %d %s", code, body)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		d, err := h.Describe(ctx)
		if err == nil && d.Info.NumActions > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("trigger started no action: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code, _ := s.call(t, "POST", "/v1/schedules/nope/trigger", s.key, nil); code != http.StatusNotFound {
		t.Fatalf("unknown schedule: %d", code)
	}
}
