package ga4

import (
	"errors"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/touchpoint/touchpoint/connectors"
)

func userDeletionSetup(t *testing.T, f *UserDeletionFake) *UserDeletion {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	u, err := NewUserDeletion(UserDeletionConfig{TokenURL: srv.URL + "/token", BaseURL: srv.URL, APIVersion: f.Version,
		PropertyID: f.PropertyID, ClientID: f.ClientID, ClientSecret: f.ClientSecret, RefreshToken: f.RefreshToken,
		HTTPClient: srv.Client(), Limiter: rate.NewLimiter(rate.Inf, 1), RetryBackoff: 5 * time.Millisecond,
		ThrottleBackoff: 40 * time.Second, DailyQuota: func(time.Time) time.Duration { return 9 * time.Hour }})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

var userDeletionReq = connectors.ErasureRequest{RequestID: "del-4", UserIDs: []string{"u-1"},
	DeviceIDs: []string{"111.222"}, AnonymousIDs: []string{"333.444", "111.222"}, CustomerIDs: []string{"c-1"}}

func TestUserDeletionAcceptedIsDone(t *testing.T) {
	f := NewUserDeletionFake()
	u := userDeletionSetup(t, f)
	ext, err := u.Submit(ctx(t), userDeletionReq)
	if err != nil {
		t.Fatal(err)
	}
	want := []map[string]string{{"clientId": "111.222"}, {"clientId": "333.444"}, {"userId": "u-1"}}
	if got := f.Deletions(); !reflect.DeepEqual(got, want) {
		t.Fatalf("deletions %v, want %v", got, want)
	}
	if !strings.HasPrefix(ext, "accepted:3:") {
		t.Fatalf("external id %q", ext)
	}
	st, err := u.Status(ctx(t), ext)
	if err != nil || st.State != connectors.ErasureDone || !strings.Contains(st.Detail, "deletionRequestTime 20") {
		t.Fatalf("status %+v %v", st, err)
	}
}

func TestUserDeletionTransientRetried(t *testing.T) {
	f := NewUserDeletionFake()
	u := userDeletionSetup(t, f)
	f.FailNext(1)
	if _, err := u.Submit(ctx(t), userDeletionReq); err != nil {
		t.Fatal(err)
	}
	if f.Calls() != 4 || len(f.Deletions()) != 3 {
		t.Fatalf("calls %d deletions %d, want 4 and 3", f.Calls(), len(f.Deletions()))
	}
}

func TestUserDeletionQuota(t *testing.T) {
	f := NewUserDeletionFake()
	u := userDeletionSetup(t, f)
	f.ThrottleNext(1)
	_, err := u.Submit(ctx(t), userDeletionReq)
	var te *connectors.ThrottledError
	if !errors.As(err, &te) || te.RetryAfter != 40*time.Second {
		t.Fatalf("short-term quota: %v, want ThrottledError of 40s", err)
	}
	f.DailyQuota = 1
	_, err = u.Submit(ctx(t), userDeletionReq)
	if !errors.As(err, &te) || te.RetryAfter != 9*time.Hour {
		t.Fatalf("daily quota: %v, want ThrottledError of 9h", err)
	}
}

func TestUserDeletionPacificMidnight(t *testing.T) {
	now := time.Date(2025, 1, 10, 7, 0, 0, 0, time.UTC) // 23:00 PST
	if d := untilPacificMidnight(now); d != time.Hour+time.Minute {
		t.Fatalf("wait %v, want 1h1m", d)
	}
}

func TestUserDeletionReauthorize(t *testing.T) {
	f := NewUserDeletionFake()
	u := userDeletionSetup(t, f)
	f.ReadOnlyGrant = true
	if _, err := u.Submit(ctx(t), userDeletionReq); !errors.Is(err, connectors.ErrReauthorize) {
		t.Fatalf("read-only grant: %v, want ErrReauthorize", err)
	}
	f.RevokeRefreshToken()
	u = userDeletionSetup(t, f)
	if _, err := u.Submit(ctx(t), userDeletionReq); !errors.Is(err, connectors.ErrReauthorize) {
		t.Fatalf("revoked grant: %v, want ErrReauthorize", err)
	}
}

func TestUserDeletionNothingToErase(t *testing.T) {
	f := NewUserDeletionFake()
	u := userDeletionSetup(t, f)
	if _, err := u.Submit(ctx(t), connectors.ErasureRequest{RequestID: "x", CustomerIDs: []string{"c"}, EmailSHA256: []string{"ab"}}); !errors.Is(err, connectors.ErrNothingToErase) {
		t.Fatalf("err %v", err)
	}
	if _, err := u.Status(ctx(t), "reg_1"); err == nil {
		t.Fatal("foreign external id accepted")
	}
}
