package liveramp

import (
	"context"
	"errors"
	"fmt"
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
	cfg := Config{BaseURL: srv.URL, ClientID: f.ClientID, ClientSecret: f.ClientSecret,
		HTTPClient: srv.Client(), Limiter: rate.NewLimiter(rate.Inf, 1), RetryBackoff: 10 * time.Millisecond}
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

var (
	t1 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	t2 = t1.Add(time.Hour)
)

func profiles(n int) []Profile {
	var ps []Profile
	for i := 1; i <= n; i++ {
		ps = append(ps, Profile{CustomerID: fmt.Sprintf("segment:user-%d", i),
			Traits: map[string]any{"email": fmt.Sprintf(" User%d@Example.com ", i)}, SourceTimestamp: t1, ConsentTimestamp: t1})
	}
	return ps
}

func TestDefaultLimiter(t *testing.T) {
	l := DefaultLimiter()
	if l.Limit() != 100 || l.Burst() != 1000 {
		t.Fatalf("limiter %v/%d, want 100/s burst 1000", l.Limit(), l.Burst())
	}
}

func TestResolveBatchesAndRerunIdentical(t *testing.T) {
	f := NewFake()
	c := setup(t, f, nil)
	ps := profiles(2500)
	got, err := c.Resolve(ctx(t), ps)
	if err != nil {
		t.Fatal(err)
	}
	if tok, look := f.Stats(); tok != 1 || look != 3 {
		t.Fatalf("tokens %d lookups %d, want 1 and 3", tok, look)
	}
	for i, id := range got {
		w := RampIDFor(HashEmail(fmt.Sprintf("user%d@example.com", i+1)))
		if id.RampID != w || id.CustomerID != ps[i].CustomerID || id.Error != "" || len(id.RampID) != 49 {
			t.Fatalf("identity %d = %+v, want RampID %s", i, id, w)
		}
	}
	again, err := c.Resolve(ctx(t), ps)
	if err != nil || !reflect.DeepEqual(again, got) {
		t.Fatalf("rerun differs: %v", err)
	}
}

func TestTokenExpiryRefreshed(t *testing.T) {
	f := NewFake()
	c := setup(t, f, nil)
	if _, err := c.Resolve(ctx(t), profiles(1)); err != nil {
		t.Fatal(err)
	}
	f.ExpireTokens()
	if _, err := c.Resolve(ctx(t), profiles(1)); err != nil {
		t.Fatal(err)
	}
	if tok, look := f.Stats(); tok != 2 || look != 2 {
		t.Fatalf("tokens %d lookups %d, want 2 and 2", tok, look)
	}
}

func TestThrottleRetryAfterThenSuccess(t *testing.T) {
	f := NewFake()
	c := setup(t, f, nil)
	f.ThrottleNext(1, time.Second)
	start := time.Now()
	got, err := c.Resolve(ctx(t), profiles(1))
	if err != nil || got[0].RampID == "" {
		t.Fatalf("%v %+v", err, got)
	}
	if time.Since(start) < time.Second {
		t.Fatal("Retry-After not honoured")
	}
	_, times := f.Calls() // token, 429, lookup
	if len(times) != 3 || times[2].Sub(times[1]) < time.Second {
		t.Fatalf("retry too early or missing: %v", times)
	}
}

func TestThrottleGivesUp(t *testing.T) {
	f := NewFake()
	c := setup(t, f, func(c *Config) { c.MaxThrottleWaits = 1 })
	f.ThrottleNext(5, 0)
	_, err := c.Resolve(ctx(t), profiles(1))
	var te *connectors.ThrottledError
	if !errors.As(err, &te) || te.Platform != Platform {
		t.Fatalf("err = %v", err)
	}
}

func TestServerErrorRetried(t *testing.T) {
	f := NewFake()
	c := setup(t, f, nil)
	f.FailNext(1)
	got, err := c.Resolve(ctx(t), profiles(1))
	if err != nil || got[0].RampID == "" {
		t.Fatalf("%v %+v", err, got)
	}
	if n, _ := f.Calls(); n != 3 {
		t.Fatalf("calls = %d, want 3", n)
	}
}

func TestInvalidCredentialsFailFast(t *testing.T) {
	f := NewFake()
	c := setup(t, f, func(c *Config) { c.ClientSecret = "bad" })
	start := time.Now()
	if _, err := c.Resolve(ctx(t), profiles(1)); !errors.Is(err, connectors.ErrReauthorize) {
		t.Fatalf("err = %v", err)
	}
	if n, _ := f.Calls(); n != 1 || time.Since(start) > time.Second {
		t.Fatalf("calls = %d in %v", n, time.Since(start))
	}
}

func TestSchemaViolationsSendNothing(t *testing.T) {
	f := NewFake()
	c := setup(t, f, nil)
	for _, ps := range [][]Profile{
		append(profiles(1), Profile{CustomerID: "x", Traits: map[string]any{"email": 42}}),
		append(profiles(1), Profile{CustomerID: "y", Traits: map[string]any{"plan": "pro"}}),
	} {
		_, err := c.Resolve(ctx(t), ps)
		var se *SchemaError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), `"email"`) {
			t.Fatalf("err = %v", err)
		}
	}
	if n, _ := f.Calls(); n != 0 {
		t.Fatalf("calls = %d, want 0", n)
	}
}

