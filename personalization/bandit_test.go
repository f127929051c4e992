package personalization

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mathext"
)

func vs(counts ...int64) []VariantStats {
	out := make([]VariantStats, 0, len(counts)/2)
	for i := 0; i+1 < len(counts); i += 2 {
		out = append(out, VariantStats{ID: string(rune('A' + i/2)), Trials: counts[i], Successes: counts[i+1]})
	}
	return out
}

func analyze(t *testing.T, v []VariantStats) Analysis {
	t.Helper()
	a, err := Analyze(v, Uniform)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > tol {
		t.Errorf("%s = %.12g, want %.12g ± %g", what, got, want, tol)
	}
}

// evanMiller is P(p_B > p_A) for Beta(aA, bA) and Beta(aB, bB) with integer aB
// (https://www.evanmiller.org/bayesian-ab-testing.html), summed in log space.
func evanMiller(aA, bA, aB, bB float64) float64 {
	var total float64
	for i := 0.0; i < aB; i++ {
		total += math.Exp(mathext.Lbeta(aA+i, bA+bB) - math.Log(bB+i) - mathext.Lbeta(1+i, bB) - mathext.Lbeta(aA, bA))
	}
	return total
}

func TestIdenticalVariantsAreEven(t *testing.T) {
	for _, n := range [][2]int64{{0, 0}, {10, 1}, {1000, 100}, {1_000_000, 10_000}, {1_000_000, 0}, {1_000_000, 1_000_000}} {
		a := analyze(t, vs(n[0], n[1], n[0], n[1]))
		near(t, fmt.Sprintf("%v P(best)", n), a.ProbBest[0], 0.5, 1e-9)
		near(t, fmt.Sprintf("%v loss difference", n), a.ExpectedLoss[0]-a.ExpectedLoss[1], 0, 1e-12)
	}
}

func TestClearlyBetterVariantIsBest(t *testing.T) {
	a := analyze(t, vs(1000, 100, 1000, 200))
	if a.ProbBest[1] < 1-1e-9 {
		t.Errorf("P(B best) = %g, want ≈ 1", a.ProbBest[1])
	}
	near(t, "loss of B", a.ExpectedLoss[1], 0, 1e-9)
	near(t, "loss of A", a.ExpectedLoss[0], 201.0/1002-101.0/1002, 1e-6)
}

func TestProbabilitiesSumToOne(t *testing.T) {
	for _, v := range [][]VariantStats{
		vs(1000, 30, 1200, 40, 900, 35),
		vs(0, 0, 10, 3, 1_000_000, 300_000),
		vs(1_000_000, 20_000, 1_000_000, 20_150, 1_000_000, 19_900),
		vs(5, 0, 5, 5, 5, 2, 50, 10, 500, 100),
	} {
		// The raw integrals, before normalisation, measure the quadrature's accuracy.
		post, _ := posteriors(v, Uniform)
		prob, _ := quadrature(post)
		var raw, sum float64
		for i := range prob {
			raw += prob[i]
		}
		near(t, fmt.Sprintf("%v raw ΣP", v), raw, 1, 1e-9)
		p, err := ProbabilityBest(v, Uniform)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range p {
			if x < 0 || x > 1 {
				t.Errorf("%v: probability %g out of [0, 1]", v, x)
			}
			sum += x
		}
		near(t, fmt.Sprintf("%v ΣP", v), sum, 1, 1e-12)
	}
}

func TestClosedFormTwoVariants(t *testing.T) {
	for _, c := range [][4]int64{
		{100, 10, 100, 15}, {0, 0, 0, 0}, {0, 0, 20, 3}, {20, 3, 0, 0}, {1000, 40, 1000, 50},
		{20, 3, 5, 1}, {2000, 200, 2000, 230}, {10_000, 1000, 10_000, 1050}, {50, 50, 50, 49},
	} {
		v := vs(c[0], c[1], c[2], c[3])
		p, err := ProbabilityBest(v, Uniform)
		if err != nil {
			t.Fatal(err)
		}
		a, b := v[0].Posterior(Uniform), v[1].Posterior(Uniform)
		near(t, fmt.Sprintf("%v P(B > A)", c), p[1], evanMiller(a.A, a.B, b.A, b.B), 1e-9)
	}
}

