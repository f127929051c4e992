package attribution

import (
	"math"
	"reflect"
	"testing"
)

// TestExactShapleyGloveGame: player 0 holds a left glove, players 1 and 2 a right one,
// and a coalition is worth 1 if it can make a pair. The textbook values are 2/3, 1/6
// and 1/6.
func TestExactShapleyGloveGame(t *testing.T) {
	glove := func(s uint32) float64 {
		if s&1 != 0 && s&6 != 0 {
			return 1
		}
		return 0
	}
	phi := exactShapley(3, glove)
	if !near(phi[0], 2.0/3) || !near(phi[1], 1.0/6) || !near(phi[2], 1.0/6) {
		t.Errorf("glove game values %v, want 2/3 1/6 1/6", phi)
	}
}

func TestShapleyAxioms(t *testing.T) {
	// Players 0 and 1 are interchangeable, 3 adds nothing, 4 lowers conversion.
	g := logitGame{intercept: -2, effects: []float64{1, 1, 0.5, 0, -0.3}}
	for _, tt := range []struct {
		name string
		phi  []float64
		tol  float64
	}{
		{"exact", exactShapley(len(g.effects), g.value), 1e-12},
		{"sampled", sampledShapley(g, 500, 1), 0.01},
	} {
		t.Run(tt.name, func(t *testing.T) {
			all := uint32(1)<<len(g.effects) - 1
			if total := sum(tt.phi); math.Abs(total-g.value(all)) > 1e-12 {
				t.Errorf("efficiency: values sum to %v, want v(N) - v(∅) = %v", total, g.value(all))
			}
			if math.Abs(tt.phi[0]-tt.phi[1]) > tt.tol {
				t.Errorf("symmetry: %v and %v for equal players", tt.phi[0], tt.phi[1])
			}
			if tt.phi[3] != 0 {
				t.Errorf("null player: %v", tt.phi[3])
			}
			if !(tt.phi[0] > tt.phi[2] && tt.phi[2] > 0 && tt.phi[4] < 0) {
				t.Errorf("values %v do not follow the effects %v", tt.phi, g.effects)
			}
		})
	}
}

func TestSampledShapleyApproachesExact(t *testing.T) {
	g := logitGame{intercept: -3, effects: []float64{2, 1.5, 1, 0.7, 0.4, 0.2, 0.1}}
	exact := exactShapley(len(g.effects), g.value)
	sampled := sampledShapley(g, samplePermutations, sampleSeed)
	for i := range exact {
		if d := math.Abs(sampled[i] - exact[i]); d > 0.02*exact[0] {
			t.Errorf("player %d: sampled %v, exact %v", i, sampled[i], exact[i])
		}
	}
	if !reflect.DeepEqual(sampled, sampledShapley(g, samplePermutations, sampleSeed)) {
		t.Error("sampling is not reproducible")
	}
}

// TestShapleyBeyondExactLimit: past maxExactChannels the values are sampled and still
// efficient.
func TestShapleyBeyondExactLimit(t *testing.T) {
	g := logitGame{intercept: -4, effects: make([]float64, maxExactChannels+2)}
	for i := range g.effects {
		g.effects[i] = 0.3
	}
	phi := shapleyValues(g)
	all := uint32(1)<<len(g.effects) - 1
	if total := sum(phi); math.Abs(total-g.value(all)) > 1e-12 {
		t.Errorf("values sum to %v, want %v", total, g.value(all))
	}
	for i := range phi {
		if math.Abs(phi[i]-phi[0]) > 0.02*phi[0] {
			t.Errorf("equal players got %v and %v", phi[0], phi[i])
		}
	}
}

func TestShapleyModel(t *testing.T) {
	journeys := testSynth(5).Journeys(20_000)
	s, err := TrainShapley(journeys)
	if err != nil {
		t.Fatal(err)
	}
	channels := []string{"search", "email", "video", "nosuch"}
	values := s.Values(channels)
	var total float64
	for _, v := range values {
		total += v
	}
	if lift := s.PathProbability(channels) - s.PathProbability(nil); math.Abs(total-lift) > 1e-12 {
		t.Errorf("values %v sum to %v, want P(S) - P(∅) = %v", values, total, lift)
	}
	if values["nosuch"] != 0 {
		t.Errorf("unknown channel valued %v", values["nosuch"])
	}
	if p, q := s.PathProbability([]string{"search", "email"}), s.PathProbability([]string{"email", "search", "email"}); p != q {
		t.Errorf("order or repeats changed the probability: %v, %v", p, q)
	}
	again, err := TrainShapley(journeys)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.Effects(), again.Effects()) || !reflect.DeepEqual(s.Shares(), again.Shares()) {
		t.Error("training is not deterministic")
	}
}

func TestShapleyAttribute(t *testing.T) {
	s, err := TrainShapley(testSynth(6).Journeys(20_000))
	if err != nil {
		t.Fatal(err)
	}
	j := converted(1_000_001, touch("video", 3), touch("search", 2), touch("video", 1))
	credits := s.Attribute(j, Options{})
	values := s.Values([]string{"video", "search"})
	want := values["video"] / (values["video"] + values["search"])
	if len(credits) != 2 || credits[0].Channel != "video" || !near(credits[0].Share, want) {
		t.Fatalf("credits %+v, want video first with share %v", credits, want)
	}
	checkExact(t, "shapley", j, credits)
}

func TestShapleyTrainingErrors(t *testing.T) {
	if _, err := TrainShapley(nil); err == nil {
		t.Error("no journeys: no error")
	}
	if _, err := TrainShapley([]Journey{path("A", true), path("A>B", true)}); err == nil {
		t.Error("only conversions: no error")
	}
}
