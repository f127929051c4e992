package worker_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"golang.org/x/time/rate"

	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/connectors"
	"github.com/touchpoint/touchpoint/connectors/googleads"
	"github.com/touchpoint/touchpoint/connectors/meta"
	"github.com/touchpoint/touchpoint/connectors/posthog"
	"github.com/touchpoint/touchpoint/internal/temporaltest"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
	"github.com/touchpoint/touchpoint/worker"
	"github.com/touchpoint/touchpoint/workflows"
)

const syncCustomer = "1234567890"

// syncFixture is a googleads fake over real HTTP and a connection to it.
type syncFixture struct {
	fake  *googleads.Fake
	srv   *httptest.Server
	conns store.Connections
}

func newSyncFixture(t *testing.T, pool *pgxpool.Pool) *syncFixture {
	t.Helper()
	fake := googleads.NewFake(42)
	fake.BatchSize = 7 // several batches per query
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return &syncFixture{fake: fake, srv: srv, conns: store.Connections{DB: pool, Key: store.SecretsKey("sync-test-key")}}
}

func (f *syncFixture) connect(t *testing.T, tenant, id string) workflows.SyncInput {
	t.Helper()
	creds, _ := json.Marshal(activities.GoogleAdsCredentials{DeveloperToken: f.fake.DeveloperToken, ClientID: f.fake.ClientID,
		ClientSecret: f.fake.ClientSecret, RefreshToken: f.fake.RefreshToken})
	if _, err := f.conns.Create(context.Background(), store.Connection{TenantID: tenant, ConnectionID: id,
		Platform: activities.PlatformGoogleAds, AccountID: syncCustomer, Credentials: creds}); err != nil {
		t.Fatal(err)
	}
	return workflows.SyncInput{Tenant: tenant, Platform: activities.PlatformGoogleAds, ConnectionID: id}
}

func (f *syncFixture) worker(c client.Client, limiter *rate.Limiter, chunkDays int) interface {
	Start() error
	Stop()
} {
	return worker.New(c, worker.Deps{
		Archive: &activities.Archive{},
		Sync: &activities.Sync{Connections: f.conns, GoogleAdsBaseURL: f.srv.URL, GoogleAdsTokenURL: f.srv.URL + "/token",
			HTTPClient: f.srv.Client(), Limiter: limiter, ChunkDays: chunkDays},
	})
}

// direct reads [from, to] from the fake with a client of its own, uninterrupted.
func (f *syncFixture) direct(t *testing.T, from, to time.Time) []connectors.CampaignDay {
	t.Helper()
	c, err := googleads.New(googleads.Config{TokenURL: f.srv.URL + "/token", BaseURL: f.srv.URL, DeveloperToken: f.fake.DeveloperToken,
		ClientID: f.fake.ClientID, ClientSecret: f.fake.ClientSecret, RefreshToken: f.fake.RefreshToken,
		HTTPClient: f.srv.Client(), Limiter: rate.NewLimiter(rate.Inf, 1)})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := c.Sync(context.Background(), syncCustomer, from, to)
	if err != nil {
		t.Fatal(err)
	}
	return sortedDays(rows)
}

