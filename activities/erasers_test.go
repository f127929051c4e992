package activities_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/connectors"
	"github.com/touchpoint/touchpoint/connectors/ga4"
	"github.com/touchpoint/touchpoint/connectors/liveramp"
	"github.com/touchpoint/touchpoint/connectors/mparticle"
	"github.com/touchpoint/touchpoint/connectors/posthog"
	"github.com/touchpoint/touchpoint/connectors/segment"
	"github.com/touchpoint/touchpoint/store"
)

func eraseConn(t *testing.T, platform, account string, creds map[string]string) store.Connection {
	t.Helper()
	raw, err := json.Marshal(creds)
	if err != nil {
		t.Fatal(err)
	}
	return store.Connection{TenantID: "t1", ConnectionID: platform + "-1", Platform: platform, AccountID: account, Credentials: raw}
}

var eraseReq = connectors.ErasureRequest{RequestID: "del-9", Regulation: "GDPR", UserIDs: []string{"user-1"},
	CustomerIDs: []string{"segment:user-1", "mparticle:user-1"}, EmailSHA256: []string{"aa"}, DeviceIDs: []string{"dev-1"}}

// eraseToDone submits and polls until the eraser reports a final state.
func eraseToDone(t *testing.T, e connectors.Eraser) connectors.ErasureStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ext, err := e.Submit(ctx, eraseReq)
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		st, err := e.Status(ctx, ext)
		if err != nil {
			t.Fatal(err)
		}
		if st.State != connectors.ErasureRunning {
			return st
		}
	}
	t.Fatal("still running after 10 polls")
	return connectors.ErasureStatus{}
}

func TestEraseFactoryPlatforms(t *testing.T) {
	seg, mp, ph, ga := segment.NewRegulationsFake(), mparticle.NewDSRFake(), posthog.NewPersonsFake(), ga4.NewUserDeletionFake()
	ph.AddPerson("user-1", "dev-1")
	servers := map[string]*httptest.Server{}
	for name, h := range map[string]http.Handler{"segment": seg, "mparticle": mp, "posthog": ph, "ga4": ga} {
		servers[name] = httptest.NewServer(h)
		t.Cleanup(servers[name].Close)
	}
	dir := t.TempDir()
	factory := activities.NewEraserFactory(activities.ErasersConfig{
		SegmentPublicAPIBaseURL: servers["segment"].URL, MParticleDSRBaseURL: servers["mparticle"].URL,
		PostHogBaseURL: servers["posthog"].URL, GA4AdminBaseURL: servers["ga4"].URL, GA4TokenURL: servers["ga4"].URL + "/token",
		LiveRampDir: dir, Limiter: rate.NewLimiter(rate.Inf, 1),
	})
	conns := map[string]store.Connection{
		"segment": eraseConn(t, activities.PlatformSegment, "", map[string]string{"space_id": "spa", "access_token": "profile-token",
			"write_key": "wk", "public_api_token": seg.Token}),
		"mparticle": eraseConn(t, activities.PlatformMParticle, "", map[string]string{"api_key": "k", "api_secret": "s",
			"dsr_api_key": mp.Key, "dsr_api_secret": mp.Secret}),
		"posthog": eraseConn(t, activities.PlatformPostHog, ph.ProjectID, map[string]string{"personal_api_key": ph.APIKey}),
		"ga4": eraseConn(t, activities.PlatformGA4, ga.PropertyID, map[string]string{"client_id": ga.ClientID,
			"client_secret": ga.ClientSecret, "refresh_token": "readonly-token", "deletion_refresh_token": ga.RefreshToken}),
		"liveramp": eraseConn(t, activities.PlatformLiveRamp, "", map[string]string{"client_id": "c", "client_secret": "s"}),
	}
	for name, c := range conns {
		e, err := factory(context.Background(), c)
		if err != nil || e == nil {
			t.Fatalf("%s: eraser %v, %v", name, e, err)
		}
		if st := eraseToDone(t, e); st.State != connectors.ErasureDone {
			t.Fatalf("%s: final state %+v", name, st)
		}
	}
	if st, _ := (&liveramp.OptOut{Dir: dir}).Status(context.Background(), liveramp.FileName("del-9")); st.Detail != liveramp.OptOutDetail {
		t.Fatalf("liveramp file not delivered: %+v", st)
	}
	for _, p := range []string{activities.PlatformGoogleAds, activities.PlatformMeta, activities.PlatformLinkedIn, "unknown"} {
		if e, err := factory(context.Background(), eraseConn(t, p, "1", map[string]string{})); e != nil || err != nil {
			t.Fatalf("%s: %v %v, want no eraser", p, e, err)
		}
	}
}

func TestEraseFactoryMissingCredentials(t *testing.T) {
	factory := activities.NewEraserFactory(activities.ErasersConfig{})
	for _, c := range []store.Connection{
		eraseConn(t, activities.PlatformSegment, "", map[string]string{"space_id": "spa", "access_token": "profile-token"}),
		eraseConn(t, activities.PlatformMParticle, "", map[string]string{"api_key": "k", "api_secret": "s"}),
		eraseConn(t, activities.PlatformGA4, "1", map[string]string{"client_id": "c"}),
		eraseConn(t, activities.PlatformPostHog, "1", map[string]string{}),
	} {
		e, err := factory(context.Background(), c)
		if err != nil || e == nil {
			t.Fatalf("%s: %v %v, want a failing eraser", c.Platform, e, err)
		}
		if _, err := e.Submit(context.Background(), eraseReq); !errors.Is(err, connectors.ErrReauthorize) {
			t.Fatalf("%s: submit %v, want ErrReauthorize", c.Platform, err)
		}
	}
	e, err := factory(context.Background(), eraseConn(t, activities.PlatformLiveRamp, "", map[string]string{}))
	if err != nil || e == nil {
		t.Fatalf("liveramp without dir: %v %v", e, err)
	}
	if _, err := e.Submit(context.Background(), eraseReq); err == nil {
		t.Fatal("liveramp without a landing directory submitted")
	}
	if _, err := factory(context.Background(), store.Connection{Platform: activities.PlatformSegment, Credentials: []byte("nope")}); err == nil {
		t.Fatal("malformed credentials accepted")
	}
}