// Against a uniform posterior, P(U > X) = E[1 − X] exactly, however peaked X is.
func TestClosedFormPeakedAgainstUniform(t *testing.T) {
	for _, s := range []int64{0, 10, 300_000, 999_999} {
		v := vs(0, 0, 1_000_000, s)
		p, err := ProbabilityBest(v, Uniform)
		if err != nil {
			t.Fatal(err)
		}
		x := v[1].Posterior(Uniform)
		near(t, fmt.Sprintf("%d/1e6 P(uniform best)", s), p[0], x.B/(x.A+x.B), 1e-9)
	}
}

func TestIntegrationAgreesWithMonteCarlo(t *testing.T) {
	cases := [][]VariantStats{
		vs(1000, 30, 1000, 38),
		vs(0, 0, 0, 0, 0, 0),                     // tiny: uniform posteriors
		vs(0, 0, 100, 10),                        // tiny against some data
		vs(1_000_000, 10_000, 1_000_000, 10_100), // peaked
		vs(1_000_000, 300_000, 0, 0),             // peaked against uniform
		vs(1_000_000, 20_000, 1_000_000, 20_150, 1_000_000, 19_900, 500_000, 10_050),
		vs(40, 2, 45, 3, 50, 1, 30, 4, 10, 0),
	}
	const draws = 100_000
	for i, v := range cases {
		want := analyze(t, v)
		got, err := MonteCarlo(v, Uniform, draws, rand.New(rand.NewPCG(uint64(i), 7)))
		if err != nil {
			t.Fatal(err)
		}
		for j := range v {
			near(t, fmt.Sprintf("case %d %s P(best)", i, v[j].ID), got.ProbBest[j], want.ProbBest[j], 0.01)
			near(t, fmt.Sprintf("case %d %s loss", i, v[j].ID), got.ExpectedLoss[j], want.ExpectedLoss[j], 0.005)
		}
	}
}

func TestExpectedLossUniformPair(t *testing.T) {
	// Two uniform rates: E[max] = 2/3, so each loses 2/3 − 1/2.
	l, err := ExpectedLoss(vs(0, 0, 0, 0), Uniform)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "loss", l[0], 1.0/6, 1e-10)
	near(t, "loss", l[1], 1.0/6, 1e-10)
}

func TestRecommend(t *testing.T) {
	tests := []struct {
		name     string
		variants []VariantStats
		id       string
		decision Decision
	}{
		{"clear winner", vs(1000, 100, 1000, 200), "B", Winner},
		{"close with little data", vs(100, 10, 100, 12), "B", KeepTesting},
		{"three-way, C leads but unsure", vs(500, 50, 500, 52, 500, 55), "C", KeepTesting},
		{"equal with lots of data: loss decides", vs(2_000_000, 20_000, 2_000_000, 20_000), "A", Winner},
		{"an unseen variant may be best: explore it", vs(200, 20, 200, 40, 0, 0), "C", KeepTesting},
		{"single variant", vs(10, 1), "A", Winner},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Recommend(tt.variants)
			if err != nil {
				t.Fatal(err)
			}
			if r.VariantID != tt.id || r.Decision != tt.decision {
				t.Errorf("got %s %s (P(best) %.4f, loss %.5f), want %s %s", r.VariantID, r.Decision, r.ProbBest, r.ExpectedLoss, tt.id, tt.decision)
			}
			if r.VariantID != tt.variants[r.Index].ID || len(r.Analysis.ProbBest) != len(tt.variants) {
				t.Errorf("inconsistent recommendation %+v", r)
			}
		})
	}
}

func TestRecommendThresholds(t *testing.T) {
	v := vs(1000, 100, 1000, 130) // P(B best) ≈ 0.98, loss ≈ 0.0001
	p := DefaultPolicy()
	p.LossTolerance = 0
	if r, _ := p.Recommend(v); r.Decision != Winner || r.VariantID != "B" {
		t.Errorf("threshold 0.95: got %+v", r)
	}
	p.Threshold = 0.999
	if r, _ := p.Recommend(v); r.Decision != KeepTesting || r.VariantID != "B" {
		t.Errorf("threshold 0.999: got %+v", r)
	}
	p.LossTolerance = 0.01
	if r, _ := p.Recommend(v); r.Decision != Winner {
		t.Errorf("loss tolerance 1%%: got %+v", r)
	}
}

