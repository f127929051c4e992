package worker_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"
	"golang.org/x/time/rate"

	"github.com/touchpoint/touchpoint"
	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/aggregate"
	"github.com/touchpoint/touchpoint/connectors/liveramp"
	"github.com/touchpoint/touchpoint/connectors/segment"
	"github.com/touchpoint/touchpoint/internal/temporaltest"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
	"github.com/touchpoint/touchpoint/worker"
	"github.com/touchpoint/touchpoint/workflows"
)

// profileFixture is a worker serving ProfileSync against Postgres and fakes.
type profileFixture struct {
	pool     *pgxpool.Pool
	conns    store.Connections
	profiles store.Profiles
	privacy  store.Privacy
}

func newProfileFixture(t *testing.T) *profileFixture {
	pool := storetest.Postgres(t)
	key := store.SecretsKey("profile-test-key")
	return &profileFixture{pool: pool, conns: store.Connections{DB: pool, Key: key}, profiles: store.Profiles{DB: pool},
		privacy: store.Privacy{DB: pool, Hasher: store.NewSubjectHasher(key)}}
}

func (f *profileFixture) connect(t *testing.T, tenant, id, platform string, creds any) workflows.SyncInput {
	t.Helper()
	raw, _ := json.Marshal(creds)
	if _, err := f.conns.Create(context.Background(), store.Connection{TenantID: tenant, ConnectionID: id, Platform: platform,
		AccountID: "acct", Credentials: raw}); err != nil {
		t.Fatal(err)
	}
	return workflows.SyncInput{Tenant: tenant, Platform: platform, ConnectionID: id}
}

func (f *profileFixture) start(t *testing.T, c client.Client, a *activities.ProfileSync) {
	t.Helper()
	a.Connections, a.Profiles, a.Privacy = f.conns, f.profiles, f.privacy
	a.Limiter, a.ChunkSize = rate.NewLimiter(rate.Inf, 1), 2 // several chunks
	w := worker.New(c, worker.Deps{Archive: &activities.Archive{}, ProfileSync: a})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
}

