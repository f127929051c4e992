package activities_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"golang.org/x/time/rate"

	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/connectors"
	"github.com/touchpoint/touchpoint/connectors/ga4"
	"github.com/touchpoint/touchpoint/connectors/linkedin"
	"github.com/touchpoint/touchpoint/connectors/posthog"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
	"github.com/touchpoint/touchpoint/workflows"
)

// syncTo is the last day every test syncs: fixed, so the fakes' seeded rows are too.
var syncTo = time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)

// platformFixture is one platform's fake over real HTTP, a Sync pointed at it, and
// what a connection to it needs.
type platformFixture struct {
	platform string
	account  string
	good     any // credentials the fake accepts
	refused  any // well-formed credentials the fake refuses
	sync     *activities.Sync
	direct   func(ctx context.Context, from, to time.Time) ([]connectors.CampaignDay, error)
}

func newSync(t *testing.T) *activities.Sync {
	t.Helper()
	return &activities.Sync{
		Connections: store.Connections{DB: storetest.Postgres(t), Key: store.SecretsKey("sync-clients-test")},
		Limiter:     rate.NewLimiter(rate.Inf, 1),
	}
}

func linkedInFixture(t *testing.T) platformFixture {
	fake := linkedin.NewFake(11)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	s := newSync(t)
	s.LinkedInBaseURL, s.LinkedInTokenURL, s.LinkedInVersion, s.HTTPClient = srv.URL, srv.URL+"/oauth/v2/accessToken", fake.Version, srv.Client()
	lc, err := linkedin.New(linkedin.Config{BaseURL: srv.URL, TokenURL: srv.URL + "/oauth/v2/accessToken", Version: fake.Version,
		ClientID: fake.ClientID, ClientSecret: fake.ClientSecret, RefreshToken: fake.RefreshToken,
		HTTPClient: srv.Client(), Limiter: rate.NewLimiter(rate.Inf, 1)})
	if err != nil {
		t.Fatal(err)
	}
	return platformFixture{
		platform: activities.PlatformLinkedIn, account: fake.AccountID, sync: s,
		good:    activities.LinkedInCredentials{ClientID: fake.ClientID, ClientSecret: fake.ClientSecret, RefreshToken: fake.RefreshToken},
		refused: activities.LinkedInCredentials{ClientID: fake.ClientID, ClientSecret: fake.ClientSecret, RefreshToken: "revoked"},
		direct: func(ctx context.Context, from, to time.Time) ([]connectors.CampaignDay, error) {
			return lc.Sync(ctx, fake.AccountID, from, to)
		},
	}
}

func ga4Fixture(t *testing.T) platformFixture {
	fake := ga4.NewFake(12)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	s := newSync(t)
	s.GA4BaseURL, s.GA4TokenURL, s.GA4APIVersion, s.HTTPClient = srv.URL, srv.URL+"/token", fake.Version, srv.Client()
	gc, err := ga4.New(ga4.Config{BaseURL: srv.URL, TokenURL: srv.URL + "/token", APIVersion: fake.Version,
		ClientID: fake.ClientID, ClientSecret: fake.ClientSecret, RefreshToken: fake.RefreshToken,
		HTTPClient: srv.Client(), Limiter: rate.NewLimiter(rate.Inf, 1)})
	if err != nil {
		t.Fatal(err)
	}
	return platformFixture{
		platform: activities.PlatformGA4, account: fake.PropertyID, sync: s,
		good:    activities.GA4Credentials{ClientID: fake.ClientID, ClientSecret: fake.ClientSecret, RefreshToken: fake.RefreshToken},
		refused: activities.GA4Credentials{ClientID: fake.ClientID, ClientSecret: fake.ClientSecret, RefreshToken: "revoked"},
		direct: func(ctx context.Context, from, to time.Time) ([]connectors.CampaignDay, error) {
			return gc.Sync(ctx, fake.PropertyID, from, to)
		},
	}
}

