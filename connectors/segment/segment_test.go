package segment

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
		ProfileBaseURL: srv.URL, TrackingBaseURL: srv.URL, SpaceID: f.SpaceID, AccessToken: f.AccessToken, WriteKey: f.WriteKey,
		PageSize: 3, HTTPClient: srv.Client(), Limiter: rate.NewLimiter(rate.Inf, 1), RetryBackoff: 10 * time.Millisecond,
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

// want builds the Profile GetProfile must return from the fake's stored traits.
func want(t *testing.T, f *Fake, uid string) Profile {
	tr := f.Traits(uid)
	ts, err := time.Parse(time.RFC3339, tr["updated_at"].(string))
	if err != nil {
		t.Fatal(err)
	}
	p := Profile{CustomerID: "segment:" + uid, UserID: uid, SourceTimestamp: ts, ConsentTimestamp: ts,
		GDPR: tr["gdpr_restricted"].(bool), CCPA: tr["ccpa_do_not_sell"].(bool), Traits: tr}
	delete(tr, "updated_at")
	delete(tr, "gdpr_restricted")
	delete(tr, "ccpa_do_not_sell")
	return p
}

func TestDefaultLimiter(t *testing.T) {
	l := DefaultLimiter()
	if l.Limit() != 100 || l.Burst() != 1000 {
		t.Fatalf("limiter %v/%d, want 100/s burst 1000", l.Limit(), l.Burst())
	}
}

func TestGetProfileSeveralPages(t *testing.T) {
	f := NewFake(1, 3)
	c := setup(t, f, nil)
	got, err := c.GetProfile(ctx(t), "user-2")
	if err != nil {
		t.Fatal(err)
	}
	if w := want(t, f, "user-2"); !reflect.DeepEqual(got, w) {
		t.Fatalf("got %+v\nwant %+v", got, w)
	}
	if n, _ := f.Calls(); n != 4 { // 11 traits, 3 per page
		t.Fatalf("calls = %d, want 4", n)
	}
	again, err := c.GetProfile(ctx(t), CustomerID("user-2"))
	if err != nil || !reflect.DeepEqual(again, got) {
		t.Fatalf("rerun differs: %v %+v", err, again)
	}
}

func TestThrottleRetryAfterThenSuccess(t *testing.T) {
	f := NewFake(1, 1)
	c := setup(t, f, nil)
	f.ThrottleNext(1, time.Second)
	start := time.Now()
	got, err := c.GetProfile(ctx(t), "user-1")
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < time.Second {
		t.Fatal("Retry-After not honoured")
	}
	if !reflect.DeepEqual(got, want(t, f, "user-1")) {
		t.Fatal("profile differs after throttling")
	}
	_, times := f.Calls()
	if times[1].Sub(times[0]) < time.Second {
		t.Fatalf("retry too early: %v", times[1].Sub(times[0]))
	}
}

func TestThrottleMsBeforeNext(t *testing.T) {
	f := NewFake(1, 1)
	c := setup(t, f, nil)
	f.ThrottleNext(2, 150*time.Millisecond) // no Retry-After: body msBeforeNext only
	start := time.Now()
	if _, err := c.GetProfile(ctx(t), "user-1"); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Fatalf("took %v, want >= 300ms", el)
	}
}

func TestThrottleGivesUp(t *testing.T) {
	f := NewFake(1, 1)
	c := setup(t, f, func(c *Config) { c.MaxThrottleWaits = 1 })
	f.ThrottleNext(5, 10*time.Millisecond)
	_, err := c.GetProfile(ctx(t), "user-1")
	var te *connectors.ThrottledError
	if !errors.As(err, &te) || te.RetryAfter != 10*time.Millisecond {
		t.Fatalf("err = %v", err)
	}
}

func TestServerErrorRetried(t *testing.T) {
	f := NewFake(1, 1)
	c := setup(t, f, nil)
	f.FailNext(1)
	got, err := c.GetProfile(ctx(t), "user-1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want(t, f, "user-1")) {
		t.Fatal("profile differs after retry")
	}
	if n, _ := f.Calls(); n != 5 {
		t.Fatalf("calls = %d, want 5", n)
	}
}

