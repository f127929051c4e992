package worker_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/connectors/posthog"
	"github.com/touchpoint/touchpoint/connectors/segment"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
	"github.com/touchpoint/touchpoint/workflows"
)

// TestDeletionPropagatesToPlatformFakes runs DataSubjectDeletion with its real
// activities on real Postgres against the Segment regulations and PostHog persons
// fakes; only the workflow's timers are skipped. Segment reports "running" four
// times before finishing, PostHog fails once with a 5xx and keeps the deleted
// person visible for two reads. Both end done, each submitted exactly once, and
// the audit trail records the submissions and completions.
func TestDeletionPropagatesToPlatformFakes(t *testing.T) {
	ctx := context.Background()
	pool := storetest.Postgres(t)
	secret := store.SecretsKey("propagation-test-secret")
	hasher := store.NewSubjectHasher(secret)

	seg := segment.NewRegulationsFake()
	seg.RunningPolls = 4
	ph := posthog.NewPersonsFake()
	ph.AddPerson("u-jane", "jane-phone")
	ph.AddPerson("someone-else")
	ph.FailNext(1)
	segSrv, phSrv := httptest.NewServer(seg), httptest.NewServer(ph)
	defer segSrv.Close()
	defer phSrv.Close()

	conns := store.Connections{DB: pool, Key: secret}
	for _, c := range []struct {
		id, platform, account string
		creds                 map[string]string
	}{
		{"seg", "segment", "ws", map[string]string{"write_key": "wk", "public_api_token": seg.Token}},
		{"ph", "posthog", ph.ProjectID, map[string]string{"personal_api_key": ph.APIKey}},
		{"ads", "googleads", "123", map[string]string{"developer_token": "x"}}, // takes no deletions
	} {
		b, _ := json.Marshal(c.creds)
		if _, err := conns.Create(ctx, store.Connection{TenantID: "acme", ConnectionID: c.id, Platform: c.platform, AccountID: c.account, Credentials: b}); err != nil {
			t.Fatal(err)
		}
	}
	requests := store.Deletions{DB: pool, SecretsKey: secret, Hasher: hasher}
	ids := store.SubjectIDs{UserIDs: []string{"u-jane"}, DeviceIDs: []string{"jane-phone"}}
	if err := ids.Normalize(); err != nil {
		t.Fatal(err)
	}
	req, _, err := requests.Create(ctx, "acme", "CCPA", "key:test", ids, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	audit := store.Audit{DB: pool, Hasher: hasher}
	d := &activities.Deletion{
		Requests: requests, Privacy: store.Privacy{DB: pool, Hasher: hasher}, Keys: store.SubjectKeys{DB: pool, SecretsKey: secret},
		Audit: audit, Archive: store.Archive{DB: pool}, Journeys: store.Journeys{DB: pool}, Identity: store.Identity{DB: pool},
		Personal: store.PersonalData{DB: pool}, Connections: conns,
		Erasers: activities.NewEraserFactory(activities.ErasersConfig{SegmentPublicAPIBaseURL: segSrv.URL, PostHogBaseURL: phSrv.URL}),
	}

	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterActivity(d)
	env.ExecuteWorkflow(workflows.DataSubjectDeletion, activities.DeletionRef{Tenant: "acme", RequestID: req.RequestID})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}

	got, err := requests.Get(ctx, "acme", req.RequestID)
	if err != nil || got.Status != store.DeletionCompleted || len(got.Propagations) != 2 {
		t.Fatalf("request %+v %v", got, err)
	}
	for _, p := range got.Propagations {
		if p.State != "done" || p.FinishedAt == nil {
			t.Errorf("propagation %+v not done", p)
		}
		if p.Platform == "segment" && p.Polls != 5 {
			t.Errorf("segment polled %d times, want 4 running then done", p.Polls)
		}
	}
	if regs := seg.Regulations(); len(regs) != 1 || !slices.Equal(regs[0], []string{"u-jane"}) {
		t.Errorf("segment regulations %v, want one for u-jane", regs)
	}
	if dels := ph.BulkDeletes(); len(dels) != 1 || slices.Contains(dels[0], "someone-else") {
		t.Errorf("posthog deletes %v, want one of jane's ids only", dels)
	}
	entries, err := audit.List(ctx, "acme", store.AuditFilter{Action: "deletion.propagation_done"})
	if err != nil || len(entries) != 2 {
		t.Fatalf("propagation audit entries %d %v", len(entries), err)
	}
	if rep, err := audit.Verify(ctx); err != nil || !rep.OK() {
		t.Fatalf("audit chain %+v %v", rep, err)
	}
}