func postHogFixture(t *testing.T) platformFixture {
	fake := posthog.NewFake(13)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	s := newSync(t)
	s.PostHogBaseURL, s.HTTPClient = srv.URL, srv.Client()
	pc, err := posthog.New(posthog.Config{BaseURL: srv.URL, APIKey: fake.APIKey, ProjectID: fake.ProjectID,
		HTTPClient: srv.Client(), Limiter: rate.NewLimiter(rate.Inf, 1)})
	if err != nil {
		t.Fatal(err)
	}
	return platformFixture{
		platform: activities.PlatformPostHog, account: fake.ProjectID, sync: s,
		good:    activities.PostHogCredentials{PersonalAPIKey: fake.APIKey},
		refused: activities.PostHogCredentials{PersonalAPIKey: "phx_revoked"},
		direct:  pc.CampaignDays,
	}
}

// connect stores a connection with raw credentials (JSON-encoded unless []byte).
func (f platformFixture) connect(t *testing.T, tenant, id string, creds any) activities.SyncStreamInput {
	t.Helper()
	raw, ok := creds.([]byte)
	if !ok {
		var err error
		if raw, err = json.Marshal(creds); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.sync.Connections.Create(context.Background(), store.Connection{TenantID: tenant, ConnectionID: id,
		Platform: f.platform, AccountID: f.account, Credentials: raw}); err != nil {
		t.Fatal(err)
	}
	// A zero From: the incremental sync a schedule runs, re-reading the lookback.
	return activities.SyncStreamInput{Tenant: tenant, ConnectionID: id, To: syncTo}
}

// runActivity runs SyncStream through Temporal's activity test environment, so the
// error is what the workflow's retry policy sees.
func (f platformFixture) runActivity(in activities.SyncStreamInput) (activities.SyncStreamResult, error) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(f.sync)
	var res activities.SyncStreamResult
	val, err := env.ExecuteActivity(f.sync.SyncStream, in)
	if err != nil {
		return res, err
	}
	return res, val.Get(&res)
}