func TestConsentFlagsCarried(t *testing.T) {
	f := NewFake()
	c := setup(t, f, nil)
	ps := profiles(3)
	ps[0].GDPR = true
	ps[1].CCPA = true
	got, err := c.Resolve(ctx(t), ps)
	if err != nil {
		t.Fatal(err)
	}
	if !got[0].GDPR || got[0].RampID != "" || got[0].CCPA {
		t.Fatalf("GDPR-restricted identity %+v: flag must be carried and nothing resolved", got[0])
	}
	if !got[1].CCPA || got[1].GDPR || got[1].RampID == "" || !got[1].ConsentTimestamp.Equal(t1) {
		t.Fatalf("CCPA identity %+v", got[1])
	}
	if got[2].GDPR || got[2].CCPA || got[2].RampID == "" {
		t.Fatalf("identity %+v", got[2])
	}
}

func TestCustomerIDIdempotent(t *testing.T) {
	if CustomerID(" segment:a ") != "segment:a" || CustomerID(CustomerID(" segment:a ")) != "segment:a" {
		t.Fatal("CustomerID not idempotent")
	}
}

func TestMergeIdentity(t *testing.T) {
	old := Identity{CustomerID: "c", RampID: "XYold", SourceTimestamp: t1, GDPR: true, ConsentTimestamp: t1}
	newer := Identity{CustomerID: " c ", RampID: "XYnew", SourceTimestamp: t2, CCPA: true, ConsentTimestamp: t2}
	m := MergeIdentity(old, newer)
	if m.RampID != "XYnew" || m.CustomerID != "c" || m.GDPR || !m.CCPA || !m.SourceTimestamp.Equal(t2) {
		t.Fatalf("merge %+v", m)
	}
	if MergeIdentity(newer, old) != m || MergeIdentity(MergeIdentity(Identity{}, old), newer) != m {
		t.Fatal("merge depends on arrival order")
	}
	if MergeIdentity(m, old) != m || MergeIdentity(m, m) != m || MergeIdentity(m, newer) != m {
		t.Fatal("merge not idempotent")
	}
	a, b := Identity{CustomerID: "c", RampID: "XYa", SourceTimestamp: t1}, Identity{CustomerID: "c", RampID: "XYb", SourceTimestamp: t1}
	if MergeIdentity(a, b) != MergeIdentity(b, a) {
		t.Fatal("tie not deterministic")
	}
	if x := MergeIdentity(old, Identity{CustomerID: "d", RampID: "XYz", SourceTimestamp: t2}); x != old {
		t.Fatal("different customers merged")
	}
}
