package identity

import (
	"fmt"
	"slices"
	"testing"
)

// resolve feeds a population's observations into a fresh graph and device set.
func resolve(p *Population) (*Graph, *Devices) {
	g, d := NewGraph(Config{}), NewDevices(Config{})
	for obs := range p.Observations() {
		g.Observe(obs)
		d.Observe(obs)
	}
	return g, d
}

// qualitySeed and qualityPeople fix the population the quality figures are reported on.
const (
	qualitySeed   = 1
	qualityPeople = 5000
)

func TestSyntheticQuality(t *testing.T) {
	pop := Synthesize(SynthConfig{Seed: qualitySeed, People: qualityPeople})
	g, d := resolve(pop)
	t.Logf("seed %d: %d people, %d devices, %d device keys", qualitySeed, pop.People, pop.Devices, d.Len())
	for _, threshold := range []float64{0.5, 0.7, 0.9} {
		cfg := DefaultMatchConfig()
		cfg.Threshold = threshold
		res, err := Match(g, d, cfg)
		if err != nil {
			t.Fatal(err)
		}
		q := pop.Evaluate(g, res.Links)
		t.Logf("threshold %.1f: %d links, precision %.3f, recall %.3f (%d of %d unlinked same-person pairs), pair precision %.3f; prior %.4f from %d known matches, %d known non-matches, %d candidates",
			threshold, q.Links, q.Precision(), q.Recall(), q.FoundPairs, q.TargetPairs, q.PairPrecision(),
			res.Model.Prior, res.Model.MatchPairs, res.Model.NonMatchPairs, res.Candidates)
		if threshold == 0.7 {
			if q.Precision() < 0.9 {
				t.Errorf("precision %.3f at threshold 0.7, want at least 0.9", q.Precision())
			}
			if q.Links < 100 {
				t.Errorf("only %d links: precision over so few says little", q.Links)
			}
		}
	}
}

func TestSynthesizeIsDeterministic(t *testing.T) {
	a := Synthesize(SynthConfig{Seed: 3, People: 300})
	b := Synthesize(SynthConfig{Seed: 3, People: 300})
	c := Synthesize(SynthConfig{Seed: 4, People: 300})
	collect := func(p *Population) []string {
		var out []string
		for o := range p.Observations() {
			out = append(out, fmt.Sprint(o.At, o.IP, o.UserAgent, o.Geo, o.IDs))
		}
		return out
	}
	if !slices.Equal(collect(a), collect(b)) {
		t.Error("one seed gave two populations")
	}
	if slices.Equal(collect(a), collect(c)) {
		t.Error("two seeds gave one population")
	}
}

// The population has the structure the matcher is measured against: shared homes,
// offices, carrier addresses, travel, accounts used on some devices only.
func TestSynthesizedPopulation(t *testing.T) {
	pop := Synthesize(SynthConfig{Seed: 2, People: 2000})
	if pop.People != 2000 || pop.Devices < 2000 || pop.Devices > 8000 {
		t.Fatalf("%d people with %d devices", pop.People, pop.Devices)
	}
	type who struct{ people, devices map[int]bool }
	byAddress := make(map[string]*who)
	cities := make(map[int]map[string]bool)
	loggedIn, anonymous := make(map[string]bool), make(map[string]bool)
	for o := range pop.Observations() {
		key := o.DeviceKey()
		person, ok := pop.Truth[key]
		if !ok {
			t.Fatalf("device %s has no truth", key)
		}
		w := byAddress[o.IP.Exact]
		if w == nil {
			w = &who{map[int]bool{}, map[int]bool{}}
			byAddress[o.IP.Exact] = w
		}
		w.people[person] = true
		if cities[person] == nil {
			cities[person] = map[string]bool{}
		}
		cities[person][o.Geo.City] = true
		if slices.ContainsFunc(o.IDs, func(id string) bool { return Kind(id) == KindUser }) {
			loggedIn[key] = true
		} else {
			anonymous[key] = true
		}
	}
	shared, crowded := 0, 0
	for _, w := range byAddress {
		switch n := len(w.people); {
		case n > 20:
			crowded++
		case n > 1:
			shared++
		}
	}
	travellers := 0
	for _, cs := range cities {
		if len(cs) > 1 {
			travellers++
		}
	}
	never := 0
	for k := range anonymous {
		if !loggedIn[k] {
			never++
		}
	}
	if shared < 100 || crowded < 5 || travellers < 100 || len(loggedIn) < 500 || never < 500 {
		t.Errorf("%d shared and %d crowded addresses, %d travellers, %d devices logged in, %d never",
			shared, crowded, travellers, len(loggedIn), never)
	}
}