// seedCustomers stores today's touchpoints of the customers, as the consumer would.
func (f *profileFixture) seedCustomers(t *testing.T, tenant string, customers ...string) {
	t.Helper()
	ctx := context.Background()
	today := time.Now().UTC().Truncate(24 * time.Hour)
	if err := (store.Archive{DB: f.pool}).EnsurePartitions(ctx, today, 0); err != nil {
		t.Fatal(err)
	}
	rows := &store.JourneyRows{}
	for _, cid := range customers {
		rows.Touchpoints = append(rows.Touchpoints, store.Touchpoint{EventID: "t-" + cid, OccurredAt: today,
			Who: store.Who{CustomerID: cid, JourneyID: "j-" + cid}, Channel: "email", InteractionType: "click"})
	}
	n := int64(len(customers))
	err := (store.Batches{DB: f.pool, Group: "profiles-seed"}).Apply(ctx, "seed", today, []int32{0}, func(map[int32]int64) ([]store.PartitionBatch, *store.PreparedDeltas) {
		return []store.PartitionBatch{{Topic: "seed", FirstOffset: 0, LastOffset: n - 1, Journeys: map[string]*store.JourneyRows{tenant: rows}}}, store.PrepareDeltas(aggregate.New())
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (f *profileFixture) all(t *testing.T, tenant string) []store.CustomerProfile {
	t.Helper()
	list, err := f.profiles.List(context.Background(), tenant, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func runProfileSync(t *testing.T, ctx context.Context, c client.Client, in workflows.SyncInput) activities.ProfileSyncResult {
	t.Helper()
	wr, err := c.ExecuteWorkflow(ctx, workflows.ProfileSyncStartOptions(in), workflows.ProfileSync, in)
	if err != nil {
		t.Fatal(err)
	}
	var res activities.ProfileSyncResult
	if err := wr.Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

// TestSegmentProfileSync runs a Segment connection's ProfileSync on the real worker,
// Temporal server and Postgres against the Segment fake: the profiles of the
// customers seen in journeys land as Segment has them, a GDPR-restricted subject's
// consent is withdrawn, a rerun changes nothing, and a newer trait we hold is not
// overwritten by Segment's stale one but pushed back to Segment.
func TestSegmentProfileSync(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := temporaltest.Client(t)
	f := newProfileFixture(t)
	fake := segment.NewFake(7, 6)
	for i, uid := range []string{"user-1", "user-2", "user-3"} {
		tr := fake.Traits(uid)
		tr["gdpr_restricted"], tr["ccpa_do_not_sell"] = uid == "user-2", false
		tr["updated_at"] = time.Date(2024, 1, 10+i, 12, 0, 0, 0, time.UTC).Format(time.RFC3339)
		fake.SetTraits(uid, tr)
	}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	tenant := uniqueTenant("segment")
	f.seedCustomers(t, tenant, "user-1", "user-2", "user-3", "user-4", "user-5", "not-in-segment")
	in := f.connect(t, tenant, "seg", activities.PlatformSegment,
		activities.SegmentCredentials{SpaceID: fake.SpaceID, AccessToken: fake.AccessToken, WriteKey: fake.WriteKey})
	f.start(t, c, &activities.ProfileSync{SegmentProfileBaseURL: srv.URL, SegmentTrackingBaseURL: srv.URL, HTTPClient: srv.Client()})

	// The connection's schedule: every 15 minutes, under the connection's sync schedule id.
	for range 2 {
		if err := worker.EnsureProfileSyncSchedule(ctx, c, in); err != nil {
			t.Fatal(err)
		}
	}
	h := c.ScheduleClient().GetHandle(ctx, workflows.SyncScheduleID(in.Tenant, in.Platform, in.ConnectionID))
	defer func() { _ = h.Delete(context.Background()) }()
	desc, err := h.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if iv := desc.Schedule.Spec.Intervals; len(iv) != 1 || iv[0].Every != 15*time.Minute {
		t.Fatalf("schedule intervals %+v", iv)
	}

	res := runProfileSync(t, ctx, c, in)
	if res.Customers != 6 || res.Pulled != 5 || res.Changed != 5 || res.Pushed != 0 || res.ConsentWithdrawn != 1 {
		t.Fatalf("first run %+v", res)
	}
	first := f.all(t, tenant)
	if len(first) != 5 {
		t.Fatalf("%d profiles stored, want 5", len(first))
	}
	direct, err := segment.New(segment.Config{ProfileBaseURL: srv.URL, SpaceID: fake.SpaceID, AccessToken: fake.AccessToken,
		HTTPClient: srv.Client(), Limiter: rate.NewLimiter(rate.Inf, 1)})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range first {
		want, err := direct.GetProfile(ctx, p.CustomerID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(p.Traits, want.Traits) || !p.SourceTimestamp.Equal(want.SourceTimestamp) || p.GDPR != want.GDPR ||
			p.CCPA != want.CCPA || !reflect.DeepEqual(p.Sources, []string{"segment"}) {
			t.Errorf("%s stored %+v, Segment has %+v", p.CustomerID, p, want)
		}
	}
	gdpr, err := f.privacy.Consent(ctx, tenant, "user-2")
	if err != nil || gdpr.Analytics {
		t.Fatalf("user-2 (GDPR-restricted) consent %+v %v", gdpr, err)
	}
	if _, err := f.privacy.Consent(ctx, tenant, "user-1"); touchpoint.KindOf(err) != touchpoint.ENotFound {
		t.Fatalf("user-1 consent changed: %v", err)
	}

	res = runProfileSync(t, ctx, c, in)
	if res.Changed != 0 || res.Pushed != 0 {
		t.Fatalf("rerun %+v", res)
	}
	if again := f.all(t, tenant); !reflect.DeepEqual(again, first) {
		t.Fatalf("the rerun changed the profiles\nbefore %+v\nafter  %+v", first, again)
	}

	// We learnt a newer plan for user-3 elsewhere: Segment's older one must not
	// overwrite it, and Segment gets ours.
	newer := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := f.profiles.Merge(ctx, tenant, "mparticle", []segment.Profile{{CustomerID: "user-3",
		Traits: map[string]any{"plan": "newer-plan"}, SourceTimestamp: newer, ConsentTimestamp: newer}}); err != nil {
		t.Fatal(err)
	}
	res = runProfileSync(t, ctx, c, in)
	if res.Pushed != 1 {
		t.Fatalf("run after a newer trait %+v", res)
	}
	if p, _ := f.profiles.Get(ctx, tenant, "user-3"); p.Traits["plan"] != "newer-plan" {
		t.Fatalf("stale Segment plan overwrote the newer one: %v", p.Traits["plan"])
	}
	if got := fake.Traits("user-3")["plan"]; got != "newer-plan" {
		t.Fatalf("Segment's plan %v, want the pushed newer-plan", got)
	}
}

// lookupRecorder records the hashed emails of LiveRamp lookups.
type lookupRecorder struct {
	next   http.Handler
	mu     sync.Mutex
	lookup []string
}

func (l *lookupRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/v1/batch/lookup" {
		body, _ := io.ReadAll(r.Body)
		var paths []string
		_ = json.Unmarshal(body, &paths)
		l.mu.Lock()
		l.lookup = append(l.lookup, paths...)
		l.mu.Unlock()
		r.Body = io.NopCloser(strings.NewReader(string(body)))
	}
	l.next.ServeHTTP(w, r)
}

func (l *lookupRecorder) sent() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string{}, l.lookup...)
}

// TestLiveRampProfileSync: RampIDs of the stored profiles are resolved and stored,
// GDPR- and CCPA-restricted profiles are never sent, and a rerun sends nothing.
func TestLiveRampProfileSync(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := temporaltest.Client(t)
	f := newProfileFixture(t)
	fake := liveramp.NewFake()
	rec := &lookupRecorder{next: fake}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	tenant := uniqueTenant("liveramp")
	ts := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	profile := func(id string, gdpr, ccpa bool) segment.Profile {
		return segment.Profile{CustomerID: id, Traits: map[string]any{"email": id + "@example.com"}, SourceTimestamp: ts,
			ConsentTimestamp: ts, GDPR: gdpr, CCPA: ccpa}
	}
	if _, err := f.profiles.Merge(ctx, tenant, "segment", []segment.Profile{profile("a", false, false), profile("b", false, true),
		profile("c", true, false), profile("d", false, false), profile("e", false, false)}); err != nil {
		t.Fatal(err)
	}
	in := f.connect(t, tenant, "lr", activities.PlatformLiveRamp, activities.LiveRampCredentials{ClientID: fake.ClientID, ClientSecret: fake.ClientSecret})
	f.start(t, c, &activities.ProfileSync{LiveRampBaseURL: srv.URL, HTTPClient: srv.Client()})

	res := runProfileSync(t, ctx, c, in)
	if res.RampIDs != 3 || res.NotShared != 2 {
		t.Fatalf("run %+v", res)
	}
	for _, p := range f.all(t, tenant) {
		want := ""
		if !p.GDPR && !p.CCPA {
			want = liveramp.RampIDFor(liveramp.HashEmail(p.Traits["email"].(string)))
		}
		if p.RampID != want {
			t.Errorf("%s: RampID %q, want %q", p.CustomerID, p.RampID, want)
		}
	}
	sent := rec.sent()
	if len(sent) != 3 {
		t.Fatalf("%d lookups sent, want 3: %v", len(sent), sent)
	}
	for _, restricted := range []string{"b", "c"} {
		if path := liveramp.LookupPath(restricted + "@example.com"); strings.Contains(strings.Join(sent, " "), path) {
			t.Errorf("restricted profile %s was sent to LiveRamp", restricted)
		}
	}
	before := f.all(t, tenant)
	res = runProfileSync(t, ctx, c, in)
	if len(rec.sent()) != 3 || res.RampIDs != 0 || !reflect.DeepEqual(f.all(t, tenant), before) {
		t.Fatalf("the rerun sent %d lookups, result %+v", len(rec.sent())-3, res)
	}
}
