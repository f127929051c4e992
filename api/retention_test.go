package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/touchpoint/touchpoint/api"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
)

// TestAdminSetsRetention: PUT /v1/admin/tenants/{tenant}/retention sets the policy
// (admin key only, 1..3650 days, known tenants) and the tenant listing shows it.
func TestAdminSetsRetention(t *testing.T) {
	tenants := store.Tenants{DB: storetest.Postgres(t)}
	for _, id := range []string{"acme", "globex"} {
		if _, err := tenants.Create(context.Background(), id, ""); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(api.New(api.Options{TenantRate: 1e6, TenantBurst: 1e6, MaxBodyBytes: 1 << 20, AdminKey: adminKey},
		api.Deps{Tenants: tenants}))
	defer srv.Close()
	call := func(method, path, key, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, string(b)
	}
	for _, tc := range []struct {
		path, key, body string
		status          int
	}{
		{"/v1/admin/tenants/acme/retention", "", `{"days": 7}`, http.StatusUnauthorized},
		{"/v1/admin/tenants/acme/retention", adminKey, `{"days": 0}`, http.StatusBadRequest},
		{"/v1/admin/tenants/acme/retention", adminKey, `{"days": 3651}`, http.StatusBadRequest},
		{"/v1/admin/tenants/acme/retention", adminKey, `{}`, http.StatusBadRequest},
		{"/v1/admin/tenants/nobody/retention", adminKey, `{"days": 7}`, http.StatusNotFound},
		{"/v1/admin/tenants/acme/retention", adminKey, `{"days": 7}`, http.StatusOK},
	} {
		if status, body := call(http.MethodPut, tc.path, tc.key, tc.body); status != tc.status {
			t.Errorf("PUT %s %s: %d %s, want %d", tc.path, tc.body, status, body, tc.status)
		}
	}
	status, body := call(http.MethodGet, "/v1/admin/tenants", adminKey, "")
	var list struct {
		Tenants []struct {
			ID   string `json:"tenant_id"`
			Days int    `json:"retention_days"`
		} `json:"tenants"`
	}
	if err := json.Unmarshal([]byte(body), &list); status != http.StatusOK || err != nil {
		t.Fatalf("list: %d %s %v", status, body, err)
	}
	got := map[string]int{}
	for _, tn := range list.Tenants {
		got[tn.ID] = tn.Days
	}
	if got["acme"] != 7 || got["globex"] != 90 {
		t.Fatalf("listed retention %v, want acme 7 and globex 90 (the default)", got)
	}
}
