package identity

import (
	"errors"
	"math"
	"testing"
)

// twoCouples is a crafted population: two account holders in one /24, each with a phone
// and a computer used at their own home address in Berlin. Their pairs are the only
// known pairs, so every M and U can be worked out by hand.
func twoCouples() (*Graph, *Devices) {
	g, d := NewGraph(Config{}), NewDevices(Config{})
	for _, o := range []Observation{
		seen(day(0), "198.51.100.1", iPhone, berlin, "device:1a", "user:1"),
		seen(day(2), "198.51.100.1", iPhone, berlin, "device:1a", "user:1"),
		seen(day(1), "198.51.100.1", mac, berlin, "device:1b", "user:1"),
		seen(day(0), "198.51.100.2", android, berlin, "device:2a", "user:2"),
		seen(day(1), "198.51.100.2", windows, berlin, "device:2b", "user:2"),
	} {
		g.Observe(o)
		d.Observe(o)
	}
	return g, d
}

func TestEstimateFromKnownPairs(t *testing.T) {
	g, d := twoCouples()
	res, err := Match(g, d, MatchConfig{MinTrainingPairs: 1})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Model
	if m.MatchPairs != 2 || m.NonMatchPairs != 4 || res.Candidates != 0 {
		t.Fatalf("%d known matches, %d known non-matches, %d candidates; want 2, 4, 0", m.MatchPairs, m.NonMatchPairs, res.Candidates)
	}
	// With no candidates the prior stays the share of matches among known pairs.
	if math.Abs(m.Prior-2.0/6) > 1e-9 {
		t.Errorf("prior = %v, want 1/3", m.Prior)
	}
	// The two known matches: home network, an address no one else uses, same vendor
	// (iPhone and Mac) for one and different (Android and Windows) for the other, both
	// in Berlin, no class owned twice. The four non-matches: home network, no address in
	// common, different vendors, Berlin; two of them pair a phone with a computer while
	// the other's person owns a computer too.
	// Levels are smoothed by half a count: p = (n + 0.5) / (N + 0.5 * levels).
	want := map[[2]string][2][]float64{
		{"network", ""}: {{2.5 / 3.5, .5 / 3.5, .5 / 3.5}, {4.5 / 5.5, .5 / 5.5, .5 / 5.5}},
		{"ip", "home_network"}: {
			{.5 / 4.5, 2.5 / 4.5, .5 / 4.5, .5 / 4.5, .5 / 4.5},
			{.5 / 6.5, .5 / 6.5, .5 / 6.5, .5 / 6.5, 4.5 / 6.5}},
		{"ip", "small_network"}:               {{.2, .2, .2, .2, .2}, {.2, .2, .2, .2, .2}},
		{"user_agent", "address_shared"}:      {{.125, .125, .375, .375}, {.25, .25, .25, .25}},
		{"user_agent", "no_address_shared"}:   {{.25, .25, .25, .25}, {.5 / 6, .5 / 6, .5 / 6, 4.5 / 6}},
		{"geo", "address_shared"}:             {{.625, .125, .125, .125}, {.25, .25, .25, .25}},
		{"geo", "no_address_shared"}:          {{.25, .25, .25, .25}, {.75, .5 / 6, .5 / 6, .5 / 6}},
		{"device_class", "address_shared"}:    {{2.5 / 3, .5 / 3}, {.5, .5}},
		{"device_class", "no_address_shared"}: {{.5, .5}, {.5, .5}},
	}
	seenFields := 0
	for _, fm := range m.Fields {
		w, ok := want[[2]string{fm.Field, fm.Given}]
		if !ok {
			continue
		}
		seenFields++
		for l := range fm.Levels {
			if math.Abs(fm.M[l]-w[0][l]) > 1e-12 || math.Abs(fm.U[l]-w[1][l]) > 1e-12 {
				t.Errorf("%s|%s %s: m=%v u=%v, want m=%v u=%v", fm.Field, fm.Given, fm.Levels[l], fm.M[l], fm.U[l], w[0][l], w[1][l])
			}
		}
	}
	if seenFields != len(want) {
		t.Errorf("model has %d of the %d expected field strata", seenFields, len(want))
	}

	// A pair agreeing like the Apple couple scores the sum of its level weights.
	c := Comparison{NetworkHome, IPExclusive, UASameVendor, GeoNear, ClassNew}
	llr := math.Log((2.5/3.5)/(4.5/5.5)) + math.Log((2.5/4.5)/(.5/6.5)) + math.Log(.375/.25) + math.Log(.625/.25) + math.Log((2.5/3)/.5)
	if got := m.LogLikelihoodRatio(c); math.Abs(got-llr) > 1e-9 {
		t.Errorf("LLR = %v, want %v", got, llr)
	}
	if got, want := m.Probability(c), 1/(1+math.Exp(-(math.Log(.5)+llr))); math.Abs(got-want) > 1e-9 {
		t.Errorf("probability = %v, want %v", got, want)
	}
	c[FieldUserAgent] = Missing
	if got := m.LogLikelihoodRatio(c); math.Abs(got-(llr-math.Log(.375/.25))) > 1e-9 {
		t.Errorf("a missing field still weighs: LLR = %v", got)
	}
}

