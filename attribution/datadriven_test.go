package attribution

import (
	"math"
	"slices"
	"testing"
)

// testSynth is a population in which the channels carry a strong signal: each reaches
// 40% of journeys and multiplies the odds of converting by about 20, 9, 4.5, 2.5 and
// 1.5; with no channel a journey converts with probability 1.1%.
func testSynth(seed uint64) Synth {
	return Synth{
		Channels: []SynthChannel{
			{Name: "search", Reach: 0.4, LogOdds: 3.0},
			{Name: "email", Reach: 0.4, LogOdds: 2.2},
			{Name: "social", Reach: 0.4, LogOdds: 1.5},
			{Name: "display", Reach: 0.4, LogOdds: 0.9},
			{Name: "video", Reach: 0.4, LogOdds: 0.4},
		},
		BaseLogOdds: -4.5,
		Campaigns:   3,
		MaxTouches:  3,
		StaleRate:   0.3,
		Seed:        seed,
	}
}

// byEffect is testSynth's channels from the largest true effect down.
var byEffect = []string{"search", "email", "social", "display", "video"}

func TestDataDrivenOnSyntheticData(t *testing.T) {
	synth := testSynth(1)
	journeys := synth.Journeys(50_000)
	train, heldOut := journeys[:40_000], journeys[40_000:]
	truth := synth.TrueShares(train)
	s, err := TrainShapley(train)
	if err != nil {
		t.Fatal(err)
	}
	m, err := TrainMarkov(train)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("true shares %v", truth)
	t.Logf("shapley shares %v, effects %v", s.Shares(), s.Effects())
	t.Logf("markov shares %v", m.Shares())

	for name, shares := range map[string]map[string]float64{"truth": truth, "shapley": s.Shares(), "markov": m.Shares()} {
		if got := ranking(shares); !slices.Equal(got, byEffect) {
			t.Errorf("%s ranks channels %v, want %v", name, got, byEffect)
		}
	}
	// Only Shapley is held to the true shares: Markov removal effects credit a
	// channel for lying on converting paths, not for making them convert, which pulls
	// shares toward equal when channels reach equally many journeys.
	for c, want := range truth {
		if got := s.Shares()[c]; math.Abs(got-want) > 0.05 {
			t.Errorf("shapley share of %s %.3f, true %.3f", c, got, want)
		}
	}

	metrics := Evaluate(s, heldOut)
	t.Logf("held out: shapley %+v, markov %+v", metrics, Evaluate(m, heldOut))
	if metrics.AUC < 0.85 || metrics.LogLoss >= metrics.BaseRateLogLoss {
		t.Errorf("held-out metrics %+v: want AUC ≥ 0.85 and log-loss below the base rate's", metrics)
	}
}

// TestDataDrivenWithoutSignal: where channels do nothing, the model must not find
// anything either.
func TestDataDrivenWithoutSignal(t *testing.T) {
	synth := testSynth(2)
	for i := range synth.Channels {
		synth.Channels[i].LogOdds = 0
	}
	synth.BaseLogOdds = -1
	journeys := synth.Journeys(20_000)
	s, err := TrainShapley(journeys[:15_000])
	if err != nil {
		t.Fatal(err)
	}
	for c, e := range s.Effects() {
		if math.Abs(e) > 0.1 {
			t.Errorf("effect of %s fitted as %v, true 0", c, e)
		}
	}
	metrics := Evaluate(s, journeys[15_000:])
	if math.Abs(metrics.AUC-0.5) > 0.05 || metrics.LogLoss < metrics.BaseRateLogLoss-0.005 {
		t.Errorf("metrics without signal %+v: want AUC ≈ 0.5 and log-loss ≈ the base rate's", metrics)
	}
}

// ranking returns the channels from the largest share down.
func ranking(shares map[string]float64) []string {
	channels := make([]string, 0, len(shares))
	for c := range shares {
		channels = append(channels, c)
	}
	slices.SortFunc(channels, func(a, b string) int {
		switch {
		case shares[a] > shares[b]:
			return -1
		case shares[a] < shares[b]:
			return 1
		}
		return 0
	})
	return channels
}