func TestInvalidCredentialsFailFast(t *testing.T) {
	f := NewFake(1, 1)
	c := setup(t, f, func(c *Config) { c.AccessToken, c.WriteKey = "bad", "bad" })
	start := time.Now()
	if _, err := c.GetProfile(ctx(t), "user-1"); !errors.Is(err, connectors.ErrReauthorize) {
		t.Fatalf("profile err = %v", err)
	}
	err := c.Send(ctx(t), nil, []TrackEvent{{UserID: "user-1", Event: "x", Timestamp: time.Unix(0, 0)}})
	if !errors.Is(err, connectors.ErrReauthorize) {
		t.Fatalf("send err = %v", err)
	}
	if n, _ := f.Calls(); n != 2 || time.Since(start) > time.Second {
		t.Fatalf("calls = %d in %v", n, time.Since(start))
	}
}

func TestNotFound(t *testing.T) {
	f := NewFake(1, 1)
	c := setup(t, f, nil)
	if _, err := c.GetProfile(ctx(t), "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
}

func TestSchemaViolationOnRead(t *testing.T) {
	f := NewFake(1, 1)
	c := setup(t, f, nil)
	f.SetTraits("user-1", map[string]any{"email": 42, "age": 30, "newsletter": true, "created_at": "yesterday"})
	_, err := c.GetProfile(ctx(t), "user-1")
	var se *SchemaError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want SchemaError", err)
	}
	wantV := []string{`trait "age": not in schema`, `trait "created_at": want time, got string yesterday`, `trait "email": want string, got json.Number 42`}
	if !reflect.DeepEqual(se.Violations, wantV) {
		t.Fatalf("violations %q", se.Violations)
	}
}

func TestSchemaViolationOnSendSendsNothing(t *testing.T) {
	f := NewFake(1, 0)
	c := setup(t, f, nil)
	ps := []Profile{
		{UserID: "a", Traits: map[string]any{"email": "a@x"}},
		{UserID: "b", Traits: map[string]any{"orders": "many"}},
	}
	err := c.Send(ctx(t), ps, nil)
	var se *SchemaError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), `"orders"`) {
		t.Fatalf("err = %v", err)
	}
	if n, _ := f.Calls(); n != 0 {
		t.Fatalf("calls = %d, want 0", n)
	}
}

