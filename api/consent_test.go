package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/touchpoint/touchpoint/api"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
)

// consentStack is an API with only the consent routes' dependencies, and two tenants.
type consentStack struct {
	srv          *httptest.Server
	acme, globex string
	keys         map[string]string
	privacy      store.Privacy
	audit        store.Audit
}

func newConsentStack(t *testing.T) *consentStack {
	t.Helper()
	ctx := context.Background()
	pool := storetest.Postgres(t)
	tenants := store.Tenants{DB: pool}
	suffix := strconv.FormatInt(time.Now().UnixNano()%1e9, 10)
	s := &consentStack{acme: "acme-" + suffix, globex: "globex-" + suffix, keys: map[string]string{}}
	for _, id := range []string{s.acme, s.globex} {
		if _, err := tenants.Create(ctx, id, ""); err != nil {
			t.Fatal(err)
		}
		_, k, err := tenants.CreateKey(ctx, id, "test", store.AllScopes)
		if err != nil {
			t.Fatal(err)
		}
		s.keys[id] = k
	}
	hasher := store.NewSubjectHasher(store.SecretsKey("api-consent-test-key"))
	s.privacy = store.Privacy{DB: pool, Hasher: hasher}
	s.audit = store.Audit{DB: pool, Hasher: hasher}
	s.srv = httptest.NewServer(api.New(api.Options{TenantRate: 1e6, TenantBurst: 1e6, MaxBodyBytes: 1 << 20}, api.Deps{
		Tenants: tenants, Consent: api.ConsentDeps{Privacy: s.privacy, Audit: s.audit},
	}))
	t.Cleanup(s.srv.Close)
	return s
}

type consentAnswer struct {
	Applied  *bool           `json:"applied"`
	Consent  store.Consent   `json:"consent"`
	Consents []store.Consent `json:"consents"`
	Next     string          `json:"next"`
	Kind     string          `json:"kind"`
}

// call sends body as it is (raw JSON, possibly malformed) and decodes the answer.
func (s *consentStack) call(t *testing.T, method, path, tenant, body string) (int, consentAnswer) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, s.srv.URL+path, rd)
	if tenant != "" {
		req.Header.Set("Authorization", "Bearer "+s.keys[tenant])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var a consentAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, a
}

func TestConsentAPILatestWinsAndAudits(t *testing.T) {
	s := newConsentStack(t)
	t0 := time.Now().UTC().Truncate(time.Second)
	body := func(analytics bool, at time.Time) string {
		return `{"analytics":` + strconv.FormatBool(analytics) + `,"personalization":true,"advertising":false,"source_time":"` + at.Format(time.RFC3339) + `"}`
	}
	code, a := s.call(t, "PUT", "/v1/consent/jane@example.com", s.acme, body(false, t0))
	if code != http.StatusOK || a.Applied == nil || !*a.Applied || a.Consent.SubjectID != "jane@example.com" ||
		a.Consent.Analytics || !a.Consent.Personalization || a.Consent.Advertising || a.Consent.Source != "api" || !a.Consent.SourceTime.Equal(t0) {
		t.Fatalf("set: %d %+v", code, a)
	}
	// An older choice loses: 409 with the stored (newer) record.
	code, a = s.call(t, "PUT", "/v1/consent/jane@example.com", s.acme, body(true, t0.Add(-time.Hour)))
	if code != http.StatusConflict || a.Applied == nil || *a.Applied || a.Consent.Analytics || !a.Consent.SourceTime.Equal(t0) {
		t.Fatalf("older: %d %+v", code, a)
	}
	// Without source_time: now, newer than t0.
	code, a = s.call(t, "PUT", "/v1/consent/jane@example.com", s.acme, `{"analytics":true,"personalization":false,"advertising":false}`)
	if code != http.StatusOK || !*a.Applied || !a.Consent.Analytics || !a.Consent.SourceTime.After(t0.Add(-time.Second)) {
		t.Fatalf("newer: %d %+v", code, a)
	}
	if code, a = s.call(t, "GET", "/v1/consent/jane@example.com", s.acme, ""); code != http.StatusOK || !a.Consent.Analytics {
		t.Fatalf("get: %d %+v", code, a)
	}
	if code, a = s.call(t, "GET", "/v1/consent/nobody", s.acme, ""); code != http.StatusNotFound || a.Kind != "not_found" {
		t.Fatalf("unknown subject: %d %+v", code, a)
	}

	entries, err := s.audit.List(context.Background(), s.acme, store.AuditFilter{Action: "consent.set"})
	if err != nil || len(entries) != 3 {
		t.Fatalf("audit: %d entries, %v", len(entries), err)
	}
	if raw, _ := json.Marshal(entries); strings.Contains(string(raw), "jane") {
		t.Fatalf("the audit log names the subject: %s", raw)
	}
}

