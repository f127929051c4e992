package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/touchpoint/touchpoint/aggregate"
	"github.com/touchpoint/touchpoint/api"
	"github.com/touchpoint/touchpoint/connectors/segment"
	"github.com/touchpoint/touchpoint/segments"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
	"github.com/touchpoint/touchpoint/workflows"
)

func (f *isoWorkflows) StartProfileTraining(_ context.Context, in workflows.ProfileTrainingInput) (string, string, error) {
	f.record(in.Tenant)
	return workflows.ProfileTrainingWorkflowID(in.Tenant), "run", nil
}

func (f *isoWorkflows) StartProfileRefresh(_ context.Context, in workflows.ProfileRefreshInput) (string, string, error) {
	f.record(in.Tenant)
	return workflows.ProfileRefreshWorkflowID(in.Tenant), "run", nil
}

// seedProfiles gives tenant A a scored profile, a segment and its member.
func (e *isolationEnv) seedProfiles(t *testing.T, a *isoTenantA) {
	t.Helper()
	a.customer, a.segment = "cust-a-secret", "seg-a-secret"
	seedProfile(t, store.ProfileScores{DB: e.tenants.DB}, a.tenant, a.customer, a.segment)
}

func seedProfile(t *testing.T, ps store.ProfileScores, tenant, customer, segment string) {
	t.Helper()
	ctx := context.Background()
	ltv, eng := 120.5, 66.0
	if err := ps.WriteScores(ctx, tenant, []store.Scores{{CustomerID: customer, LTV: &ltv, EngagementScore: &eng, ScoredAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ps.SaveSegment(ctx, tenant, store.SegmentDef{SegmentID: segment, Name: segment, Rule: "ltv > 100"}); err != nil {
		t.Fatal(err)
	}
	if err := ps.ApplyMembers(ctx, tenant, []store.MemberChange{{SegmentID: segment, CustomerID: customer, Enter: true}}, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// profileStarts records the profile workflows an API call starts.
type profileStarts struct {
	fakeTrainer
	trainings []workflows.ProfileTrainingInput
	refreshes []workflows.ProfileRefreshInput
}

func (f *profileStarts) StartProfileTraining(_ context.Context, in workflows.ProfileTrainingInput) (string, string, error) {
	f.trainings = append(f.trainings, in)
	return workflows.ProfileTrainingWorkflowID(in.Tenant), "run-1", nil
}

func (f *profileStarts) StartProfileRefresh(_ context.Context, in workflows.ProfileRefreshInput) (string, string, error) {
	f.refreshes = append(f.refreshes, in)
	return workflows.ProfileRefreshWorkflowID(in.Tenant), "run-1", nil
}

// TestProfilesAndSegmentsAPI: a malformed rule is 400 with the compiler's exact
// message; valid text and JSON rules are stored canonical; the profile shows its
// scores and segments; members page; delete; train and refresh start workflows.
func TestProfilesAndSegmentsAPI(t *testing.T) {
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
	ps := store.ProfileScores{DB: pool}
	seedProfile(t, ps, "acme", "c1", "vip")
	seedProfile(t, ps, "acme", "c2", "vip")
	starts := &profileStarts{}
	srv := httptest.NewServer(api.New(api.Options{TenantRate: 1e6, TenantBurst: 1e6, MaxBodyBytes: 1 << 20},
		api.Deps{Tenants: tenants, Workflows: starts, Attribution: store.Attribution{DB: pool}}))
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

	_, wantErr := segments.Compile(`lvt > 100`, segments.ProfileSchema())
	var e struct{ Error, Kind string }
	if code := call("POST", "/v1/segments", `{"segment_id":"bad","rule":"lvt > 100"}`, &e); code != 400 || e.Error != `1:1: unknown field "lvt" (did you mean "ltv"?)` || e.Error != wantErr.Error() {
		t.Errorf("malformed rule: %d %+v", code, e)
	}
	if code := call("POST", "/v1/segments", `{"segment_id":"bad","rule_json":{"field":"ltv","op":">","value":"x"}}`, &e); code != 400 || !strings.Contains(e.Error, "$") {
		t.Errorf("malformed JSON rule: %d %+v", code, e)
	}
	var def store.SegmentDef
	if code := call("POST", "/v1/segments", `{"segment_id":"hi","name":"High value","rule":"LTV_IGNORED"}`, &e); code != 400 {
		t.Errorf("unknown field rule: %d", code)
	}
	if code := call("POST", "/v1/segments", `{"segment_id":"hi","name":"High value","rule":"ltv >= 100   and not gdpr"}`, &def); code != 201 || def.Rule != "ltv >= 100 and not gdpr" {
		t.Errorf("create: %d %+v", code, def)
	}
	if code := call("POST", "/v1/segments", `{"segment_id":"hi","name":"High","rule":"ltv >= 200"}`, &def); code != 200 || def.Name != "High" {
		t.Errorf("replace: %d %+v", code, def)
	}
	var list struct{ Segments []store.SegmentDef }
	if code := call("GET", "/v1/segments", "", &list); code != 200 || len(list.Segments) != 2 || list.Segments[0].SegmentID != "hi" {
		t.Errorf("list: %d %+v", code, list)
	}
	var prof struct {
		CustomerID string       `json:"customer_id"`
		Scores     store.Scores `json:"scores"`
		Segments   []string     `json:"segments"`
	}
	if code := call("GET", "/v1/profiles/c1", "", &prof); code != 200 || prof.CustomerID != "c1" || prof.Scores.LTV == nil || *prof.Scores.LTV != 120.5 ||
		len(prof.Segments) != 1 || prof.Segments[0] != "vip" {
		t.Errorf("profile: %d %+v", code, prof)
	}
	if code := call("GET", "/v1/profiles/nobody", "", &e); code != 404 {
		t.Errorf("unknown profile: %d", code)
	}
	var page struct {
		Members []store.SegmentMember
		Next    string
	}
	if code := call("GET", "/v1/segments/vip/members?limit=1", "", &page); code != 200 || len(page.Members) != 1 || page.Next != "c1" {
		t.Errorf("members page 1: %d %+v", code, page)
	}
	if code := call("GET", "/v1/segments/vip/members?limit=1&after=c1", "", &page); code != 200 || len(page.Members) != 1 || page.Members[0].CustomerID != "c2" {
		t.Errorf("members page 2: %d %+v", code, page)
	}
	if code := call("DELETE", "/v1/segments/hi", "", nil); code != 204 {
		t.Errorf("delete: %d", code)
	}
	if code := call("DELETE", "/v1/segments/hi", "", &e); code != 404 {
		t.Errorf("delete again: %d", code)
	}
	if code := call("POST", "/v1/profiles/train", `{"holdout_weeks":8}`, &e); code != 202 || len(starts.trainings) != 1 || starts.trainings[0].HoldoutWeeks != 8 || starts.trainings[0].Tenant != "acme" {
		t.Errorf("train: %d %+v", code, starts.trainings)
	}
	if code := call("POST", "/v1/profiles/refresh", "", &e); code != 202 || len(starts.refreshes) != 1 || starts.refreshes[0].AsOf.IsZero() {
		t.Errorf("refresh: %d %+v", code, starts.refreshes)
	}
}

// applyJourneyRows stores one consumer batch of journey rows per tenant, as the
// consumer does (same transaction shape, same tables).
func applyJourneyRows(t *testing.T, pool *pgxpool.Pool, day time.Time, first int64, rows map[string]*store.JourneyRows) {
	t.Helper()
	ctx := context.Background()
	if err := (store.Archive{DB: pool}).EnsurePartitions(ctx, day, 0); err != nil {
		t.Fatal(err)
	}
	err := (store.Batches{DB: pool, Group: "profiles-api-seed"}).Apply(ctx, "seed", day, []int32{0}, func(map[int32]int64) ([]store.PartitionBatch, *store.PreparedDeltas) {
		return []store.PartitionBatch{{Topic: "seed", FirstOffset: first, LastOffset: first + 9, Journeys: rows}}, store.PrepareDeltas(aggregate.New())
	})
	if err != nil {
		t.Fatal(err)
	}
}

func journeyTouch(id, customer, device, channel, kind, campaign string, at time.Time) store.Touchpoint {
	return store.Touchpoint{EventID: id, OccurredAt: at, Who: store.Who{CustomerID: customer, JourneyID: "j-" + customer, DeviceID: device},
		Channel: channel, InteractionType: kind, CampaignID: campaign}
}

func journeyConv(id, customer, device string, micros int64, currency string, at time.Time) store.Conversion {
	return store.Conversion{EventID: id, OccurredAt: at, Who: store.Who{CustomerID: customer, JourneyID: "j-" + customer, DeviceID: device},
		Channel: "web", ValueMicros: micros, Currency: currency, AttributionWeight: 1}
}

type profileView struct {
	CustomerID  string                  `json:"customer_id"`
	Traits      map[string]any          `json:"traits"`
	Sources     []string                `json:"sources"`
	Scores      store.Scores            `json:"scores"`
	Segments    []string                `json:"segments"`
	Behaviour   store.CustomerBehaviour `json:"behaviour"`
	Preferences struct {
		Explicit store.ExplicitPreferences `json:"explicit"`
		Implicit store.ImplicitPreferences `json:"implicit"`
	} `json:"preferences"`
}

// TestProfileBehaviourAndPreferences: journey rows written as the consumer writes
// them show at once in the profile's live behaviour and implicit preferences, exactly;
// explicit preferences come from the CDP traits and the consent (a withdrawal of
// personalization shows); a customer known only from events has a profile; another
// tenant's same customer id never leaks, either way.
func TestProfileBehaviourAndPreferences(t *testing.T) {
	ctx := context.Background()
	pool := storetest.Postgres(t)
	tenants := store.Tenants{DB: pool}
	keys := map[string]string{}
	for _, tenant := range []string{"acme", "rival"} {
		if _, err := tenants.Create(ctx, tenant, ""); err != nil {
			t.Fatal(err)
		}
		_, key, err := tenants.CreateKey(ctx, tenant, "test", store.AllScopes)
		if err != nil {
			t.Fatal(err)
		}
		keys[tenant] = key
	}
	now := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
	day := now.Truncate(24 * time.Hour)
	at := func(month time.Month, d, hour int) time.Time {
		return time.Date(2025, month, d, hour, 0, 0, 0, time.UTC)
	}
	hasher := store.NewSubjectHasher(store.SecretsKey("api-profiles-test-key"))
	srv := httptest.NewServer(api.New(api.Options{TenantRate: 1e6, TenantBurst: 1e6, MaxBodyBytes: 1 << 20, Now: func() time.Time { return now }},
		api.Deps{Tenants: tenants, Attribution: store.Attribution{DB: pool},
			Consent: api.ConsentDeps{Privacy: store.Privacy{DB: pool, Hasher: hasher}, Audit: store.Audit{DB: pool, Hasher: hasher}}}))
	defer srv.Close()
	call := func(tenant, method, path, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+keys[tenant])
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		return res.StatusCode, raw
	}
	profile := func(tenant, customer string) profileView {
		t.Helper()
		code, raw := call(tenant, "GET", "/v1/profiles/"+customer, "")
		if code != 200 {
			t.Fatalf("GET %s profile %s: %d %s", tenant, customer, code, raw)
		}
		if strings.Contains(string(raw), "dev-") {
			t.Errorf("%s/%s: device ids in the profile: %s", tenant, customer, raw)
		}
		var v profileView
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}

	// CDP profiles: acme's c1 with preference traits, rival's c1 with its own.
	if _, err := (store.Profiles{DB: pool}).Merge(ctx, "acme", "segment", []segment.Profile{{CustomerID: "c1", SourceTimestamp: at(6, 1, 0),
		Traits: map[string]any{"email": "c1@acme.test", "preferences": map[string]any{"newsletter": true},
			"communication_preferences": map[string]any{"sms": false}, "interests": []any{"running", "tea"}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := (store.Profiles{DB: pool}).Merge(ctx, "rival", "segment", []segment.Profile{{CustomerID: "c1", SourceTimestamp: at(6, 1, 0),
		Traits: map[string]any{"interests": []any{"rival-secret"}}}}); err != nil {
		t.Fatal(err)
	}
	// Events, as the consumer stores them: acme's c1 and c9 (events only), rival's c1.
	applyJourneyRows(t, pool, day, 0, map[string]*store.JourneyRows{
		"acme": {
			Touchpoints: []store.Touchpoint{
				journeyTouch("e1", "c1", "dev-1", "email", "click", "summer", at(6, 29, 9)),
				journeyTouch("e2", "c9", "dev-9", "social", "view", "", at(6, 29, 10)),
				journeyTouch("e3", "c1", "dev-2", "social", "view", "summer", at(6, 15, 9)),
				journeyTouch("e4", "c1", "dev-1", "email", "open", "spring", at(5, 10, 20)),
			},
			Conversions: []store.Conversion{journeyConv("e5", "c1", "dev-1", 12_340_001, "EUR", at(6, 29, 9))},
		},
		"rival": {
			Touchpoints: []store.Touchpoint{journeyTouch("r1", "c1", "dev-r", "tv", "view", "rival-campaign", at(6, 29, 3))},
			Conversions: []store.Conversion{journeyConv("r2", "c1", "dev-r", 999, "GBP", at(6, 29, 3))},
		},
	})

	hour9 := 9
	first, last := at(5, 10, 20), at(6, 29, 9)
	p := profile("acme", "c1")
	wantBehaviour := store.CustomerBehaviour{AsOf: now, FirstSeen: &first, LastSeen: &last, Touchpoints7d: 1, Touchpoints30d: 2, Touchpoints90d: 3,
		Conversions90d: 1, Revenue90d: map[string]int64{"EUR": 12_340_001}, Channels90d: 2, DevicesSeen: 2}
	if !reflect.DeepEqual(p.Behaviour, wantBehaviour) {
		t.Errorf("acme/c1 behaviour:\n got %+v\nwant %+v", p.Behaviour, wantBehaviour)
	}
	share := func(n int64, total int64) float64 { return float64(n) / float64(total) }
	wantImplicit := store.ImplicitPreferences{
		TopChannels:  []store.PreferenceCount{{Value: "email", Count: 2, Share: share(2, 3)}, {Value: "social", Count: 1, Share: share(1, 3)}},
		TopCampaigns: []store.PreferenceCount{{Value: "summer", Count: 2, Share: share(2, 3)}, {Value: "spring", Count: 1, Share: share(1, 3)}},
		TopInteractionTypes: []store.PreferenceCount{{Value: "click", Count: 1, Share: share(1, 3)}, {Value: "open", Count: 1, Share: share(1, 3)},
			{Value: "view", Count: 1, Share: share(1, 3)}},
		PreferredHourUTC: &hour9,
	}
	if !reflect.DeepEqual(p.Preferences.Implicit, wantImplicit) {
		t.Errorf("acme/c1 implicit preferences:\n got %+v\nwant %+v", p.Preferences.Implicit, wantImplicit)
	}
	given := store.ConsentGiven
	wantExplicit := store.ExplicitPreferences{Traits: map[string]any{"preferences": map[string]any{"newsletter": true},
		"communication_preferences": map[string]any{"sms": false}, "interests": []any{"running", "tea"}}, Consent: &given}
	if !reflect.DeepEqual(p.Preferences.Explicit, wantExplicit) {
		t.Errorf("acme/c1 explicit preferences:\n got %+v\nwant %+v", p.Preferences.Explicit, wantExplicit)
	}
	if p.CustomerID != "c1" || p.Traits["email"] != "c1@acme.test" || len(p.Sources) != 1 || p.Segments == nil {
		t.Errorf("acme/c1 profile: %+v", p)
	}

	// A new batch shows in the very next read: no refresh in between.
	applyJourneyRows(t, pool, day, 10, map[string]*store.JourneyRows{"acme": {
		Touchpoints: []store.Touchpoint{journeyTouch("e6", "c1", "dev-3", "search", "click", "summer", at(6, 30, 11))},
	}})
	last = at(6, 30, 11)
	p = profile("acme", "c1")
	if p.Behaviour.Touchpoints7d != 2 || p.Behaviour.Touchpoints90d != 4 || p.Behaviour.Channels90d != 3 || p.Behaviour.DevicesSeen != 3 ||
		!p.Behaviour.LastSeen.Equal(last) || p.Preferences.Implicit.TopCampaigns[0] != (store.PreferenceCount{Value: "summer", Count: 3, Share: 0.75}) ||
		p.Preferences.Implicit.TopInteractionTypes[0] != (store.PreferenceCount{Value: "click", Count: 2, Share: 0.5}) {
		t.Errorf("acme/c1 after a new batch: %+v %+v", p.Behaviour, p.Preferences.Implicit)
	}

	// Personalization withdrawn: the explicit preferences show it.
	if code, raw := call("acme", "PUT", "/v1/consent/c1", `{"analytics":true,"personalization":false,"advertising":true}`); code != 200 {
		t.Fatalf("set consent: %d %s", code, raw)
	}
	p = profile("acme", "c1")
	if c := p.Preferences.Explicit.Consent; c == nil || c.Personalization || !c.Analytics || !c.Advertising || !c.Recorded || c.Source != "api" ||
		c.SourceTime == nil || !c.SourceTime.Equal(now) {
		t.Errorf("acme/c1 consent after withdrawal: %+v", c)
	}

	// Known only from events: a profile all the same, with empty CDP parts.
	p = profile("acme", "c9")
	if p.CustomerID != "c9" || len(p.Traits) != 0 || p.Sources == nil || len(p.Sources) != 0 || p.Scores.LTV != nil || len(p.Segments) != 0 ||
		p.Behaviour.Touchpoints90d != 1 || p.Behaviour.DevicesSeen != 1 || len(p.Preferences.Explicit.Traits) != 0 ||
		p.Preferences.Explicit.Consent == nil || !p.Preferences.Explicit.Consent.Personalization ||
		len(p.Preferences.Implicit.TopChannels) != 1 || p.Preferences.Implicit.TopChannels[0].Value != "social" {
		t.Errorf("acme/c9 (events only): %+v", p)
	}

	// The other tenant's c1 is its own: nothing of acme's, and acme sees nothing of it.
	p = profile("rival", "c1")
	hour3 := 3
	first, last = at(6, 29, 3), at(6, 29, 3)
	if !reflect.DeepEqual(p.Behaviour, store.CustomerBehaviour{AsOf: now, FirstSeen: &first, LastSeen: &last, Touchpoints7d: 1, Touchpoints30d: 1,
		Touchpoints90d: 1, Conversions90d: 1, Revenue90d: map[string]int64{"GBP": 999}, Channels90d: 1, DevicesSeen: 1}) ||
		!reflect.DeepEqual(p.Preferences.Implicit, store.ImplicitPreferences{TopChannels: []store.PreferenceCount{{Value: "tv", Count: 1, Share: 1}},
			TopCampaigns:        []store.PreferenceCount{{Value: "rival-campaign", Count: 1, Share: 1}},
			TopInteractionTypes: []store.PreferenceCount{{Value: "view", Count: 1, Share: 1}}, PreferredHourUTC: &hour3}) ||
		!reflect.DeepEqual(p.Preferences.Explicit, store.ExplicitPreferences{Traits: map[string]any{"interests": []any{"rival-secret"}}, Consent: &given}) {
		t.Errorf("rival/c1: %+v", p)
	}
	if _, raw := call("acme", "GET", "/v1/profiles/c1", ""); strings.Contains(string(raw), "rival") || strings.Contains(string(raw), "GBP") {
		t.Errorf("acme/c1 shows rival's data: %s", raw)
	}
	if code, raw := call("rival", "GET", "/v1/profiles/c9", ""); code != 404 {
		t.Errorf("rival reads acme's events-only customer: %d %s", code, raw)
	}
	if code, _ := call("acme", "GET", "/v1/profiles/nobody", ""); code != 404 {
		t.Errorf("unknown customer: %d", code)
	}
}
