package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/touchpoint/touchpoint"
	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/aggregate"
	"github.com/touchpoint/touchpoint/api"
	"github.com/touchpoint/touchpoint/connectors"
	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
	"github.com/touchpoint/touchpoint/workflows"
)

// isoCase is how the isolation test calls one route as tenant B, aimed at tenant A's
// resources, and which statuses B may get.
type isoCase struct {
	path string // with A's resource ids in place of the wildcards
	body any
	want []int
	// echoes are A's ids B sent in an earlier call and may get back from its own
	// records: B's audit trail records B's attempt to revoke A's key id.
	echoes []string
	// aSees is a value of A's that A's own key finds on the same path: the control
	// that shows B's empty answer is isolation, not missing data.
	aSees string
}

// isolationCases has one entry per route pattern of the API. A route missing here
// fails TestTenantIsolationOnEveryRoute: a new route must say how it is isolated.
func isolationCases(a *isoTenantA) map[string]isoCase {
	now := time.Now().UTC()
	today, monthAgo := now.Format(time.DateOnly), now.AddDate(0, 0, -30).Format(time.DateOnly)
	// Attribution takes RFC 3339 or Unix seconds.
	to, from := strconv.FormatInt(now.Truncate(24*time.Hour).Unix(), 10), strconv.FormatInt(now.Truncate(24*time.Hour).AddDate(0, 0, -30).Unix(), 10)
	ok, created, accepted, notFound := []int{200}, []int{201}, []int{202}, []int{404}
	conn := "/v1/connections/" + a.connection
	creds := map[string]string{"developer_token": "d", "client_id": "c", "client_secret": "s", "refresh_token": "r"}
	return map[string]isoCase{
		// B claims A's tenant id in the event: refused, nothing published for A.
		"POST /v1/events": {path: "/v1/events", body: events.Example(events.CampaignLaunch, a.tenant, time.Now().Add(-time.Minute)), want: []int{403}},

		// The admin key's routes: a tenant key is not the admin key.
		"GET /v1/admin/tenants":                        {path: "/v1/admin/tenants", want: []int{401}},
		"POST /v1/admin/tenants":                       {path: "/v1/admin/tenants", body: map[string]string{"tenant_id": "evil"}, want: []int{401}},
		"POST /v1/admin/tenants/{tenant}/keys":         {path: "/v1/admin/tenants/" + a.tenant + "/keys", body: map[string]any{"name": "x"}, want: []int{401}},
		"DELETE /v1/admin/tenants/{tenant}/keys/{key}": {path: "/v1/admin/tenants/" + a.tenant + "/keys/" + a.keyID, want: []int{401}},
		"PUT /v1/admin/tenants/{tenant}/retention":     {path: "/v1/admin/tenants/" + a.tenant + "/retention", body: map[string]int{"days": 1}, want: []int{401}},
		"POST /v1/keys":                                {path: "/v1/keys", body: map[string]any{"name": "b-key", "scopes": []string{"read"}}, want: created},
		"GET /v1/keys":                                 {path: "/v1/keys", want: ok, aSees: a.keyID},
		"DELETE /v1/keys/{key}":                        {path: "/v1/keys/" + a.keyID, want: notFound},
		"GET /v1/audit":                                {path: "/v1/audit?limit=1000", want: ok, echoes: []string{a.keyID}, aSees: a.auditMarker},
		"GET /v1/metrics/campaigns":                    {path: "/v1/metrics/campaigns?level=day&include=synced", want: ok, aSees: a.campaign},
		"GET /v1/metrics/channels":                     {path: "/v1/metrics/channels?level=day", want: ok},
		"GET /v1/metrics/variants":                     {path: "/v1/metrics/variants?level=day", want: ok},
		"GET /v1/metrics/event-types":                  {path: "/v1/metrics/event-types?level=day", want: ok},
		"GET /v1/metrics/realtime":                     {path: "/v1/metrics/realtime", want: ok},
		"GET /v1/metrics/platform-campaigns":           {path: "/v1/metrics/platform-campaigns?from=" + monthAgo + "&to=" + today, want: ok, aSees: a.platformCampaign},
		"GET /v1/personalization/variants":             {path: "/v1/personalization/variants?level=day", want: ok},
		"POST /v1/attribution/recompute":               {path: "/v1/attribution/recompute", body: map[string]string{"from": from, "to": to}, want: accepted},
		"GET /v1/attribution/recompute":                {path: "/v1/attribution/recompute?workflow_id=attribution/" + a.tenant + "/x", want: notFound},
		"GET /v1/attribution/recompute/{from}/{to}":    {path: "/v1/attribution/recompute/" + from + "/" + to, want: notFound},
		"GET /v1/attribution/report":                   {path: "/v1/attribution/report?model=last_touch&from=" + from + "&to=" + to, want: ok},
		"GET /v1/attribution/compare":                  {path: "/v1/attribution/compare?from=" + from + "&to=" + to, want: ok},
		"POST /v1/attribution/models/train":            {path: "/v1/attribution/models/train", body: map[string]string{"from": from, "to": to}, want: accepted},
		"GET /v1/attribution/models":                   {path: "/v1/attribution/models", want: ok},
		"POST /v1/connections":                         {path: "/v1/connections", body: map[string]any{"connection_id": "conn-b-new", "platform": "googleads", "account_id": "acct-b", "credentials": creds}, want: created},
		"GET /v1/connections":                          {path: "/v1/connections", want: ok, aSees: a.connection},
		"DELETE /v1/connections/{id}":                  {path: conn, want: notFound},
		"POST /v1/connections/{id}/sync":               {path: conn + "/sync", want: notFound},
		"POST /v1/connections/{id}/backfill":           {path: conn + "/backfill", body: map[string]string{"from": monthAgo, "to": today}, want: notFound},
		"GET /v1/connections/{id}/backfill":            {path: conn + "/backfill", want: notFound},
		"GET /v1/schedules":                            {path: "/v1/schedules", want: ok, aSees: a.connection},
		"POST /v1/schedules/{id}/pause":                {path: "/v1/schedules/" + a.connection + "/pause", want: notFound},
		"POST /v1/schedules/{id}/resume":               {path: "/v1/schedules/" + a.connection + "/resume", want: notFound},
		"POST /v1/schedules/{id}/trigger":              {path: "/v1/schedules/" + a.connection + "/trigger", want: notFound},
		"GET /v1/profiles/{customer_id}":               {path: "/v1/profiles/" + a.customer, want: notFound, aSees: a.customer},
		"POST /v1/profiles/refresh":                    {path: "/v1/profiles/refresh", want: accepted},
		"POST /v1/profiles/train":                      {path: "/v1/profiles/train", body: map[string]int{"holdout_weeks": 4}, want: accepted},
		"POST /v1/segments":                            {path: "/v1/segments", body: map[string]string{"segment_id": "seg-b-new", "rule": "ltv > 1"}, want: created},
		"GET /v1/segments":                             {path: "/v1/segments", want: ok, aSees: a.segment},
		"GET /v1/segments/{id}/members":                {path: "/v1/segments/" + a.segment + "/members", want: notFound, aSees: a.customer},
		"DELETE /v1/segments/{id}":                     {path: "/v1/segments/" + a.segment, want: notFound},
		"POST /v1/campaigns":                           {path: "/v1/campaigns", body: launchBody("cmp-b-new"), want: accepted},
		"GET /v1/campaigns":                            {path: "/v1/campaigns", want: ok, aSees: a.campaign},
		"GET /v1/campaigns/{id}":                       {path: "/v1/campaigns/" + a.campaign, want: notFound, aSees: a.campaign},
		"POST /v1/campaigns/{id}/signal":               {path: "/v1/campaigns/" + a.campaign + "/signal", body: map[string]string{"signal": "terminate"}, want: notFound},
		"POST /v1/deletions":                           {path: "/v1/deletions", body: map[string]any{"regulation": "GDPR", "customer_id": a.subject}, want: accepted},
		"GET /v1/deletions":                            {path: "/v1/deletions", want: ok, aSees: a.deletionID},
		"GET /v1/deletions/{id}":                       {path: "/v1/deletions/" + a.deletionID, want: notFound, aSees: a.deletionID},
		"PUT /v1/consent/{subject}":                    {path: "/v1/consent/subj-b-new", body: map[string]bool{"analytics": true, "personalization": true, "advertising": true}, want: ok},
		"GET /v1/consent/{subject}":                    {path: "/v1/consent/" + a.subject, want: notFound, aSees: a.subject},
		"GET /v1/consent":                              {path: "/v1/consent", want: ok, aSees: a.subject},
		"GET /healthz":                                 {path: "/healthz", want: ok},
		"GET /readyz":                                  {path: "/readyz", want: ok},
		"GET /metrics":                                 {path: "/metrics", want: ok},
	}
}

