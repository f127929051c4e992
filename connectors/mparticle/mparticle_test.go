package mparticle

import (
	"context"
	"errors"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/touchpoint/touchpoint/connectors"
)

func setup(t *testing.T, f *Fake, mod func(*Config)) *Client {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cfg := Config{
		EventsBaseURL: srv.URL, ProfileBaseURL: srv.URL, TokenURL: srv.URL + "/oauth/token",
		APIKey: f.APIKey, APISecret: f.APISecret, ClientID: f.ClientID, ClientSecret: f.ClientSecret,
		OrgID: f.OrgID, AccountID: f.AccountID, WorkspaceID: f.WSID,
		HTTPClient: srv.Client(), Limiter: rate.NewLimiter(rate.Inf, 1), RetryBackoff: 10 * time.Millisecond,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func want(t *testing.T, f *Fake, uid string) Profile {
	a := f.Attributes(uid)
	ts, err := time.Parse(time.RFC3339, a["updated_at"].(string))
	if err != nil {
		t.Fatal(err)
	}
	p := Profile{CustomerID: "mparticle:" + uid, UserID: uid, SourceTimestamp: ts, ConsentTimestamp: ts,
		GDPR: a["gdpr_restricted"].(bool), CCPA: a["ccpa_do_not_sell"].(bool), Traits: a}
	delete(a, "updated_at")
	delete(a, "gdpr_restricted")
	delete(a, "ccpa_do_not_sell")
	return p
}

func TestDefaultLimiter(t *testing.T) {
	l := DefaultLimiter()
	if l.Limit() != 100 || l.Burst() != 1000 {
		t.Fatalf("limiter %v/%d, want 100/s burst 1000", l.Limit(), l.Burst())
	}
}

func TestGetProfileAndRerunIdentical(t *testing.T) {
	f := NewFake(1, 3)
	c := setup(t, f, nil)
	got, err := c.GetProfile(ctx(t), MPID("user-2"))
	if err != nil {
		t.Fatal(err)
	}
	if w := want(t, f, "user-2"); !reflect.DeepEqual(got, w) {
		t.Fatalf("got %+v\nwant %+v", got, w)
	}
	again, err := c.GetProfile(ctx(t), MPID("user-2"))
	if err != nil || !reflect.DeepEqual(again, got) {
		t.Fatalf("rerun differs: %v %+v", err, again)
	}
	if n, _ := f.Calls(); n != 3 { // one token, two profile reads
		t.Fatalf("calls = %d, want 3 (token reused)", n)
	}
}

func TestTokenExpiryRefreshed(t *testing.T) {
	f := NewFake(1, 1)
	c := setup(t, f, nil)
	if _, err := c.GetProfile(ctx(t), MPID("user-1")); err != nil {
		t.Fatal(err)
	}
	f.ExpireTokens()
	got, err := c.GetProfile(ctx(t), MPID("user-1"))
	if err != nil || !reflect.DeepEqual(got, want(t, f, "user-1")) {
		t.Fatalf("after expiry: %v %+v", err, got)
	}
	if n, _ := f.Calls(); n != 5 { // token, read, 401, token, read
		t.Fatalf("calls = %d, want 5", n)
	}
}

func TestThrottleRetryAfterThenSuccess(t *testing.T) {
	f := NewFake(1, 1)
	c := setup(t, f, nil)
	p := Profile{UserID: "u", Traits: map[string]any{"plan": "pro"}}
	f.ThrottleNext(1, time.Second)
	start := time.Now()
	if err := c.Upload(ctx(t), []Profile{p}); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < time.Second {
		t.Fatal("Retry-After not honoured")
	}
	_, times := f.Calls()
	if len(times) != 2 || times[1].Sub(times[0]) < time.Second {
		t.Fatalf("retry too early or missing: %v", times)
	}
	if len(f.Received()) != 1 {
		t.Fatal("batch not delivered after throttling")
	}
}

func TestThrottleGivesUp(t *testing.T) {
	f := NewFake(1, 1)
	c := setup(t, f, func(c *Config) { c.MaxThrottleWaits = 1 })
	f.ThrottleNext(5, 0)
	err := c.Upload(ctx(t), []Profile{{UserID: "u"}})
	var te *connectors.ThrottledError
	if !errors.As(err, &te) || te.Platform != Platform {
		t.Fatalf("err = %v", err)
	}
}

func TestServerErrorRetried(t *testing.T) {
	f := NewFake(1, 1)
	c := setup(t, f, nil)
	if _, err := c.GetProfile(ctx(t), MPID("user-1")); err != nil { // fetch the token first
		t.Fatal(err)
	}
	f.FailNext(1)
	got, err := c.GetProfile(ctx(t), MPID("user-1"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want(t, f, "user-1")) {
		t.Fatal("profile differs after retry")
	}
	if n, _ := f.Calls(); n != 4 {
		t.Fatalf("calls = %d, want 4", n)
	}
}

func TestInvalidCredentialsFailFast(t *testing.T) {
	f := NewFake(1, 1)
	c := setup(t, f, func(c *Config) { c.APISecret, c.ClientSecret = "bad", "bad" })
	start := time.Now()
	if _, err := c.GetProfile(ctx(t), MPID("user-1")); !errors.Is(err, connectors.ErrReauthorize) {
		t.Fatalf("profile err = %v", err)
	}
	if err := c.Upload(ctx(t), []Profile{{UserID: "u"}}); !errors.Is(err, connectors.ErrReauthorize) {
		t.Fatalf("upload err = %v", err)
	}
	if n, _ := f.Calls(); n != 2 || time.Since(start) > time.Second {
		t.Fatalf("calls = %d in %v", n, time.Since(start))
	}
}

func TestNotFound(t *testing.T) {
	f := NewFake(1, 1)
	c := setup(t, f, nil)
	if _, err := c.GetProfile(ctx(t), 12345); !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
}

func TestSchemaViolationOnRead(t *testing.T) {
	f := NewFake(1, 1)
	c := setup(t, f, nil)
	f.SetAttributes("user-1", map[string]any{"email": 42, "age": 30})
	_, err := c.GetProfile(ctx(t), MPID("user-1"))
	var se *SchemaError
	if !errors.As(err, &se) || len(se.Violations) != 2 {
		t.Fatalf("err = %v, want SchemaError with 2 violations", err)
	}
}

func TestSchemaViolationOnUploadSendsNothing(t *testing.T) {
	f := NewFake(1, 0)
	c := setup(t, f, nil)
	err := c.Upload(ctx(t), []Profile{
		{UserID: "a", Traits: map[string]any{"email": "a@x"}},
		{UserID: "b", Traits: map[string]any{"orders": "many"}},
	})
	var se *SchemaError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), `"orders"`) {
		t.Fatalf("err = %v", err)
	}
	if n, _ := f.Calls(); n != 0 {
		t.Fatalf("calls = %d, want 0", n)
	}
}

func TestUploadRoundTripIdempotentWithConsent(t *testing.T) {
	f := NewFake(1, 0)
	c := setup(t, f, nil)
	ts := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	p := Profile{CustomerID: CustomerID("new-1"), Traits: map[string]any{"email": "n@x", "orders": 3.0},
		SourceTimestamp: ts, ConsentTimestamp: ts, GDPR: true, CCPA: true}
	for range 2 {
		if err := c.Upload(ctx(t), []Profile{p}); err != nil {
			t.Fatal(err)
		}
	}
	rec := f.Received()
	if len(rec) != 1 {
		t.Fatalf("batches = %d, want 1 (deduplicated by source_request_id)", len(rec))
	}
	b := rec[0]
	if b.UserIdentities["customerid"] != "new-1" || b.UserIdentities["email"] != "n@x" {
		t.Fatalf("identities %v", b.UserIdentities)
	}
	if b.ConsentState == nil || b.ConsentState.GDPR[GDPRPurpose].Consented || !b.ConsentState.CCPA["data_sale_opt_out"].Consented ||
		b.ConsentState.CCPA["data_sale_opt_out"].TimestampUnixtimeMs != ts.UnixMilli() {
		t.Fatalf("consent state %+v", b.ConsentState)
	}
	got, err := c.GetProfile(ctx(t), MPID("new-1"))
	if err != nil {
		t.Fatal(err)
	}
	p.UserID = "new-1"
	if !reflect.DeepEqual(got, p) {
		t.Fatalf("got %+v\nwant %+v", got, p)
	}
}

func TestUploadBatches(t *testing.T) {
	f := NewFake(1, 0)
	c := setup(t, f, nil)
	var ps []Profile
	for i := range 250 {
		ps = append(ps, Profile{UserID: "u" + string(rune('a'+i%26)) + time.Unix(int64(i), 0).String()})
	}
	if err := c.Upload(ctx(t), ps); err != nil {
		t.Fatal(err)
	}
	if n, _ := f.Calls(); n != 3 || len(f.Received()) != 250 {
		t.Fatalf("calls %d batches %d", n, len(f.Received()))
	}
}

var (
	t1 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	t2 = t1.Add(time.Hour)
)

func TestCustomerIDIdempotent(t *testing.T) {
	if CustomerID("abc") != "mparticle:abc" || CustomerID(CustomerID("abc")) != "mparticle:abc" || CustomerID(" abc ") != "mparticle:abc" {
		t.Fatal("CustomerID not idempotent")
	}
}

func TestMergeLatestWinsAndConsent(t *testing.T) {
	old := Profile{UserID: "u", Traits: map[string]any{"plan": "free", "email": "old@x"}, SourceTimestamp: t1, GDPR: true, ConsentTimestamp: t1}
	newer := Profile{CustomerID: "mparticle:u", Traits: map[string]any{"plan": "pro"}, SourceTimestamp: t2, CCPA: true, ConsentTimestamp: t2}
	m := Merge(old, newer)
	if m.CustomerID != "mparticle:u" || m.UserID != "u" || !reflect.DeepEqual(m.Traits, map[string]any{"plan": "pro", "email": "old@x"}) {
		t.Fatalf("merge %+v", m)
	}
	if m.GDPR || !m.CCPA || !m.ConsentTimestamp.Equal(t2) {
		t.Fatalf("consent %+v", m)
	}
	if !reflect.DeepEqual(Merge(newer, old), m) || !reflect.DeepEqual(Merge(m, old), m) || !reflect.DeepEqual(Merge(m, m), m) {
		t.Fatal("merge not order-independent / idempotent")
	}
	if !reflect.DeepEqual(Merge(Profile{}, newer).CustomerID, "mparticle:u") {
		t.Fatalf("merge into empty: %+v", Merge(Profile{}, newer))
	}
	if x := Merge(old, Profile{UserID: "v", SourceTimestamp: t2}); !reflect.DeepEqual(x, old) {
		t.Fatal("different customers merged")
	}
}
