package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

const isoAdminKey = "isolation-admin-key-0123456789"

// TestKeyScopesManagementAndAudit: the admin key and a tenant's admin-scoped key
// create keys with validated scopes and revoke them; the listing shows no secret or
// hash; every creation, revocation and connection change is on the tenant's audit
// trail under the key that made it, never with credentials.
func TestKeyScopesManagementAndAudit(t *testing.T) {
	e := newIsolationEnv(t)
	a := e.a
	adminPath := "/v1/admin/tenants/" + a.tenant + "/keys"
	if code, body := e.call(t, "POST", adminPath, isoAdminKey, map[string]any{"name": "x", "scopes": []string{"read", "root"}}); code != http.StatusBadRequest || !strings.Contains(body, "root") {
		t.Fatalf("unknown scope: %d %s", code, body)
	}
	var made struct {
		KeyID  string   `json:"key_id"`
		Key    string   `json:"key"`
		Scopes []string `json:"scopes"`
	}
	code, body := e.call(t, "POST", adminPath, isoAdminKey, map[string]any{"name": "dashboards", "scopes": []string{"read"}})
	if err := json.Unmarshal([]byte(body), &made); code != http.StatusCreated || err != nil || strings.Join(made.Scopes, ",") != "read" {
		t.Fatalf("admin creates a read key: %d %s", code, body)
	}
	if code, body := e.call(t, "POST", "/v1/keys", made.Key, map[string]any{"name": "escalate", "scopes": []string{"admin"}}); code != http.StatusForbidden {
		t.Fatalf("a read key creates keys: %d %s", code, body)
	}
	code, body = e.call(t, "POST", "/v1/keys", e.aKey, map[string]any{"name": "ingest-only", "scopes": []string{"ingest"}})
	var own struct {
		KeyID string `json:"key_id"`
		Key   string `json:"key"`
	}
	if err := json.Unmarshal([]byte(body), &own); code != http.StatusCreated || err != nil {
		t.Fatalf("tenant creates its own key: %d %s", code, body)
	}
	code, body = e.call(t, "GET", "/v1/keys", e.aKey, nil)
	if code != http.StatusOK || !strings.Contains(body, own.KeyID) || strings.Contains(body, "tpk_") || strings.Contains(body, "hash") {
		t.Fatalf("list: %d %s", code, body)
	}
	if code, body := e.call(t, "GET", "/v1/metrics/realtime", own.Key, nil); code != http.StatusForbidden {
		t.Fatalf("ingest key reads: %d %s", code, body)
	}
	if code, body := e.call(t, "DELETE", "/v1/keys/"+own.KeyID, e.aKey, nil); code != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", code, body)
	}
	// Revoked through this instance: refused at once, not after the cache's lifetime.
	if code, _ := e.call(t, "POST", "/v1/events", own.Key, map[string]any{}); code != http.StatusUnauthorized {
		t.Fatalf("revoked key: %d", code)
	}
	if code, _ := e.call(t, "DELETE", "/v1/admin/tenants/"+a.tenant+"/keys/"+made.KeyID, isoAdminKey, nil); code != http.StatusNoContent {
		t.Fatalf("admin revoke: %d", code)
	}

	creds := map[string]string{"developer_token": "dev-tok-secret", "client_id": "c", "client_secret": "cs-secret", "refresh_token": "rt-secret"}
	conn := map[string]any{"connection_id": "ads-2", "platform": "googleads", "account_id": "acct-2", "credentials": creds}
	if code, body := e.call(t, "POST", "/v1/connections", e.aKey, conn); code != http.StatusCreated {
		t.Fatalf("create connection: %d %s", code, body)
	}
	if code, body := e.call(t, "DELETE", "/v1/connections/ads-2", e.aKey, nil); code != http.StatusNoContent {
		t.Fatalf("delete connection: %d %s", code, body)
	}

	code, body = e.call(t, "GET", "/v1/audit?limit=100", e.aKey, nil)
	var trail struct {
		Entries []struct {
			Actor, Action, Outcome string
			Detail                 map[string]any
		} `json:"entries"`
	}
	if err := json.Unmarshal([]byte(body), &trail); code != http.StatusOK || err != nil {
		t.Fatalf("audit: %d %s", code, body)
	}
	for _, secret := range []string{"dev-tok-secret", "cs-secret", "rt-secret", made.Key, own.Key} {
		if strings.Contains(body, secret) {
			t.Fatalf("the audit trail holds a secret %q: %s", secret, body)
		}
	}
	var got []string
	for _, en := range trail.Entries {
		got = append(got, en.Action+" by "+en.Actor+" "+en.Outcome)
	}
	want := []string{
		"connection.delete by key:" + a.keyID + " ok",
		"connection.create by key:" + a.keyID + " ok",
		"apikey.revoke by admin ok",
		"apikey.revoke by key:" + a.keyID + " ok",
		"apikey.create by key:" + a.keyID + " ok",
		"apikey.create by admin ok",
		"test.seeded by test ok",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit trail, newest first:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if d := trail.Entries[0].Detail; d["connection_id"] != "ads-2" || d["platform"] != "googleads" || d["account_id"] != "acct-2" {
		t.Fatalf("connection.delete detail: %v", d)
	}
	if d := trail.Entries[4].Detail; d["key_id"] != own.KeyID || d["name"] != "ingest-only" {
		t.Fatalf("apikey.create detail: %v", d)
	}
	code, body = e.call(t, "GET", "/v1/audit?action=apikey.&limit=2", e.aKey, nil)
	if code != http.StatusOK || strings.Count(body, `"action":"apikey.`) != 2 || strings.Contains(body, `"next_before":0`) {
		t.Fatalf("audit filtered page: %d %s", code, body)
	}
	if rep, err := e.audit.Verify(t.Context()); err != nil || !rep.OK() {
		t.Fatalf("audit chain: %+v %v", rep, err)
	}
}