// isoTenantA is tenant A's data: every value is also a marker B must never see
// (unless B sent it itself).
type isoTenantA struct {
	tenant, keyID, connection, account, subject, deletionID, campaign, platformCampaign, auditMarker string
	customer, segment                                                                                string // profiles_test.go seeds them
}

func (a *isoTenantA) markers() []string {
	return []string{a.tenant, a.keyID, a.connection, a.account, a.subject, a.deletionID, a.campaign, a.platformCampaign, a.auditMarker,
		a.customer, a.segment}
}

// TestTenantIsolationOnEveryRoute calls every route of the API as tenant B with A's
// resource ids, and checks that B never sees A's data nor changes it; that a key
// without the route's scope gets 403 naming it and no key 401.
func TestTenantIsolationOnEveryRoute(t *testing.T) {
	e := newIsolationEnv(t)
	cases := isolationCases(e.a)
	routes := e.srv.Routes()
	var patterns []string
	for _, rt := range routes {
		patterns = append(patterns, rt.Pattern)
		if rt.Access == "" {
			t.Errorf("route %s is registered outside the route table: it has no known access", rt.Pattern)
		}
		if _, ok := cases[rt.Pattern]; !ok {
			t.Errorf("route %s has no isolation case: add it to isolationCases", rt.Pattern)
		}
	}
	for p := range cases {
		if !slices.Contains(patterns, p) {
			t.Errorf("isolation case %s is not a route of the API", p)
		}
	}
	for _, rt := range routes {
		c, ok := cases[rt.Pattern]
		if !ok {
			continue
		}
		t.Run(rt.Pattern, func(t *testing.T) {
			method, _, _ := strings.Cut(rt.Pattern, " ")
			e.checkAccess(t, rt, method, c)
			if c.aSees != "" {
				e.checkControl(t, method, c)
			}
			code, body := e.call(t, method, c.path, e.bKeys[store.ScopeAdmin+"+all"], c.body)
			if !slices.Contains(c.want, code) {
				t.Errorf("B on A's resource: %d %s, want one of %v", code, body, c.want)
			}
			e.checkNoMarkers(t, c, body)
		})
	}
	e.checkANotChanged(t)
}