func TestTooFewKnownPairs(t *testing.T) {
	g, d := twoCouples()
	if _, err := Match(g, d, DefaultMatchConfig()); !errors.Is(err, ErrTooFewKnownPairs) {
		t.Fatalf("err = %v, want ErrTooFewKnownPairs", err)
	}
}

// withStray adds a device with user agent ua that never logs in, used at the first
// couple's home.
func withStray(ua string) (*Graph, *Devices) {
	g, d := twoCouples()
	for _, o := range []Observation{
		seen(day(3), "198.51.100.1", ua, berlin, "device:stray", "anon:s"),
		seen(day(4), "198.51.100.1", ua, berlin, "device:stray", "anon:s"),
	} {
		g.Observe(o)
		d.Observe(o)
	}
	return g, d
}

func TestThreshold(t *testing.T) {
	g, d := withStray(iPhone)
	cfg := MatchConfig{MinTrainingPairs: 1, Prior: 0.5, Threshold: 1e-6}
	res, err := Match(g, d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Even at a threshold that accepts both couples, the stray joins one person only:
	// a link never joins two accounts.
	if len(res.Links) != 1 {
		t.Fatalf("links = %+v, want one", res.Links)
	}
	l := res.Links[0]
	if l.B != "device:stray" || (l.A != "device:1a" && l.A != "device:1b") || l.Method != Probabilistic {
		t.Fatalf("link = %+v, want the stray to the first couple", l)
	}
	if l.FirstSeen != day(0) || l.LastSeen != day(4) {
		t.Errorf("link seen %v to %v, want the span of both devices", l.FirstSeen, l.LastSeen)
	}
	if err := g.SetProbabilistic(res.Links); err != nil {
		t.Fatal(err)
	}
	if got := g.Person("anon:s"); got != "user:1" {
		t.Errorf("stray's cookie belongs to %s after linking, want user:1", got)
	}
	// Matching again works from the deterministic links only, so the same link comes
	// back rather than the stray counting as the first couple's known device.
	cfg.Threshold = l.Confidence
	if res, _ := Match(g, d, cfg); len(res.Links) != 1 || res.Links[0].Confidence != l.Confidence {
		t.Errorf("at a threshold equal to the probability: %+v, want the link", res.Links)
	}
	cfg.Threshold = math.Nextafter(l.Confidence, 1)
	if res, _ := Match(g, d, cfg); len(res.Links) != 0 {
		t.Errorf("just above the probability: %+v, want no link", res.Links)
	}
}

func TestRivalsShareTheProbability(t *testing.T) {
	// A stray without a user agent, at the second couple's home as often as at the
	// first's: it is one person's or the other's, and cannot be more than half likely
	// to be either.
	g, d := withStray("")
	for _, o := range []Observation{
		seen(day(3), "198.51.100.2", "", berlin, "device:stray"),
		seen(day(4), "198.51.100.2", "", berlin, "device:stray"),
	} {
		g.Observe(o)
		d.Observe(o)
	}
	res, err := Match(g, d, MatchConfig{MinTrainingPairs: 1, Prior: 0.9, Threshold: 1e-6})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Links) != 1 {
		t.Fatalf("links = %+v, want one", res.Links)
	}
	if c := res.Links[0].Confidence; c >= 0.5 {
		t.Errorf("confidence %v with an equally placed rival, want below one half", c)
	}
	// Alone, the same evidence is worth more.
	g, d = withStray("")
	alone, err := Match(g, d, MatchConfig{MinTrainingPairs: 1, Prior: 0.9, Threshold: 1e-6})
	if err != nil {
		t.Fatal(err)
	}
	if len(alone.Links) != 1 || alone.Links[0].Confidence <= res.Links[0].Confidence {
		t.Errorf("without a rival: %+v, want a more confident link than %v", alone.Links, res.Links[0].Confidence)
	}
}
