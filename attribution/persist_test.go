package attribution

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

// TestParamsRoundTrip: a model rebuilt from its JSON-encoded parameters scores and
// credits exactly as the trained one.
func TestParamsRoundTrip(t *testing.T) {
	s := Synth{Channels: []SynthChannel{{"email", 0.5, 1}, {"search", 0.5, 0.5}, {"display", 0.4, 0}}, BaseLogOdds: -1.5, Seed: 3}
	journeys := s.Journeys(3000)
	mk, err := TrainMarkov(journeys)
	if err != nil {
		t.Fatal(err)
	}
	sh, err := TrainShapley(journeys)
	if err != nil {
		t.Fatal(err)
	}
	var mp MarkovParams
	var sp ShapleyParams
	roundTrip(t, mk.Params(), &mp)
	roundTrip(t, sh.Params(), &sp)
	mk2, err := MarkovFromParams(mp)
	if err != nil {
		t.Fatal(err)
	}
	sh2, err := ShapleyFromParams(sp)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range [][]string{nil, {"email"}, {"search", "display"}, {"email", "search", "display"}, {"tv"}} {
		if a, b := mk.PathProbability(path), mk2.PathProbability(path); a != b {
			t.Errorf("markov %v: %v, rebuilt %v", path, a, b)
		}
		if a, b := sh.PathProbability(path), sh2.PathProbability(path); math.Abs(a-b) > 1e-12 {
			t.Errorf("shapley %v: %v, rebuilt %v", path, a, b)
		}
	}
	for c, v := range mk.Shares() {
		if w := mk2.Shares()[c]; math.Abs(v-w) > 1e-12 {
			t.Errorf("markov share of %s: %v, rebuilt %v", c, v, w)
		}
	}
	j := Journey{Converted: true, ValueMicros: 1_000_000, ConvertedAt: time.Unix(1e9, 0), Touches: []Touch{
		{Channel: "email", At: time.Unix(1e9-100, 0)}, {Channel: "search", At: time.Unix(1e9-50, 0)}}}
	a, b := sh.Attribute(j, Options{}), sh2.Attribute(j, Options{})
	if len(a) != len(b) || a[0] != b[0] {
		t.Errorf("shapley credits %v, rebuilt %v", a, b)
	}
	if _, err := MarkovFromParams(MarkovParams{}); err == nil {
		t.Error("empty markov params accepted")
	}
	if _, err := ShapleyFromParams(ShapleyParams{Channels: []string{"a"}}); err == nil {
		t.Error("shapley params without effects accepted")
	}
}

func roundTrip(t *testing.T, v, into any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, into); err != nil {
		t.Fatal(err)
	}
}

func TestNonConverting(t *testing.T) {
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	at := func(h int) time.Time { return day.Add(time.Duration(h) * time.Hour) }
	touches := []PersonTouch{
		{"bob", Touch{Channel: "search", At: at(5)}}, {"bob", Touch{Channel: "email", At: at(2)}},
		{"ann", Touch{Channel: "email", At: at(1)}},                                                  // converts
		{"cid", Touch{Channel: "display", At: at(-1)}}, {"cid", Touch{Channel: "video", At: at(30)}}, // outside
		{"dan", Touch{Channel: "social", At: at(3)}},
	}
	conversions := []PersonConversion{{Person: "ann", At: at(4)}, {Person: "dan", At: at(26)}}
	got := NonConverting(touches, conversions, day, day.Add(24*time.Hour))
	if len(got) != 2 || got[0].Person != "bob" || got[1].Person != "dan" {
		t.Fatalf("paths %+v: want bob's and dan's (converting after the range)", got)
	}
	if p := pathChannels(got[0].Journey); len(p) != 2 || p[0] != "email" || p[1] != "search" || got[0].Converted {
		t.Errorf("bob's path %v", p)
	}
}
