package identity

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/touchpoint/touchpoint/events"
)

var t0 = time.Date(2025, 10, 1, 12, 0, 0, 0, time.UTC)

func day(n int) time.Time { return t0.Add(time.Duration(n) * 24 * time.Hour) }

func obs(at time.Time, ids ...string) Observation { return Observation{IDs: ids, At: at} }

// people returns every identifier's person, for comparing two graphs.
func people(g *Graph, ids []string) map[string]string {
	out := make(map[string]string, len(ids))
	for _, id := range ids {
		out[id] = g.Person(id)
	}
	return out
}

func TestCanonicalPrefersAccountsThenDevices(t *testing.T) {
	tests := []struct {
		name string
		obs  []Observation
		want string
	}{
		{"anonymous only", []Observation{obs(t0, "anon:b", "anon:a")}, "anon:a"},
		{"device over cookie", []Observation{obs(t0, "anon:a", "device:z")}, "device:z"},
		{"customer over device", []Observation{obs(t0, "device:a", "customer:z")}, "customer:z"},
		{"user over customer", []Observation{obs(t0, "customer:a", "user:z")}, "user:z"},
		{"smallest of two users", []Observation{obs(t0, "device:d", "user:b"), obs(t0, "device:d", "user:a")}, "user:a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewGraph(Config{})
			for _, o := range tt.obs {
				g.Observe(o)
			}
			for _, o := range tt.obs {
				for _, id := range o.IDs {
					if got := g.Person(id); got != tt.want {
						t.Errorf("Person(%s) = %s, want %s", id, got, tt.want)
					}
				}
			}
		})
	}
}

