package clv

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// simulateBGNBD draws n histories from the BG/NBD generative story: rate
// λ ~ Gamma(r, α), dropout p ~ Beta(a, b), Poisson purchases at rate λ, and
// after each purchase the customer drops out with probability p.
func simulateBGNBD(m BGNBD, n int, seed uint64) []Customer {
	src := rand.NewPCG(seed, seed+1)
	rng := rand.New(src)
	lambda := distuv.Gamma{Alpha: m.R, Beta: m.Alpha, Src: src}
	drop := distuv.Beta{Alpha: m.A, Beta: m.B, Src: src}
	out := make([]Customer, n)
	for i := range out {
		l, p := lambda.Rand(), drop.Rand()
		c := Customer{T: 26 + 52*rng.Float64()}
		for t := rng.ExpFloat64() / l; t <= c.T; t += rng.ExpFloat64() / l {
			c.X++
			c.Tx = t
			if rng.Float64() < p {
				break
			}
		}
		out[i] = c
	}
	return out
}

// TestFitRecoversSimulated fits data simulated from known parameters: a check
// of the likelihood and optimiser that does not lean on the published fit.
func TestFitRecoversSimulated(t *testing.T) {
	truth := BGNBD{R: 0.5, Alpha: 6, A: 0.7, B: 3}
	cs := simulateBGNBD(truth, 20000, 7)
	m, err := FitBGNBD(cs)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("true r=%v α=%v a=%v b=%v; fitted r=%.3f α=%.3f a=%.3f b=%.3f",
		truth.R, truth.Alpha, truth.A, truth.B, m.R, m.Alpha, m.A, m.B)
	for _, c := range [][2]float64{{m.R, truth.R}, {m.Alpha, truth.Alpha}, {m.A, truth.A}, {m.B, truth.B}} {
		if math.Abs(c[0]-c[1]) > 0.2*c[1] {
			t.Errorf("fitted %.3f, true %.3f", c[0], c[1])
		}
	}
	if m.LogLik < truth.LogLikelihood(cs) {
		t.Errorf("fit LL %.2f below the true parameters' %.2f", m.LogLik, truth.LogLikelihood(cs))
	}
}