func TestSendRoundTripAndIdempotent(t *testing.T) {
	f := NewFake(1, 0)
	c := setup(t, f, nil)
	ts := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	p := Profile{CustomerID: CustomerID("new-1"), Traits: map[string]any{"email": "n@x", "orders": 3.0}, SourceTimestamp: ts, ConsentTimestamp: ts, GDPR: true}
	ev := []TrackEvent{{UserID: "new-1", Event: "Order Completed", Properties: map[string]any{"total": 9.5}, Timestamp: ts}}
	for range 2 {
		if err := c.Send(ctx(t), []Profile{p}, ev); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(f.Tracks()); n != 1 {
		t.Fatalf("tracks = %d, want 1 (deduplicated by messageId)", n)
	}
	got, err := c.GetProfile(ctx(t), "new-1")
	if err != nil {
		t.Fatal(err)
	}
	p.UserID = "new-1"
	if !reflect.DeepEqual(got, p) {
		t.Fatalf("got %+v\nwant %+v", got, p)
	}
}

func TestSendBatches(t *testing.T) {
	f := NewFake(1, 0)
	c := setup(t, f, nil)
	var evs []TrackEvent
	for i := range 250 {
		evs = append(evs, TrackEvent{UserID: "u", Event: "e", Timestamp: time.Unix(int64(i), 0)})
	}
	if err := c.Send(ctx(t), nil, evs); err != nil {
		t.Fatal(err)
	}
	if n, _ := f.Calls(); n != 3 || len(f.Tracks()) != 250 {
		t.Fatalf("calls %d tracks %d", n, len(f.Tracks()))
	}
}

var (
	t1 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	t2 = t1.Add(time.Hour)
)

func TestCustomerIDIdempotent(t *testing.T) {
	if CustomerID("abc") != "segment:abc" || CustomerID(CustomerID("abc")) != "segment:abc" || CustomerID(" abc ") != "segment:abc" {
		t.Fatal("CustomerID not idempotent")
	}
}

func TestMergeLatestWinsPerTrait(t *testing.T) {
	old := Profile{UserID: "u", Traits: map[string]any{"plan": "free", "email": "old@x"}, SourceTimestamp: t1}
	newer := Profile{CustomerID: "segment:u", Traits: map[string]any{"plan": "pro", "orders": 2.0}, SourceTimestamp: t2}
	m := Merge(old, newer)
	wantTraits := map[string]any{"plan": "pro", "email": "old@x", "orders": 2.0}
	if !reflect.DeepEqual(m.Traits, wantTraits) || m.CustomerID != "segment:u" || m.UserID != "u" || !m.SourceTimestamp.Equal(t2) {
		t.Fatalf("merge %+v", m)
	}
	if !m.TraitTimes["email"].Equal(t1) || !m.TraitTimes["plan"].Equal(t2) {
		t.Fatalf("trait times %v", m.TraitTimes)
	}
	// A late-arriving older observation changes nothing.
	if m2 := Merge(m, Profile{UserID: "u", Traits: map[string]any{"plan": "enterprise"}, SourceTimestamp: t1}); !reflect.DeepEqual(m2, m) {
		t.Fatalf("stale update applied: %+v", m2)
	}
	// Order of arrival does not matter.
	if !reflect.DeepEqual(Merge(newer, old), m) {
		t.Fatal("merge depends on arrival order")
	}
}

func TestMergeIdempotentAndTies(t *testing.T) {
	a := Profile{UserID: "u", Traits: map[string]any{"plan": "free"}, SourceTimestamp: t1}
	b := Profile{UserID: "u", Traits: map[string]any{"plan": "pro"}, SourceTimestamp: t1}
	ab, ba := Merge(a, b), Merge(b, a)
	if !reflect.DeepEqual(ab, ba) {
		t.Fatalf("tie not deterministic: %+v vs %+v", ab, ba)
	}
	if !reflect.DeepEqual(Merge(ab, b), ab) || !reflect.DeepEqual(Merge(ab, a), ab) || !reflect.DeepEqual(Merge(ab, ab), ab) {
		t.Fatal("merge not idempotent")
	}
	if !reflect.DeepEqual(Merge(Profile{}, a), Merge(Merge(Profile{}, a), a)) {
		t.Fatal("merge into empty not idempotent")
	}
}

func TestMergeConsent(t *testing.T) {
	a := Profile{UserID: "u", GDPR: true, CCPA: false, ConsentTimestamp: t1}
	b := Profile{UserID: "u", GDPR: false, CCPA: true, ConsentTimestamp: t2}
	if m := Merge(a, b); m.GDPR || !m.CCPA || !m.ConsentTimestamp.Equal(t2) {
		t.Fatalf("later consent should win: %+v", m)
	}
	if m := Merge(b, a); m.GDPR || !m.CCPA {
		t.Fatalf("later consent should win regardless of order: %+v", m)
	}
	b.ConsentTimestamp = t1
	if m := Merge(a, b); !m.GDPR || !m.CCPA {
		t.Fatalf("tie should keep restrictive flags: %+v", m)
	}
}

func TestMergeDifferentCustomers(t *testing.T) {
	a := Profile{UserID: "u", Traits: map[string]any{"plan": "free"}}
	b := Profile{UserID: "v", Traits: map[string]any{"plan": "pro"}, SourceTimestamp: t2}
	if SameCustomer(a, b) || !reflect.DeepEqual(Merge(a, b), a) {
		t.Fatal("profiles of different customers merged")
	}
}