// checkAccess: no key is 401 on every keyed route, a key lacking the route's scope
// is 403 naming the scope, and a tenant key never passes for the admin key.
func (e *isolationEnv) checkAccess(t *testing.T, rt api.RouteInfo, method string, c isoCase) {
	t.Helper()
	if rt.Access == "public" {
		if code, body := e.call(t, method, c.path, "", c.body); code != http.StatusOK {
			t.Errorf("public route without a key: %d %s", code, body)
		}
		return
	}
	if code, _ := e.call(t, method, c.path, "", c.body); code != http.StatusUnauthorized {
		t.Errorf("no key: %d, want 401", code)
	}
	if code, _ := e.call(t, method, c.path, "tpk_not-a-key", c.body); code != http.StatusUnauthorized {
		t.Errorf("unknown key: %d, want 401", code)
	}
	if rt.Access == "admin-key" {
		return // B's key with every scope is tried by the caller and must get 401
	}
	code, body := e.call(t, method, c.path, e.bKeys["all-but-"+rt.Access], c.body)
	if code != http.StatusForbidden || !strings.Contains(body, `lacks the \"`+rt.Access+`\" scope`) {
		t.Errorf("key without %q: %d %s, want 403 naming the scope", rt.Access, code, body)
	}
}

// checkControl: A's own key finds c.aSees on the path. A's own calls to the fakes
// are forgotten: they are not B's doing.
func (e *isolationEnv) checkControl(t *testing.T, method string, c isoCase) {
	t.Helper()
	n := len(e.fakes.tenants())
	code, body := e.call(t, method, c.path, e.aKey, c.body)
	e.fakes.truncate(n)
	if code != http.StatusOK || !strings.Contains(body, c.aSees) {
		t.Errorf("control: A's own key does not find %q: %d %s", c.aSees, code, body)
	}
}

