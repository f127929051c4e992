package generator

import (
	"reflect"
	"testing"
	"time"

	"github.com/touchpoint/touchpoint/events"
)

// longRun is long enough for every campaign slot to go through several lifecycles.
const longRun = 200_000

// each generates n events of a fresh generator for cfg and hands each to f.
func each(cfg Config, n int, f func(e *events.Event)) *Generator {
	g := New(cfg)
	for range n {
		e := g.Next()
		f(&e)
	}
	return g
}

func TestSameSeedSameSequence(t *testing.T) {
	cfg := Config{Seed: 7}
	a, b := New(cfg), New(cfg)
	for i := range 20_000 {
		if ea, eb := a.Next(), b.Next(); !reflect.DeepEqual(ea, eb) {
			t.Fatalf("event %d differs:\n%+v\n%+v", i, ea, eb)
		}
	}
	if !reflect.DeepEqual(a.Totals(), b.Totals()) {
		t.Error("totals differ between generators with the same config")
	}
}

func TestDifferentSeedDifferentSequence(t *testing.T) {
	a, b := New(Config{Seed: 1}), New(Config{Seed: 2})
	same := 0
	for range 1_000 {
		ea, eb := a.Next(), b.Next()
		// Event ids embed the seed, so they differ trivially; compare the rest.
		ea.EventID, eb.EventID = "", ""
		if reflect.DeepEqual(ea, eb) {
			same++
		}
	}
	if same > 0 {
		t.Errorf("%d of 1000 events are identical across seeds", same)
	}
	if reflect.DeepEqual(a.Totals(), b.Totals()) {
		t.Error("totals are identical across seeds")
	}
}

func TestCountAndTotalsTrackEvents(t *testing.T) {
	g := New(Config{Seed: 3})
	for range 1_234 {
		g.Next()
	}
	if g.Count() != 1_234 {
		t.Errorf("Count() = %d, want 1234", g.Count())
	}
	if n := g.Totals().Events(); n != 1_234 {
		t.Errorf("Totals().Events() = %d, want 1234", n)
	}
}

func TestTotalsIsADeepCopy(t *testing.T) {
	g := New(Config{Seed: 3})
	for range 10_000 {
		g.Next()
	}
	snapshot, want := g.Totals(), g.Totals()
	for range 10_000 {
		g.Next()
	}
	if !reflect.DeepEqual(snapshot, want) {
		t.Fatal("a Totals snapshot changed when more events were generated")
	}
	// Scribble over the snapshot's nested maps; the generator's record must not move.
	before := g.Totals()
	for k, v := range snapshot.Channels {
		for cur := range v.ConversionValueMicros {
			v.ConversionValueMicros[cur] = -1
		}
		snapshot.Channels[k] = v
	}
	for _, byType := range snapshot.EventsByType {
		clear(byType)
	}
	if !reflect.DeepEqual(g.Totals(), before) {
		t.Error("mutating a Totals snapshot changed the generator's totals")
	}
}

func TestEventIDsUnique(t *testing.T) {
	seen := make(map[string]bool, longRun)
	each(Config{Seed: 11}, longRun, func(e *events.Event) {
		if seen[e.EventID] {
			t.Fatalf("duplicate event id %q", e.EventID)
		}
		seen[e.EventID] = true
	})
}

func TestAllTypesAndChannelsAppear(t *testing.T) {
	types := make(map[events.Type]int)
	channels := make(map[events.Channel]bool)
	each(Config{Seed: 5}, longRun, func(e *events.Event) {
		types[e.EventType]++
		if e.Channel != "" {
			channels[e.Channel] = true
		}
		for _, tp := range e.Touchpoints {
			channels[tp.Channel] = true
		}
	})
	for _, typ := range events.AllTypes {
		if types[typ] == 0 {
			t.Errorf("no %s event in %d events", typ, longRun)
		}
	}
	for _, ch := range events.AllChannels {
		if !channels[ch] {
			t.Errorf("channel %s never appears", ch)
		}
	}
}

