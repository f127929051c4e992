package streaming

import (
	"hash/fnv"
	"testing"
	"time"
)

func TestDedupSetRemembersWithinTheHorizon(t *testing.T) {
	d := newDedupSet(time.Minute)
	t0 := time.Unix(1_700_000_000, 0)
	a, b := hashEvent("acme", "e1"), hashEvent("acme", "e2")
	if a == hashEvent("acme2", "e1") || a == hashEvent("acm", "ee1") {
		t.Fatal("tenant and event id are not separated in the hash")
	}
	h := fnv.New128a() // archived hashes must stay the standard FNV-1a 128
	h.Write([]byte("acme\x00e1"))
	if got := h.Sum(nil); string(got) != string(a[:]) {
		t.Fatalf("hashEvent differs from hash/fnv: %x vs %x", a, got)
	}
	d.add(t0, []eventHash{a})
	if !d.contains(a) || d.contains(b) {
		t.Fatal("membership wrong")
	}
	for i := 1; i <= 4; i++ { // a stays while within the horizon
		d.add(t0.Add(time.Duration(i)*15*time.Second), nil)
		if !d.contains(a) {
			t.Fatalf("forgot a after %ds", i*15)
		}
	}
	d.add(t0.Add(2*time.Minute), []eventHash{b})
	if d.contains(a) || !d.contains(b) {
		t.Fatal("a should have expired, b should be remembered")
	}
	if len(d.gens) > 6 {
		t.Fatalf("%d generations kept", len(d.gens))
	}
	var raw []byte
	raw = append(raw, a[:]...)
	raw = append(raw, b[:]...)
	e := newDedupSet(time.Minute)
	e.load(t0, raw)
	if !e.contains(a) || !e.contains(b) || e.size() != 2 {
		t.Fatal("load")
	}
}