func TestMergeOrderDoesNotMatter(t *testing.T) {
	observations := []Observation{
		obs(day(0), "device:phone", "anon:p1"),
		obs(day(1), "device:laptop", "anon:l1", "user:alice"),
		obs(day(2), "device:phone", "anon:p2"),
		obs(day(3), "device:tablet", "anon:t1"),
		obs(day(4), "device:tablet", "user:bob"),
		obs(day(5), "device:phone", "user:alice"),
		obs(day(6), "anon:x", "device:kiosk"),
		obs(day(7), "device:tablet", "customer:c9"),
		obs(day(8), "device:laptop", "anon:l1"),
	}
	var ids []string
	for _, o := range observations {
		ids = append(ids, o.IDs...)
	}
	ref := NewGraph(Config{})
	for _, o := range observations {
		ref.Observe(o)
	}
	want, wantLinks := people(ref, ids), ref.Snapshot()
	r := rand.New(rand.NewPCG(7, 7))
	for range 50 {
		g := NewGraph(Config{})
		for _, i := range r.Perm(len(observations)) {
			g.Observe(observations[i])
		}
		if got := people(g, ids); !mapsEqual(got, want) {
			t.Fatalf("people depend on order: %v, want %v", got, want)
		}
		if got := g.Snapshot(); !slices.Equal(got, wantLinks) {
			t.Fatalf("links depend on order:\n%v\nwant\n%v", got, wantLinks)
		}
	}
	if got := want["anon:p2"]; got != "user:alice" {
		t.Errorf("phone cookie belongs to %s, want user:alice", got)
	}
	if got := want["customer:c9"]; got != "user:bob" {
		t.Errorf("customer belongs to %s, want user:bob", got)
	}
	if got := want["anon:x"]; got != "device:kiosk" {
		t.Errorf("kiosk cookie belongs to %s, want device:kiosk", got)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestCanonicalIDIsStable(t *testing.T) {
	g := NewGraph(Config{})
	g.Observe(obs(day(0), "user:m", "device:a"))
	// Ids joining the set later, or other sets forming, leave the person's name alone
	// unless a better-ranked id joins.
	steps := []Observation{
		obs(day(1), "device:a", "anon:1"),
		obs(day(2), "device:b", "anon:2"),
		obs(day(3), "device:c", "user:z"),
		obs(day(4), "device:b", "user:m"),
		obs(day(5), "anon:2", "customer:k"),
	}
	for _, o := range steps {
		g.Observe(o)
		if got := g.Person("device:a"); got != "user:m" {
			t.Fatalf("after %v Person = %s, want user:m", o.IDs, got)
		}
	}
	g.Observe(obs(day(6), "anon:1", "user:b"))
	if got := g.Person("customer:k"); got != "user:b" {
		t.Errorf("after a smaller user id joined, Person = %s, want user:b", got)
	}
	if got := g.Person("device:c"); got != "user:z" {
		t.Errorf("unrelated person renamed to %s", got)
	}
}

func TestObserveIgnoresEmptyAndSingleIDs(t *testing.T) {
	g := NewGraph(Config{})
	g.Observe(obs(t0, "anon:a"))
	g.Observe(obs(t0, "anon:a", "", "anon:a"))
	if n := len(g.Snapshot()); n != 0 {
		t.Fatalf("%d links from observations naming one id", n)
	}
	if got := g.Members("anon:a"); !slices.Equal(got, []string{"anon:a"}) {
		t.Errorf("Members of an unlinked id = %v", got)
	}
}

// A person browses on a phone anonymously, logs in on a laptop, and later on the phone:
// everything both devices did is one person's.
func TestPhoneThenLaptop(t *testing.T) {
	g := NewGraph(Config{})
	g.Observe(obs(day(0), "device:phone", "anon:p"))
	g.Observe(obs(day(1), "device:phone", "anon:p"))
	g.Observe(obs(day(2), "device:laptop", "anon:l", "user:alice"))
	if g.Person("anon:p") == g.Person("anon:l") {
		t.Fatal("phone and laptop joined before the phone logged in")
	}
	g.Observe(obs(day(5), "device:phone", "anon:p", "user:alice"))
	for _, id := range []string{"device:phone", "anon:p", "device:laptop", "anon:l"} {
		if got := g.Person(id); got != "user:alice" {
			t.Errorf("Person(%s) = %s, want user:alice", id, got)
		}
	}
	want := []string{"anon:l", "anon:p", "device:laptop", "device:phone", "user:alice"}
	if got := g.Members("anon:p"); !slices.Equal(got, want) {
		t.Errorf("Members = %v, want %v", got, want)
	}
}

func TestExpire(t *testing.T) {
	g := NewGraph(Config{LinkTTL: 30 * 24 * time.Hour})
	g.Observe(obs(day(0), "device:old", "user:u"))
	g.Observe(obs(day(20), "device:new", "user:u"))
	g.Observe(obs(day(0), "device:kept", "user:u"))
	g.Observe(obs(day(25), "device:kept", "user:u")) // seen again: the link lives on

	if n := g.Expire(day(30)); n != 0 {
		t.Fatalf("expired %d links at exactly the TTL", n)
	}
	if n := g.Expire(day(31)); n != 1 {
		t.Fatalf("expired %d links, want 1", n)
	}
	if got := g.Person("device:old"); got != "device:old" {
		t.Errorf("expired device still belongs to %s", got)
	}
	if got := g.Members("user:u"); !slices.Equal(got, []string{"device:kept", "device:new", "user:u"}) {
		t.Errorf("Members after expiry = %v", got)
	}
	if n := g.Expire(day(60)); n != 2 {
		t.Fatalf("expired %d links, want 2", n)
	}
	if got := g.Person("device:kept"); got != "device:kept" {
		t.Errorf("Person after everything expired = %s", got)
	}
}

func TestDefaultTTLIs90Days(t *testing.T) {
	g := NewGraph(Config{})
	g.Observe(obs(day(0), "device:a", "user:u"))
	if n := g.Expire(day(90)); n != 0 {
		t.Fatalf("link expired within 90 days")
	}
	if n := g.Expire(day(91)); n != 1 {
		t.Fatalf("link survived 91 days")
	}
}

func TestSnapshotRestore(t *testing.T) {
	g := NewGraph(Config{})
	g.Observe(obs(day(3), "device:b", "anon:b", "user:u"))
	g.Observe(obs(day(1), "device:b", "user:u"))
	if err := g.SetProbabilistic([]Link{newLink("device:c", "device:b", Probabilistic, 0.8, day(0), day(4))}); err != nil {
		t.Fatal(err)
	}
	links := g.Snapshot()
	want := []Link{
		{A: "anon:b", B: "user:u", Method: Deterministic, Confidence: 1, FirstSeen: day(3), LastSeen: day(3)},
		{A: "device:b", B: "device:c", Method: Probabilistic, Confidence: 0.8, FirstSeen: day(0), LastSeen: day(4)},
		{A: "device:b", B: "user:u", Method: Deterministic, Confidence: 1, FirstSeen: day(1), LastSeen: day(3)},
	}
	if !slices.Equal(links, want) {
		t.Fatalf("Snapshot =\n%v\nwant\n%v", links, want)
	}
	r, err := Restore(Config{}, links)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Snapshot(); !slices.Equal(got, links) {
		t.Errorf("restored links differ:\n%v", got)
	}
	if got := r.Person("device:c"); got != "user:u" {
		t.Errorf("restored Person(device:c) = %s", got)
	}
	if got := r.DeterministicPerson("device:c"); got != "device:c" {
		t.Errorf("restored DeterministicPerson(device:c) = %s", got)
	}
}

func TestRestoreRejectsBadLinks(t *testing.T) {
	good := Link{A: "device:a", B: "user:u", Method: Deterministic, Confidence: 1, FirstSeen: t0, LastSeen: t0}
	bad := map[string]func(*Link){
		"empty end":       func(l *Link) { l.A = "" },
		"self link":       func(l *Link) { l.B = l.A },
		"unknown method":  func(l *Link) { l.Method = "guess" },
		"zero confidence": func(l *Link) { l.Confidence = 0 },
		"time reversed":   func(l *Link) { l.LastSeen = t0.Add(-time.Hour) },
	}
	for name, spoil := range bad {
		l := good
		spoil(&l)
		if _, err := Restore(Config{}, []Link{l}); !errors.Is(err, errBadLink) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestSetProbabilisticReplaces(t *testing.T) {
	g := NewGraph(Config{})
	g.Observe(obs(day(0), "device:a", "user:u"))
	g.Observe(obs(day(0), "device:x", "user:v"))
	first := []Link{
		newLink("device:p", "device:a", Probabilistic, 0.9, day(1), day(2)),
		newLink("device:q", "device:x", Probabilistic, 0.8, day(1), day(2)),
		// Already deterministic: stays deterministic.
		newLink("device:a", "user:u", Probabilistic, 0.75, day(1), day(2)),
	}
	if err := g.SetProbabilistic(first); err != nil {
		t.Fatal(err)
	}
	if g.Person("device:p") != "user:u" || g.Person("device:q") != "user:v" {
		t.Fatalf("probabilistic links not applied")
	}
	if err := g.SetProbabilistic([]Link{newLink("device:p", "device:a", Probabilistic, 0.95, day(5), day(6))}); err != nil {
		t.Fatal(err)
	}
	if got := g.Person("device:q"); got != "device:q" {
		t.Errorf("dropped link still joins device:q to %s", got)
	}
	links := g.Snapshot()
	i := slices.IndexFunc(links, func(l Link) bool { return l.A == "device:a" && l.B == "device:p" })
	if i < 0 || links[i].FirstSeen != day(1) || links[i].Confidence != 0.95 {
		t.Errorf("re-made link = %+v, want first seen day 1 and the new confidence", links)
	}
	j := slices.IndexFunc(links, func(l Link) bool { return l.A == "device:a" && l.B == "user:u" })
	if j < 0 || links[j].Method != Deterministic {
		t.Errorf("deterministic link overwritten: %+v", links)
	}
	if err := g.SetProbabilistic([]Link{newLink("device:z", "user:u", Deterministic, 1, t0, t0)}); err == nil {
		t.Error("SetProbabilistic accepted a deterministic link")
	}
}

func TestFromEvent(t *testing.T) {
	h, err := NewIPHasher([]byte("0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	e := &events.Event{
		Timestamp:  t0,
		CustomerID: "c1",
		Device: &events.Device{
			DeviceID: "d1", AnonymousID: "a1", UserID: "u1", IP: "203.0.113.7",
			UserAgent: "UA", Geo: &events.Geo{Country: "DE", City: "Berlin"},
		},
	}
	o := FromEvent(e, h)
	if want := []string{"customer:c1", "user:u1", "device:d1", "anon:a1"}; !slices.Equal(o.IDs, want) {
		t.Errorf("IDs = %v, want %v", o.IDs, want)
	}
	if o.IP != h.Keys("203.0.113.7") || o.IP.Exact == "" {
		t.Errorf("IP keys = %+v", o.IP)
	}
	if o.UserAgent != "UA" || o.Geo.City != "Berlin" || !o.At.Equal(t0) {
		t.Errorf("context = %+v", o)
	}
	if got := o.DeviceKey(); got != "device:d1" {
		t.Errorf("DeviceKey = %s", got)
	}
	e.Device.DeviceID = ""
	if got := FromEvent(e, nil); got.DeviceKey() != "anon:a1" || got.IP != (IPKeys{}) {
		t.Errorf("without device id or hasher: %+v", got)
	}
}