func TestConsentAPIRefusesBadRequests(t *testing.T) {
	s := newConsentStack(t)
	for name, body := range map[string]string{
		"malformed":       `{"analytics":`,
		"missing purpose": `{"analytics":true,"personalization":true}`,
		"not a boolean":   `{"analytics":"yes","personalization":true,"advertising":true}`,
		"unknown field":   `{"analytics":true,"personalization":true,"advertising":true,"email":"x"}`,
		"bad source_time": `{"analytics":true,"personalization":true,"advertising":true,"source_time":"yesterday"}`,
		"future":          `{"analytics":true,"personalization":true,"advertising":true,"source_time":"` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `"}`,
		"empty body":      ``,
	} {
		if code, a := s.call(t, "PUT", "/v1/consent/jane", s.acme, body); code != http.StatusBadRequest || a.Kind != "invalid" {
			t.Errorf("%s: %d %+v", name, code, a)
		}
	}
	for _, q := range []string{"limit=0", "limit=abc", "limit=5000"} {
		if code, _ := s.call(t, "GET", "/v1/consent?"+q, s.acme, ""); code != http.StatusBadRequest {
			t.Errorf("%s: %d", q, code)
		}
	}
	if code, _ := s.call(t, "GET", "/v1/consent", "", ""); code != http.StatusUnauthorized {
		t.Errorf("without a key: %d", code)
	}
}

func TestConsentAPIIsolatesTenants(t *testing.T) {
	s := newConsentStack(t)
	for _, subject := range []string{"a", "b", "c"} {
		if code, a := s.call(t, "PUT", "/v1/consent/"+subject, s.acme, `{"analytics":false,"personalization":true,"advertising":true}`); code != http.StatusOK {
			t.Fatalf("set %s: %d %+v", subject, code, a)
		}
	}
	if code, a := s.call(t, "GET", "/v1/consent/a", s.globex, ""); code != http.StatusNotFound {
		t.Fatalf("globex reads acme's consent: %d %+v", code, a)
	}
	if code, a := s.call(t, "GET", "/v1/consent", s.globex, ""); code != http.StatusOK || len(a.Consents) != 0 {
		t.Fatalf("globex lists %d consents (%d)", len(a.Consents), code)
	}
	// globex writing the same subject id does not touch acme's record.
	if code, _ := s.call(t, "PUT", "/v1/consent/a", s.globex, `{"analytics":true,"personalization":true,"advertising":true}`); code != http.StatusOK {
		t.Fatalf("globex set: %d", code)
	}
	code, a := s.call(t, "GET", "/v1/consent?limit=2", s.acme, "")
	if code != http.StatusOK || len(a.Consents) != 2 || a.Consents[0].SubjectID != "a" || a.Consents[0].Analytics || a.Next != "b" {
		t.Fatalf("first page: %d %+v", code, a)
	}
	code, a = s.call(t, "GET", "/v1/consent?limit=2&after="+a.Next, s.acme, "")
	if code != http.StatusOK || len(a.Consents) != 1 || a.Consents[0].SubjectID != "c" || a.Next != "" {
		t.Fatalf("second page: %d %+v", code, a)
	}
}