// stored reads the connection's rows over the result's range.
func (f platformFixture) stored(t *testing.T, in activities.SyncStreamInput, res activities.SyncStreamResult) []connectors.CampaignDay {
	t.Helper()
	rows, err := f.sync.Connections.CampaignDays(context.Background(), in.Tenant, in.ConnectionID, res.From, res.To)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// checkSyncTwice runs the incremental sync twice over the same range: both store
// the rows an uninterrupted direct read of the fake gives, and the rerun changes
// nothing.
func checkSyncTwice(t *testing.T, f platformFixture) {
	in := f.connect(t, "acme", "conn", f.good)
	var first []connectors.CampaignDay
	for run := range 2 {
		res, err := f.runActivity(in)
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if want := syncTo.AddDate(0, 0, -activities.Lookback(f.platform)); !res.From.Equal(want) || !res.To.Equal(syncTo) {
			t.Fatalf("run %d synced %v..%v, want the %d-day lookback %v..%v", run, res.From, res.To,
				activities.Lookback(f.platform), want, syncTo)
		}
		got := f.stored(t, in, res)
		if len(got) == 0 || res.Rows != len(got) {
			t.Fatalf("run %d: stored %d rows, the activity reported %d", run, len(got), res.Rows)
		}
		if run == 0 {
			first = got
			direct, err := f.direct(context.Background(), res.From, res.To)
			if err != nil {
				t.Fatal(err)
			}
			if want := sortedDays(direct); !reflect.DeepEqual(got, want) {
				t.Fatalf("stored rows differ from the fake's\n got %+v\nwant %+v", got, want)
			}
			continue
		}
		if !reflect.DeepEqual(got, first) {
			t.Fatalf("the rerun changed the stored rows\nfirst %+v\nrerun %+v", first, got)
		}
	}
}

// sortedDays orders rows as store.Connections.CampaignDays does.
func sortedDays(rows []connectors.CampaignDay) []connectors.CampaignDay {
	out := append([]connectors.CampaignDay{}, rows...)
	key := func(d connectors.CampaignDay) string {
		return d.AccountID + "\x00" + d.CampaignID + "\x00" + d.Date.Format(time.DateOnly)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && key(out[j]) < key(out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func TestLinkedInSyncStreamRerunIdentical(t *testing.T) { checkSyncTwice(t, linkedInFixture(t)) }

func TestGA4SyncStreamRerunIdentical(t *testing.T) { checkSyncTwice(t, ga4Fixture(t)) }

func TestPostHogSyncStreamRerunIdentical(t *testing.T) { checkSyncTwice(t, postHogFixture(t)) }

// TestNewPlatformsBadCredentialsAreNotRetried: credentials that are not JSON or lack
// a field fail as SyncConfiguration naming the fields, ones the platform refuses as
// Reauthorize marking the connection needs_reauth; neither is retried.
func TestNewPlatformsBadCredentialsAreNotRetried(t *testing.T) {
	for name, fixture := range map[string]func(*testing.T) platformFixture{
		"linkedin": linkedInFixture, "ga4": ga4Fixture, "posthog": postHogFixture,
	} {
		t.Run(name, func(t *testing.T) {
			f := fixture(t)
			required := map[string]string{
				activities.PlatformLinkedIn: "client_secret", activities.PlatformGA4: "refresh_token", activities.PlatformPostHog: "personal_api_key",
			}[f.platform]
			for id, creds := range map[string]any{"notjson": []byte("not json"), "empty": []byte(`{}`)} {
				_, err := f.runActivity(f.connect(t, "acme", id, creds))
				appErr := nonRetryable(t, err, activities.ErrTypeSyncConfig)
				if !strings.Contains(appErr.Error(), f.platform+" credentials") || !strings.Contains(appErr.Error(), required) {
					t.Errorf("%s: the error does not name the platform and %s: %v", id, required, appErr)
				}
			}
			_, err := f.runActivity(f.connect(t, "acme", "refused", f.refused))
			nonRetryable(t, err, activities.ErrTypeReauthorize)
			conn, err := f.sync.Connections.Get(context.Background(), "acme", "refused")
			if err != nil || conn.Status != "needs_reauth" {
				t.Fatalf("refused connection %+v %v, want needs_reauth", conn, err)
			}
		})
	}
}

func nonRetryable(t *testing.T, err error, typ string) *temporal.ApplicationError {
	t.Helper()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != typ || !appErr.NonRetryable() {
		t.Fatalf("err = %v, want a non-retryable %s error", err, typ)
	}
	return appErr
}

// TestSyncFrequencyAndLookbackPerPlatform pins the documented schedule and lookback
// of every platform.
func TestSyncFrequencyAndLookbackPerPlatform(t *testing.T) {
	for _, c := range []struct {
		platform string
		every    time.Duration
		lookback int
	}{
		{activities.PlatformGoogleAds, 15 * time.Minute, 14},
		{activities.PlatformMeta, 30 * time.Minute, 28},
		{activities.PlatformLinkedIn, time.Hour, 7},
		{activities.PlatformGA4, 5 * time.Minute, 2},
		{activities.PlatformPostHog, 5 * time.Minute, 2},
	} {
		if got := workflows.SyncEvery(c.platform); got != c.every {
			t.Errorf("%s syncs every %v, want %v", c.platform, got, c.every)
		}
		if got := activities.Lookback(c.platform); got != c.lookback {
			t.Errorf("%s looks back %d days, want %d", c.platform, got, c.lookback)
		}
	}
}

// TestCheckCredentialsNamesMissingFields is the API's 400 message for each platform.
func TestCheckCredentialsNamesMissingFields(t *testing.T) {
	for _, c := range []struct{ platform, raw, want string }{
		{activities.PlatformLinkedIn, `{"client_id":"a"}`, "linkedin credentials lack client_secret, refresh_token"},
		{activities.PlatformGA4, `{"client_id":"a","client_secret":"b"}`, "ga4 credentials lack refresh_token"},
		{activities.PlatformPostHog, `{"api_key":"phx"}`, "posthog credentials lack personal_api_key"},
		{activities.PlatformMeta, `{}`, "meta credentials lack access_token"},
		{activities.PlatformGA4, `[1]`, "ga4 credentials are not a JSON object"},
		{"tiktok", `{}`, `unknown platform "tiktok"`},
	} {
		err := activities.CheckCredentials(c.platform, []byte(c.raw))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: %v, want %q", c.platform, c.raw, err, c.want)
		}
	}
	if err := activities.CheckCredentials(activities.PlatformPostHog, []byte(`{"personal_api_key":"phx_1"}`)); err != nil {
		t.Errorf("valid posthog credentials: %v", err)
	}
}