// checkNoMarkers fails when B's answer holds a value of A's it did not send itself.
func (e *isolationEnv) checkNoMarkers(t *testing.T, c isoCase, body string) {
	t.Helper()
	sent, _ := json.Marshal(c.body)
	for _, m := range e.a.markers() {
		if strings.Contains(c.path, m) || bytes.Contains(sent, []byte(m)) || slices.Contains(c.echoes, m) {
			continue // echoing the caller's own input is not a leak
		}
		if strings.Contains(body, m) {
			t.Errorf("B's answer holds A's %q: %s", m, body)
		}
	}
}

// checkANotChanged checks after every call that A's data is as seeded and that no
// workflow, schedule or event was started or published for A.
func (e *isolationEnv) checkANotChanged(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	a := e.a
	if c, err := e.conns.Get(ctx, a.tenant, a.connection); err != nil || c.AccountID != a.account {
		t.Errorf("A's connection: %+v, %v", c, err)
	}
	if c, err := e.privacy.Consent(ctx, a.tenant, a.subject); err != nil || c.Analytics {
		t.Errorf("A's consent changed: %+v, %v", c, err)
	}
	if sup, err := e.privacy.IsSuppressed(ctx, a.tenant, a.subject); err != nil || sup {
		t.Errorf("B's deletion suppressed A's subject: %v, %v", sup, err)
	}
	if _, err := e.deletions.Get(ctx, a.tenant, a.deletionID); err != nil {
		t.Errorf("A's deletion request: %v", err)
	}
	if k, err := e.tenants.Authenticate(ctx, e.aKey); err != nil || k.TenantID != a.tenant {
		t.Errorf("A's key no longer works: %+v, %v", k, err)
	}
	entries, err := e.audit.List(ctx, a.tenant, store.AuditFilter{Limit: 1000})
	if err != nil || len(entries) != 1 || entries[0].Action != "test.seeded" {
		t.Errorf("A's audit trail changed: %+v, %v", entries, err)
	}
	bEntries, err := e.audit.List(ctx, e.b, store.AuditFilter{Action: "apikey.", Limit: 1000})
	if err != nil || len(bEntries) == 0 || !strings.HasPrefix(bEntries[0].Actor, "key:") {
		t.Errorf("B's key creation is not audited under its key: %+v, %v", bEntries, err)
	}
	for _, tenant := range e.fakes.tenants() {
		if tenant == a.tenant {
			t.Errorf("a workflow or schedule of A was started or changed by B")
		}
	}
	for _, ev := range e.published.evs {
		if ev.TenantID == a.tenant {
			t.Errorf("B published an event as A: %+v", ev)
		}
	}
	if got := e.conns; got.DB == nil {
		t.Fatal("no connections store")
	}
}

type isolationEnv struct {
	srv       *api.Server
	http      *httptest.Server
	a         *isoTenantA
	aKey      string
	b         string
	bKeys     map[string]string // "admin+all" has every scope; "all-but-<scope>" lacks one
	tenants   store.Tenants
	conns     store.Connections
	privacy   store.Privacy
	deletions store.Deletions
	audit     store.Audit
	fakes     *isoWorkflows
	published *capture
}

