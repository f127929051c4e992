package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/touchpoint/touchpoint"
	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/api"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
	"github.com/touchpoint/touchpoint/workflows"
)

// startedDeletions records the deletions the API starts; the workflow itself is
// tested against a real Temporal server in streaming/deletion_e2e_test.go.
type startedDeletions struct {
	mu   sync.Mutex
	refs []activities.DeletionRef
}

func (s *startedDeletions) StartDeletion(_ context.Context, ref activities.DeletionRef) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refs = append(s.refs, ref)
	return workflows.DeletionWorkflowID(ref.Tenant, ref.RequestID), nil
}

func (s *startedDeletions) DeletionState(context.Context, activities.DeletionRef) (workflows.DeletionState, error) {
	return workflows.DeletionState{}, touchpoint.Errorf(touchpoint.ENotFound, "not started")
}

func TestDeletionRequestsValidateSuppressAuditAndIsolateTenants(t *testing.T) {
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
	secret := store.SecretsKey("api-deletion-test-key")
	hasher := store.NewSubjectHasher(secret)
	privacy := store.Privacy{DB: pool, Hasher: hasher}
	audit := store.Audit{DB: pool, Hasher: hasher}
	started := &startedDeletions{}
	srv := httptest.NewServer(api.New(api.Options{TenantRate: 1e6, TenantBurst: 1e6, MaxBodyBytes: 1 << 20}, api.Deps{
		Tenants: tenants,
		Deletions: api.DeletionDeps{Requests: store.Deletions{DB: pool, SecretsKey: secret, Hasher: hasher},
			Privacy: privacy, Audit: audit, Workflows: started},
	}))
	defer srv.Close()
	s := &syncStack{srv: srv}

	for name, body := range map[string]any{
		"unknown field":   map[string]any{"regulation": "GDPR", "customer_id": "c1", "name": "Jane"},
		"bad regulation":  map[string]any{"regulation": "LGPD", "customer_id": "c1"},
		"nobody named":    map[string]any{"regulation": "GDPR"},
		"bad e-mail hash": map[string]any{"regulation": "GDPR", "email_sha256": "jane@example.com"},
	} {
		if code, resp := s.call(t, "POST", "/v1/deletions", keys[acme], body); code != http.StatusBadRequest || !strings.Contains(resp, "error") {
			t.Errorf("%s: %d %s", name, code, resp)
		}
	}
	if code, _ := s.call(t, "POST", "/v1/deletions", "", map[string]any{"regulation": "GDPR", "customer_id": "c1"}); code != http.StatusUnauthorized {
		t.Errorf("no key: %d", code)
	}

	req := map[string]any{"regulation": "GDPR", "customer_id": "cust-jane", "device_ids": []string{"phone-1"}}
	code, body := s.call(t, "POST", "/v1/deletions", keys[acme], req)
	if code != http.StatusAccepted || strings.Contains(body, "cust-jane") {
		t.Fatalf("create: %d %s", code, body)
	}
	for _, id := range []string{"cust-jane", "phone-1"} {
		if ok, err := privacy.IsSuppressed(ctx, acme, id); err != nil || !ok {
			t.Fatalf("%s not suppressed before the answer: %v", id, err)
		}
		if ok, _ := privacy.IsSuppressed(ctx, globex, id); ok {
			t.Fatalf("%s suppressed in the other tenant", id)
		}
	}
	if len(started.refs) != 1 || started.refs[0].Tenant != acme {
		t.Fatalf("started %+v", started.refs)
	}
	id := started.refs[0].RequestID
	if code, again := s.call(t, "POST", "/v1/deletions", keys[acme], req); code != http.StatusOK || !strings.Contains(again, id) {
		t.Fatalf("repeat: %d %s", code, again)
	}
	if code, got := s.call(t, "GET", "/v1/deletions/"+id, keys[acme], nil); code != http.StatusOK || !strings.Contains(got, `"regulation":"GDPR"`) {
		t.Fatalf("get: %d %s", code, got)
	}
	if code, _ := s.call(t, "GET", "/v1/deletions/"+id, keys[globex], nil); code != http.StatusNotFound {
		t.Fatalf("other tenant reads the request: %d", code)
	}
	if code, list := s.call(t, "GET", "/v1/deletions", keys[globex], nil); code != http.StatusOK || strings.Contains(list, id) {
		t.Fatalf("other tenant lists the request: %d %s", code, list)
	}
	entries, err := audit.List(ctx, acme, store.AuditFilter{})
	if err != nil || len(entries) != 2 || entries[0].Action != "deletion.requested" {
		t.Fatalf("audit %+v %v", entries, err)
	}
	if rep, err := audit.Verify(ctx); err != nil || !rep.OK() {
		t.Fatalf("audit chain: %+v %v", rep, err)
	}
}