func sortedDays(rows []connectors.CampaignDay) []connectors.CampaignDay {
	out := append([]connectors.CampaignDay{}, rows...)
	less := func(a, b connectors.CampaignDay) bool {
		if a.AccountID != b.AccountID {
			return a.AccountID < b.AccountID
		}
		if a.CampaignID != b.CampaignID {
			return a.CampaignID < b.CampaignID
		}
		return a.Date.Before(b.Date)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && less(out[j], out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func uniqueTenant(prefix string) string {
	return prefix + "-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 10) // the dev server may be shared
}

// TestPlatformSyncStoresTheFakesRows runs a scheduled-style incremental sync on the
// real worker against Temporal, Postgres and the Google Ads fake: the stored rows are
// the fake's for the 14-day lookback, and a rerun changes nothing.
func TestPlatformSyncStoresTheFakesRows(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pool := storetest.Postgres(t)
	c := temporaltest.Client(t)
	f := newSyncFixture(t, pool)
	in := f.connect(t, uniqueTenant("sync"), "ads")
	w := f.worker(c, rate.NewLimiter(rate.Inf, 1), 0)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	// The connection's schedule exists, at Google Ads' frequency, and is idempotent.
	for range 2 {
		if err := worker.EnsureSyncSchedule(ctx, c, in); err != nil {
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

	for run := range 2 {
		wr, err := c.ExecuteWorkflow(ctx, workflows.SyncStartOptions(in), workflows.PlatformSync, in)
		if err != nil {
			t.Fatal(err)
		}
		var res activities.SyncStreamResult
		if err := wr.Get(ctx, &res); err != nil {
			t.Fatal(err)
		}
		if days := int(res.To.Sub(res.From).Hours() / 24); days != 14 {
			t.Fatalf("run %d synced %v..%v, want the 14-day lookback", run, res.From, res.To)
		}
		got, err := f.conns.CampaignDays(ctx, in.Tenant, in.ConnectionID, res.From, res.To)
		if err != nil {
			t.Fatal(err)
		}
		want := f.direct(t, res.From, res.To)
		if len(want) == 0 || !reflect.DeepEqual(got, want) {
			t.Fatalf("run %d: stored %d rows, the fake has %d\n got %+v\nwant %+v", run, len(got), len(want), got, want)
		}
	}
}

// TestBackfillSurvivesAWorkerStop stops the worker in the middle of a backfill, starts
// another, and checks that the activity resumed from its heartbeat and that the stored
// rows equal an uninterrupted read of the same range.
func TestBackfillSurvivesAWorkerStop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pool := storetest.Postgres(t)
	c := temporaltest.Client(t)
	f := newSyncFixture(t, pool)
	in := workflows.BackfillInput{SyncInput: f.connect(t, uniqueTenant("backfill"), "ads"),
		From: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2025, 2, 9, 0, 0, 0, 0, time.UTC), ChunkDays: 20}
	// One day per request at 10 requests a second: each 20-day chunk takes ~2 s.
	slow := func() *rate.Limiter { return rate.NewLimiter(rate.Every(100*time.Millisecond), 1) }

	first := f.worker(c, slow(), 1)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	run, err := c.ExecuteWorkflow(ctx, workflows.BackfillStartOptions(in), workflows.Backfill, in)
	if err != nil {
		t.Fatal(err)
	}
	for {
		cur, ok, err := f.conns.Cursor(ctx, in.Tenant, in.ConnectionID, activities.CampaignDaysStream)
		if err != nil {
			t.Fatal(err)
		}
		if ok && !cur.Before(in.From.AddDate(0, 0, 24)) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the backfill did not get going")
		case <-time.After(10 * time.Millisecond):
		}
	}
	v, err := c.QueryWorkflow(ctx, run.GetID(), "", workflows.ProgressQuery)
	if err != nil {
		t.Fatal(err)
	}
	var mid workflows.BackfillProgress
	if err := v.Get(&mid); err != nil {
		t.Fatal(err)
	}
	first.Stop()
	if mid.Done || mid.ChunksTotal != 2 {
		t.Fatalf("progress mid-way %+v", mid)
	}

	second := f.worker(c, slow(), 1)
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	defer second.Stop()
	var got workflows.BackfillProgress
	if err := run.Get(ctx, &got); err != nil {
		t.Fatal(err)
	}
	if !got.Done || got.ChunksDone != 2 || got.Resumed < 1 || !got.SyncedTo.Equal(in.To) {
		t.Errorf("progress %+v: want both chunks done, one resumed", got)
	}
	stored, err := f.conns.CampaignDays(ctx, in.Tenant, in.ConnectionID, in.From, in.To)
	if err != nil {
		t.Fatal(err)
	}
	want := f.direct(t, in.From, in.To)
	if len(want) != 40*f.fake.Campaigns || !reflect.DeepEqual(stored, want) {
		t.Fatalf("stored %d rows, an uninterrupted read has %d", len(stored), len(want))
	}
}

// TestSyncReauthorizeAndThrottle: a revoked grant fails the sync without retries and
// marks the connection needs_reauth; a throttle is retried after the delay Google
// asked for and the sync completes.
func TestSyncReauthorizeAndThrottle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pool := storetest.Postgres(t)
	c := temporaltest.Client(t)
	f := newSyncFixture(t, pool)
	tenant := uniqueTenant("faults")
	in := f.connect(t, tenant, "ads")
	w := f.worker(c, rate.NewLimiter(rate.Inf, 1), 0)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	f.fake.ThrottleNext(1, 1500*time.Millisecond)
	began := time.Now()
	wr, err := c.ExecuteWorkflow(ctx, workflows.SyncStartOptions(in), workflows.PlatformSync, in)
	if err != nil {
		t.Fatal(err)
	}
	if err := wr.Get(ctx, nil); err != nil {
		t.Fatalf("throttled sync: %v", err)
	}
	if took := time.Since(began); took < 1500*time.Millisecond {
		t.Errorf("the throttled sync finished after %v, before the retry delay", took)
	}

	f.fake.RevokeRefreshToken()
	other := f.connect(t, tenant, "revoked")
	wr, err = c.ExecuteWorkflow(ctx, workflows.SyncStartOptions(other), workflows.PlatformSync, other)
	if err != nil {
		t.Fatal(err)
	}
	if err := wr.Get(ctx, nil); err == nil || !strings.Contains(err.Error(), activities.ErrTypeReauthorize) {
		t.Fatalf("revoked sync: %v", err)
	}
	conn, err := f.conns.Get(ctx, tenant, "revoked")
	if err != nil || conn.Status != "needs_reauth" {
		t.Fatalf("connection %+v %v", conn, err)
	}
	token, _ := f.fake.Counts()
	if token > 3 {
		t.Errorf("%d token requests: the revoked grant was retried", token)
	}
}

// TestMetaSyncStoresTheFakesRows runs a Meta connection's sync against the Meta fake:
// the stored rows are the fake's over the 28-day lookback.
func TestMetaSyncStoresTheFakesRows(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pool := storetest.Postgres(t)
	c := temporaltest.Client(t)
	fake := meta.NewFake(5)
	srv := httptest.NewServer(fake)
	defer srv.Close()
	conns := store.Connections{DB: pool, Key: store.SecretsKey("meta-test-key")}
	tenant := uniqueTenant("meta")
	creds, _ := json.Marshal(activities.MetaCredentials{AccessToken: fake.Token})
	if _, err := conns.Create(ctx, store.Connection{TenantID: tenant, ConnectionID: "fb", Platform: activities.PlatformMeta,
		AccountID: "act_1234", Credentials: creds}); err != nil {
		t.Fatal(err)
	}
	w := worker.New(c, worker.Deps{Archive: &activities.Archive{}, Sync: &activities.Sync{Connections: conns,
		MetaBaseURL: srv.URL, HTTPClient: srv.Client(), Limiter: rate.NewLimiter(rate.Inf, 1)}})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	in := workflows.SyncInput{Tenant: tenant, Platform: activities.PlatformMeta, ConnectionID: "fb"}
	wr, err := c.ExecuteWorkflow(ctx, workflows.SyncStartOptions(in), workflows.PlatformSync, in)
	if err != nil {
		t.Fatal(err)
	}
	var res activities.SyncStreamResult
	if err := wr.Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if days := int(res.To.Sub(res.From).Hours() / 24); days != 28 {
		t.Fatalf("synced %v..%v, want the 28-day lookback", res.From, res.To)
	}
	mc := meta.New(srv.URL, "v23.0", fake.Token)
	mc.HTTPClient, mc.Limiter = srv.Client(), rate.NewLimiter(rate.Inf, 1)
	mc.PollInterval = time.Millisecond
	direct, err := mc.CampaignDays(ctx, "act_1234", res.From, res.To)
	if err != nil {
		t.Fatal(err)
	}
	got, err := conns.CampaignDays(ctx, tenant, "fb", res.From, res.To)
	if err != nil {
		t.Fatal(err)
	}
	if want := sortedDays(direct); len(want) == 0 || !reflect.DeepEqual(got, want) {
		t.Fatalf("stored %d rows, the fake has %d", len(got), len(want))
	}
}

// TestSlowFetchKeepsHeartbeating: PostHog's client waits out a 6 s Retry-After inside
// one fetch, longer than the sync activity's 5 s heartbeat timeout. The activity
// heartbeats while it waits, so its first attempt completes: no attempt timed out.
func TestSlowFetchKeepsHeartbeating(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool := storetest.Postgres(t)
	c := temporaltest.Client(t)
	fake := posthog.NewFake(3)
	srv := httptest.NewServer(fake)
	defer srv.Close()
	conns := store.Connections{DB: pool, Key: store.SecretsKey("posthog-test-key")}
	tenant := uniqueTenant("posthog")
	creds, _ := json.Marshal(activities.PostHogCredentials{PersonalAPIKey: fake.APIKey})
	if _, err := conns.Create(ctx, store.Connection{TenantID: tenant, ConnectionID: "ph", Platform: activities.PlatformPostHog,
		AccountID: fake.ProjectID, Credentials: creds}); err != nil {
		t.Fatal(err)
	}
	w := worker.New(c, worker.Deps{Archive: &activities.Archive{}, Sync: &activities.Sync{Connections: conns,
		PostHogBaseURL: srv.URL, HTTPClient: srv.Client(), Limiter: rate.NewLimiter(rate.Inf, 1)}})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	fake.ThrottleNext(1, 6*time.Second)
	in := workflows.SyncInput{Tenant: tenant, Platform: activities.PlatformPostHog, ConnectionID: "ph"}
	began := time.Now()
	wr, err := c.ExecuteWorkflow(ctx, workflows.SyncStartOptions(in), workflows.PlatformSync, in)
	if err != nil {
		t.Fatal(err)
	}
	var res activities.SyncStreamResult
	if err := wr.Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took < 6*time.Second {
		t.Fatalf("the sync finished after %v, before the 6 s Retry-After", took)
	}
	if stored, err := conns.CampaignDays(ctx, tenant, "ph", res.From, res.To); err != nil || len(stored) == 0 || len(stored) != res.Rows {
		t.Fatalf("stored %d rows (%v), the activity reported %d", len(stored), err, res.Rows)
	}
	hist := c.GetWorkflowHistory(ctx, wr.GetID(), wr.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for hist.HasNext() {
		ev, err := hist.Next()
		if err != nil {
			t.Fatal(err)
		}
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil && a.GetAttempt() != 1 {
			t.Fatalf("SyncStream completed on attempt %d: an attempt timed out while the client waited", a.GetAttempt())
		}
	}
}