func newIsolationEnv(t *testing.T) *isolationEnv {
	t.Helper()
	ctx := context.Background()
	pool := storetest.Postgres(t)
	suffix := strconv.FormatInt(time.Now().UnixNano()%1e9, 10)
	secret := store.SecretsKey("isolation-test-key")
	hasher := store.NewSubjectHasher(secret)
	e := &isolationEnv{
		b:         "globex-" + suffix,
		bKeys:     map[string]string{},
		tenants:   store.Tenants{DB: pool},
		conns:     store.Connections{DB: pool, Key: secret},
		privacy:   store.Privacy{DB: pool, Hasher: hasher},
		deletions: store.Deletions{DB: pool, SecretsKey: secret, Hasher: hasher},
		audit:     store.Audit{DB: pool, Hasher: hasher},
		fakes:     &isoWorkflows{},
		published: &capture{},
	}
	e.seedA(t, "acme-"+suffix)
	if _, err := e.tenants.Create(ctx, e.b, ""); err != nil {
		t.Fatal(err)
	}
	e.bKeys[store.ScopeAdmin+"+all"] = e.key(t, e.b, store.AllScopes)
	for _, sc := range store.AllScopes {
		e.bKeys["all-but-"+sc] = e.key(t, e.b, slices.DeleteFunc(slices.Clone(store.AllScopes), func(s string) bool { return s == sc }))
	}
	reg, err := events.InProcessRegistry()
	if err != nil {
		t.Fatal(err)
	}
	codec, err := events.NewCodec(ctx, reg)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = api.New(api.Options{Rules: events.DefaultRules(), MaxBodyBytes: 1 << 20, MaxBatchEvents: 100,
		TenantRate: 1e6, TenantBurst: 1e6, AdminKey: "isolation-admin-key-0123456789"}, api.Deps{
		Tenants: e.tenants, Publisher: e.published, Codec: codec,
		Aggregates: store.Aggregates{DB: pool}, Realtime: &store.Realtime{RDB: storetest.Redis(t)},
		Workflows: e.fakes, Attribution: store.Attribution{DB: pool},
		Syncs: e.fakes, Connections: e.conns,
		Deletions: api.DeletionDeps{Requests: e.deletions, Privacy: e.privacy, Audit: e.audit, Workflows: e.fakes},
		Consent:   api.ConsentDeps{Privacy: e.privacy, Audit: e.audit},
		Campaigns: api.CampaignDeps{Store: store.Campaigns{DB: pool}, Workflows: e.fakes},
		Audit:     e.audit,
	})
	e.http = httptest.NewServer(e.srv)
	t.Cleanup(e.http.Close)
	return e
}

