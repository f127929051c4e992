package seal_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/seal"
)

var now = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

func newKey(t testing.TB, token string) seal.Key {
	t.Helper()
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return seal.Key{Token: token, Key: k}
}

// personal returns an event with every personal field set.
func personal() events.Event {
	e := events.Example(events.TouchpointInteraction, "acme", now)
	e.EventID = "ev-1"
	e.CustomerID = "alice@example.com"
	e.Device = &events.Device{
		DeviceID: "dev-1", AnonymousID: "anon-1", UserID: "user-1", IP: "203.0.113.7", UserAgent: "Mozilla/5.0",
		Geo: &events.Geo{Country: "DE", Region: "Berlin", City: "Berlin", Latitude: 52.52, Longitude: 13.405},
	}
	return e
}

func mustJSON(t *testing.T, e events.Event) string {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSealOpenRoundTrip(t *testing.T) {
	k := newKey(t, "tok-1")
	orig := personal()
	e := personal()
	shared := e.Device
	if err := seal.Seal(&e, k); err != nil {
		t.Fatal(err)
	}
	if e.Device == shared || shared.UserID != "user-1" {
		t.Fatal("Seal modified the caller's device record instead of a copy")
	}
	js := mustJSON(t, e)
	for _, secret := range []string{"alice", "dev-1", "anon-1", "user-1", "203.0.113.7", "Mozilla", "Berlin", "52.52"} {
		if strings.Contains(js, secret) {
			t.Errorf("sealed event still shows %q: %s", secret, js)
		}
	}
	if e.CustomerID != seal.CustomerIDPrefix+"tok-1" || e.Device.Geo.Country != "DE" {
		t.Fatalf("sealed event: customer_id %q, country %q", e.CustomerID, e.Device.Geo.Country)
	}
	// A sealed event still validates: the placeholder stands in for the customer.
	if err := events.DefaultRules().Validate(&e, now); err != nil {
		t.Fatalf("sealed event does not validate: %v", err)
	}
	if err := seal.Open(&e, k); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(e, orig) {
		t.Fatalf("opened event differs\ngot:  %s\nwant: %s", mustJSON(t, e), mustJSON(t, orig))
	}
}

func TestSealOpenEveryExample(t *testing.T) {
	k := newKey(t, "tok")
	for _, typ := range events.AllTypes {
		t.Run(string(typ), func(t *testing.T) {
			e := events.Example(typ, "acme", now)
			orig := e
			if e.Device != nil {
				d := *e.Device
				orig.Device = &d
			}
			if err := seal.Seal(&e, k); err != nil {
				t.Fatal(err)
			}
			if (e.Sealed != nil) != (seal.Subject(&orig) != "") {
				t.Fatalf("sealed %v, subject %q", e.Sealed != nil, seal.Subject(&orig))
			}
			if err := seal.Open(&e, k); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(e, orig) {
				t.Fatalf("opened event differs\ngot:  %s\nwant: %s", mustJSON(t, e), mustJSON(t, orig))
			}
		})
	}
}

func TestOpenWithWrongKeyFails(t *testing.T) {
	e := personal()
	if err := seal.Seal(&e, newKey(t, "tok")); err != nil {
		t.Fatal(err)
	}
	sealed := mustJSON(t, e)
	if err := seal.Open(&e, newKey(t, "tok")); !errors.Is(err, seal.ErrOpen) {
		t.Fatalf("open with another key of the same token: %v, want ErrOpen", err)
	}
	if err := seal.Open(&e, newKey(t, "other")); !errors.Is(err, seal.ErrWrongKey) {
		t.Fatalf("open with another token's key: %v, want ErrWrongKey", err)
	}
	if mustJSON(t, e) != sealed {
		t.Fatal("a failed Open changed the event")
	}
}

func TestTamperedAdditionalDataFails(t *testing.T) {
	k := newKey(t, "tok")
	tamper := map[string]func(e *events.Event){
		"event_id":   func(e *events.Event) { e.EventID = "ev-2" },
		"tenant_id":  func(e *events.Event) { e.TenantID = "other" },
		"ciphertext": func(e *events.Event) { e.Sealed.Ciphertext[0] ^= 1 },
		"nonce":      func(e *events.Event) { e.Sealed.Nonce[0] ^= 1 },
	}
	for name, change := range tamper {
		t.Run(name, func(t *testing.T) {
			e := personal()
			if err := seal.Seal(&e, k); err != nil {
				t.Fatal(err)
			}
			change(&e)
			if err := seal.Open(&e, k); !errors.Is(err, seal.ErrOpen) {
				t.Fatalf("open after changing %s: %v, want ErrOpen", name, err)
			}
		})
	}
	// A ciphertext moved to another event of the same subject does not open either.
	a, b := personal(), personal()
	b.EventID = "ev-2"
	if err := seal.Seal(&a, k); err != nil {
		t.Fatal(err)
	}
	if err := seal.Seal(&b, k); err != nil {
		t.Fatal(err)
	}
	b.Sealed = a.Sealed
	if err := seal.Open(&b, k); !errors.Is(err, seal.ErrOpen) {
		t.Fatalf("open of a moved ciphertext: %v, want ErrOpen", err)
	}
}

func TestEventsWithoutSubjectUntouched(t *testing.T) {
	e := events.Example(events.CampaignLaunch, "acme", now)
	e.Device = &events.Device{IP: "203.0.113.7", Geo: &events.Geo{Country: "DE"}} // no identifier
	orig := mustJSON(t, e)
	if err := seal.Seal(&e, newKey(t, "tok")); err != nil {
		t.Fatal(err)
	}
	if e.Sealed != nil || mustJSON(t, e) != orig {
		t.Fatalf("event without subject changed: %s", mustJSON(t, e))
	}
	if err := seal.Open(&e, newKey(t, "tok")); err != nil {
		t.Fatalf("open of an unsealed event: %v", err)
	}
}

func TestSealRefusesSealedEventAndBadKeys(t *testing.T) {
	e := personal()
	if err := seal.Seal(&e, newKey(t, "tok")); err != nil {
		t.Fatal(err)
	}
	if err := seal.Seal(&e, newKey(t, "tok")); !errors.Is(err, seal.ErrAlreadySealed) {
		t.Fatalf("sealing twice: %v", err)
	}
	e = personal()
	if err := seal.Seal(&e, seal.Key{Token: "tok", Key: []byte("short")}); err == nil {
		t.Fatal("sealed with a 5-byte key")
	}
	e = personal()
	e.EventID = ""
	if err := seal.Seal(&e, newKey(t, "tok")); err == nil {
		t.Fatal("sealed an event without event_id")
	}
}

func TestSubject(t *testing.T) {
	cases := []struct {
		e    events.Event
		want string
	}{
		{events.Event{CustomerID: "c", Device: &events.Device{UserID: "u", DeviceID: "d"}}, "c"},
		{events.Event{Device: &events.Device{UserID: "u", AnonymousID: "a", DeviceID: "d"}}, "u"},
		{events.Event{Device: &events.Device{AnonymousID: "a", DeviceID: "d"}}, "a"},
		{events.Event{Device: &events.Device{DeviceID: "d"}}, "d"},
		{events.Event{Device: &events.Device{IP: "1.2.3.4"}}, ""},
		{events.Event{}, ""},
	}
	for i, c := range cases {
		if got := seal.Subject(&c.e); got != c.want {
			t.Errorf("case %d: subject %q, want %q", i, got, c.want)
		}
	}
}

func TestEdgeOneEnsurePerTenantAndCache(t *testing.T) {
	var calls atomic.Int64
	keys := map[string]seal.Key{}
	ensure := func(_ context.Context, tenant string, subjects []string) (map[string]seal.Key, error) {
		calls.Add(1)
		out := map[string]seal.Key{}
		for _, s := range subjects {
			id := tenant + "/" + s
			if _, ok := keys[id]; !ok {
				keys[id] = newKey(t, fmt.Sprintf("tok%d", len(keys)))
			}
			out[s] = keys[id]
		}
		return out, nil
	}
	hash := func(tenant, subject string) []byte { return []byte(tenant + "\x00" + subject) }
	edge := seal.NewEdge(ensure, hash)
	batch := func() []events.Event {
		var evs []events.Event
		for i, tenant := range []string{"a", "a", "b", "a"} {
			e := personal()
			e.TenantID, e.EventID, e.CustomerID = tenant, fmt.Sprint("ev", i), fmt.Sprint("cust", i%2)
			evs = append(evs, e)
		}
		camp := events.Example(events.CampaignLaunch, "a", now)
		camp.Device = nil // a campaign event from an ad platform names no one
		return append(evs, camp)
	}
	evs := batch()
	if err := edge.SealAll(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("%d Ensure calls for two tenants, want 2", n)
	}
	if evs[1].Sealed.Token != evs[3].Sealed.Token || evs[0].Sealed.Token == evs[1].Sealed.Token {
		t.Fatal("tokens do not follow the subjects")
	}
	if evs[4].Sealed != nil {
		t.Fatal("campaign event was sealed")
	}
	if err := edge.SealAll(context.Background(), batch()); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("%d Ensure calls after a second batch of known subjects, want 2 (cached)", n)
	}
	for i := range evs[:4] {
		k := keys[evs[i].TenantID+"/"+fmt.Sprint("cust", i%2)]
		if err := seal.Open(&evs[i], k); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
}

func TestEdgeEnsureErrorIsReturned(t *testing.T) {
	boom := errors.New("postgres down")
	edge := seal.NewEdge(func(context.Context, string, []string) (map[string]seal.Key, error) { return nil, boom },
		func(t, s string) []byte { return []byte(t + s) })
	evs := []events.Event{personal()}
	if err := edge.SealAll(context.Background(), evs); !errors.Is(err, boom) {
		t.Fatalf("SealAll: %v, want the Ensure error", err)
	}
	if evs[0].Sealed != nil {
		t.Fatal("event sealed although its key could not be fetched")
	}
}

func TestCacheBoundsAndExpiry(t *testing.T) {
	c := seal.NewCache[int, int](10, time.Hour)
	for i := range 100 {
		c.Put(i, i)
	}
	if n := c.Len(); n > 10 {
		t.Fatalf("%d entries held, bound 10", n)
	}
	if v, ok := c.Get(99); !ok || v != 99 {
		t.Fatal("latest entry missing")
	}
	c.Reset()
	if _, ok := c.Get(99); ok {
		t.Fatal("entry survived Reset")
	}
	short := seal.NewCache[int, int](10, 20*time.Millisecond)
	short.Put(1, 1)
	for range 5 { // reading does not keep an entry alive
		time.Sleep(6 * time.Millisecond)
		short.Get(1)
	}
	if _, ok := short.Get(1); ok {
		t.Fatal("entry outlived its TTL")
	}
}

func BenchmarkSeal(b *testing.B) {
	k := newKey(b, "AAAAAAAAAAAAAAAAAAAAAA")
	src := personal()
	b.ReportAllocs()
	for b.Loop() {
		e := src
		if err := seal.Seal(&e, k); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	k := newKey(b, "AAAAAAAAAAAAAAAAAAAAAA")
	sealed := personal()
	if err := seal.Seal(&sealed, k); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		e := sealed
		if err := seal.Open(&e, k); err != nil {
			b.Fatal(err)
		}
	}
}