func TestInvalidInput(t *testing.T) {
	tests := []struct {
		name     string
		variants []VariantStats
		prior    Beta
		want     string
	}{
		{"no variants", nil, Uniform, "no variants"},
		{"more successes than trials", vs(10, 11), Uniform, `variant "A": 11 successes out of 10 trials`},
		{"negative", vs(-1, 0), Uniform, "successes out of"},
		{"zero prior", vs(1, 0), Beta{0, 1}, "prior"},
		{"infinite prior", vs(1, 0), Beta{1, math.Inf(1)}, "prior"},
		{"NaN prior", vs(1, 0), Beta{math.NaN(), 1}, "prior"},
	}
	for _, tt := range tests {
		_, err := Analyze(tt.variants, tt.prior)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "personalization: analyze: ") {
			t.Errorf("%s: got %v, want an error about %q", tt.name, err, tt.want)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	if _, err := Allocate(vs(1, 0), Uniform, 0, rng); err == nil {
		t.Error("Allocate with 0 draws: no error")
	}
	if _, err := MonteCarlo(vs(1, 0), Uniform, 10, nil); err == nil {
		t.Error("MonteCarlo without rng: no error")
	}
	if _, err := (Policy{Prior: Uniform, Threshold: 1.5}).Recommend(vs(1, 0)); err == nil {
		t.Error("Recommend with threshold 1.5: no error")
	}
}

func TestAllocate(t *testing.T) {
	v := vs(1000, 30, 1000, 38, 1000, 25)
	seeded := func(seed uint64) []float64 {
		s, err := Allocate(v, Uniform, 20_000, rand.New(rand.NewPCG(seed, seed)))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := seeded(42), seeded(42)
	if !slices.Equal(a, b) {
		t.Fatalf("same seed, different shares: %v, %v", a, b)
	}
	if slices.Equal(a, seeded(43)) {
		t.Errorf("different seeds, same shares %v", a)
	}
	p := analyze(t, v).ProbBest
	var sum float64
	for i := range a {
		near(t, "share vs P(best)", a[i], p[i], 0.015)
		sum += a[i]
	}
	near(t, "Σ shares", sum, 1, 1e-12)
}

func TestGaussKronrod(t *testing.T) {
	q := &adaptive{dim: 2, node: make([]float64, 2), f: func(x float64, out []float64) {
		out[0], out[1] = math.Pow(x, 20), math.Exp(-x)
	}}
	val := make([]float64, 2)
	q.gk15(0, 2, identity, val) // K15 integrates degree ≤ 22 polynomials exactly
	near(t, "∫x^20", val[0], math.Pow(2, 21)/21, 1e-9)
	near(t, "∫exp(−x)", val[1], 1-math.Exp(-2), 1e-15)
}

// Jeffreys' prior puts integrable singularities at 0 and 1, removed by substitution.
func TestJeffreysPrior(t *testing.T) {
	jeffreys := Beta{A: 0.5, B: 0.5}
	for _, v := range [][]VariantStats{vs(0, 0, 0, 0), vs(0, 0, 10, 1), vs(0, 0, 1_000_000, 0), vs(20, 3, 30, 0, 5, 5)} {
		post, _ := posteriors(v, jeffreys)
		prob, _ := quadrature(post)
		var raw float64
		for _, p := range prob {
			raw += p
		}
		near(t, fmt.Sprintf("%v raw ΣP", v), raw, 1, 1e-7)
		want, _ := Analyze(v, jeffreys)
		got, _ := MonteCarlo(v, jeffreys, 50_000, rand.New(rand.NewPCG(9, 9)))
		for j := range v {
			near(t, fmt.Sprintf("%v %s P(best) vs Monte Carlo", v, v[j].ID), got.ProbBest[j], want.ProbBest[j], 0.01)
		}
	}
}