func (e *isolationEnv) key(t *testing.T, tenant string, scopes []string) string {
	t.Helper()
	_, k, err := e.tenants.CreateKey(context.Background(), tenant, "iso", scopes)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// seedA gives tenant A one of everything: a key, an aggregate row, a synced platform
// day, a connection, a consent, a deletion request and an audit entry.
func (e *isolationEnv) seedA(t *testing.T, tenant string) {
	t.Helper()
	ctx := context.Background()
	a := &isoTenantA{tenant: tenant, connection: "conn-a-secret", account: "acct-a-secret", subject: "subj-a-secret",
		campaign: "camp-a-secret", platformCampaign: "pcamp-a-secret", auditMarker: "audit-a-secret"}
	e.a = a
	if _, err := e.tenants.Create(ctx, tenant, ""); err != nil {
		t.Fatal(err)
	}
	k, secret, err := e.tenants.CreateKey(ctx, tenant, "a-admin", store.AllScopes)
	if err != nil {
		t.Fatal(err)
	}
	a.keyID, e.aKey = k.ID, secret
	e.seedAggregate(t, tenant, a.campaign)
	e.seedCampaign(t, tenant, a.campaign)
	e.seedProfiles(t, a)
	if _, err := e.conns.Create(ctx, store.Connection{TenantID: tenant, ConnectionID: a.connection, Platform: "googleads",
		AccountID: a.account, Credentials: []byte(`{"developer_token":"d","client_id":"c","client_secret":"s","refresh_token":"r"}`)}); err != nil {
		t.Fatal(err)
	}
	day := connectors.CampaignDay{Platform: "googleads", AccountID: a.account, CampaignID: a.platformCampaign, CampaignName: a.platformCampaign,
		Date: time.Now().UTC().AddDate(0, 0, -2).Truncate(24 * time.Hour), Impressions: 10, Currency: "USD"}
	if err := e.conns.UpsertCampaignDays(ctx, tenant, a.connection, "campaigns", []connectors.CampaignDay{day}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.privacy.SetConsent(ctx, store.Consent{TenantID: tenant, SubjectID: a.subject, Source: "api", SourceTime: time.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	req, _, err := e.deletions.Create(ctx, tenant, "GDPR", "test", store.SubjectIDs{CustomerIDs: []string{"del-a-secret"}}, time.Now().UTC())
	if err != nil {
		t.Fatal(err)
	}
	a.deletionID = req.RequestID
	if _, err := e.audit.Append(ctx, store.AuditEntry{TenantID: tenant, Actor: "test", Action: "test.seeded", Detail: map[string]any{"marker": a.auditMarker}}); err != nil {
		t.Fatal(err)
	}
}

// seedAggregate writes a campaign, channel, variant and event-type row for A the way
// the consumer does, today.
func (e *isolationEnv) seedAggregate(t *testing.T, tenant, campaign string) {
	t.Helper()
	ctx := context.Background()
	d := aggregate.New()
	bucket := time.Now().UTC().Truncate(24 * time.Hour).Unix()
	d.Campaigns[aggregate.CampaignKey{Tenant: tenant, Level: aggregate.Day, Bucket: bucket, CampaignID: campaign, Channel: "search"}] =
		&aggregate.CampaignDelta{Currency: "USD", Impressions: 100, Clicks: 10, Events: 1}
	tx, err := e.tenants.DB.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := store.WriteDeltas(ctx, tx, d); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

func (e *isolationEnv) call(t *testing.T, method, path, key string, body any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.http.URL+path, rd)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// isoWorkflows stands in for every Temporal-backed dependency (attribution, model
// training, syncs, schedules, deletions) and records the tenant of every call, so
// the test can check that none was made for A.
type isoWorkflows struct {
	mu     sync.Mutex
	called []string
}

func (f *isoWorkflows) record(tenant string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.called = append(f.called, tenant)
}

func (f *isoWorkflows) tenants() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.called)
}

func (f *isoWorkflows) truncate(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.called = f.called[:n]
}

// tenantOfID takes the tenant out of a workflow id "kind/{tenant}/...".
func tenantOfID(id string) string {
	parts := strings.Split(id, "/")
	if len(parts) < 2 {
		return ""
	}
	return parts[1]
}

func (f *isoWorkflows) StartAttribution(_ context.Context, in workflows.AttributionRecomputeInput) (string, string, error) {
	f.record(in.Tenant)
	return workflows.AttributionWorkflowID(in.Tenant, in.From, in.To), "run", nil
}

func (f *isoWorkflows) AttributionProgress(_ context.Context, id string) (workflows.AttributionProgress, error) {
	f.record(tenantOfID(id))
	return workflows.AttributionProgress{}, touchpoint.Errorf(touchpoint.ENotFound, "no recompute %s", id)
}

func (f *isoWorkflows) StartTraining(_ context.Context, in workflows.TrainingInput) (string, string, error) {
	f.record(in.Tenant)
	return workflows.TrainingWorkflowID(in.Tenant, in.From, in.To), "run", nil
}

func (f *isoWorkflows) EnsureSchedule(_ context.Context, in workflows.SyncInput) error {
	f.record(in.Tenant)
	return nil
}

func (f *isoWorkflows) DeleteSchedule(_ context.Context, in workflows.SyncInput) error {
	f.record(in.Tenant)
	return nil
}

func (f *isoWorkflows) StartSync(_ context.Context, in workflows.SyncInput) (string, string, error) {
	f.record(in.Tenant)
	return workflows.SyncWorkflowID(in.Tenant, in.Platform, in.ConnectionID), "run", nil
}

func (f *isoWorkflows) StartBackfill(_ context.Context, in workflows.BackfillInput) (string, string, error) {
	f.record(in.Tenant)
	return workflows.BackfillWorkflowID(in.Tenant, in.Platform, in.ConnectionID), "run", nil
}

func (f *isoWorkflows) BackfillProgress(_ context.Context, id string) (workflows.BackfillProgress, error) {
	f.record(tenantOfID(id))
	return workflows.BackfillProgress{}, touchpoint.Errorf(touchpoint.ENotFound, "no backfill %s", id)
}

func (f *isoWorkflows) DescribeSchedule(_ context.Context, in workflows.SyncInput) (api.ScheduleState, error) {
	f.record(in.Tenant)
	return api.ScheduleState{ID: in.ConnectionID, ConnectionID: in.ConnectionID, Platform: in.Platform}, nil
}

func (f *isoWorkflows) PauseSchedule(_ context.Context, in workflows.SyncInput, _ bool) error {
	f.record(in.Tenant)
	return nil
}

func (f *isoWorkflows) TriggerSchedule(_ context.Context, in workflows.SyncInput) error {
	f.record(in.Tenant)
	return nil
}

func (f *isoWorkflows) StartDeletion(_ context.Context, ref activities.DeletionRef) (string, error) {
	f.record(ref.Tenant)
	return workflows.DeletionWorkflowID(ref.Tenant, ref.RequestID), nil
}

func (f *isoWorkflows) DeletionState(_ context.Context, ref activities.DeletionRef) (workflows.DeletionState, error) {
	f.record(ref.Tenant)
	return workflows.DeletionState{}, touchpoint.Errorf(touchpoint.ENotFound, "not started")
}