func TestFamilyMix(t *testing.T) {
	types := make(map[events.Type]int)
	families := make(map[events.Family]int)
	each(Config{Seed: 5}, longRun, func(e *events.Event) {
		types[e.EventType]++
		families[e.EventType.Family()]++
	})
	want := map[events.Family]float64{
		events.FamilyCampaign:        0.30,
		events.FamilyJourney:         0.55,
		events.FamilyPersonalization: 0.15,
	}
	for f, share := range want {
		got := float64(families[f]) / longRun
		if got < share-0.01 || got > share+0.01 {
			t.Errorf("%s share = %.3f, want %.2f ± 0.01", f, got, share)
		}
	}
	for _, typ := range events.AllTypes {
		t.Logf("%-24s %6.2f%%", typ, 100*float64(types[typ])/longRun)
	}
}

func TestClockStampsEvents(t *testing.T) {
	tick := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time {
		tick = tick.Add(250 * time.Millisecond)
		return tick
	}
	live, synthetic := New(Config{Seed: 9, Clock: clock}), New(Config{Seed: 9})
	for i := range 5_000 {
		e, s := live.Next(), synthetic.Next()
		if !e.Timestamp.Equal(tick) {
			t.Fatalf("event %d stamped %v, clock said %v", i, e.Timestamp, tick)
		}
		for _, tp := range e.Touchpoints {
			if tp.Timestamp.After(tick) || tp.Timestamp.Before(tick.Add(-10*time.Second)) {
				t.Fatalf("event %d: touchpoint at %v, event at %v", i, tp.Timestamp, tick)
			}
		}
		// The clock moves timestamps only: everything else follows the seed.
		if e.EventID != s.EventID || e.EventType != s.EventType || e.CustomerID != s.CustomerID {
			t.Fatalf("event %d: clock changed the sequence: %s %s vs %s %s", i, e.EventID, e.EventType, s.EventID, s.EventType)
		}
	}
}

func TestSyntheticTime(t *testing.T) {
	start := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	var n int
	each(Config{Seed: 2, Start: start, Step: 3 * time.Millisecond}, 10_000, func(e *events.Event) {
		if want := start.Add(time.Duration(n) * 3 * time.Millisecond); !e.Timestamp.Equal(want) {
			t.Fatalf("event %d at %v, want %v", n, e.Timestamp, want)
		}
		prev := time.Time{}
		for _, tp := range e.Touchpoints {
			if tp.Timestamp.After(e.Timestamp) || tp.Timestamp.Before(e.Timestamp.Add(-10*time.Second)) {
				t.Fatalf("event %d: touchpoint at %v, event at %v", n, tp.Timestamp, e.Timestamp)
			}
			if tp.Timestamp.Before(prev) {
				t.Fatalf("event %d: touchpoints out of time order", n)
			}
			prev = tp.Timestamp
		}
		n++
	})
}

func TestDefaults(t *testing.T) {
	tenants := make(map[string]bool)
	each(Config{}, 10_000, func(e *events.Event) {
		tenants[e.TenantID] = true
		if n := len(e.Touchpoints); e.EventType.Family() == events.FamilyJourney && (n < 1 || n > 3) {
			t.Fatalf("%s with %d touchpoints", e.EventType, n)
		}
	})
	want := map[string]bool{"tenant-01": true, "tenant-02": true, "tenant-03": true}
	if !reflect.DeepEqual(tenants, want) {
		t.Errorf("tenants = %v, want %v", tenants, want)
	}
}

func TestMicros(t *testing.T) {
	for _, c := range []struct {
		x    float64
		want int64
	}{{0, 0}, {19.99, 19_990_000}, {0.1 + 0.2, 300_000}, {0.0001, 100}, {-2.5, -2_500_000}, {123456.78, 123_456_780_000}} {
		if got := Micros(c.x); got != c.want {
			t.Errorf("Micros(%v) = %d, want %d", c.x, got, c.want)
		}
	}
}

func BenchmarkNext(b *testing.B) {
	g := New(Config{Seed: 1})
	b.ReportAllocs()
	for b.Loop() {
		g.Next()
	}
}
