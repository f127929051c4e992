package personalization

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"gonum.org/v1/gonum/stat/distuv"
)

// MonteCarlo estimates the Analysis from draws joint samples of the posteriors: the
// share of draws each variant wins and its mean shortfall from the draw's maximum. It is
// the cross-check of Analyze (standard error of a probability ≤ 0.5/√draws), and the
// same given the same rng state.
func MonteCarlo(variants []VariantStats, prior Beta, draws int, rng *rand.Rand) (Analysis, error) {
	post, err := checkSampling(variants, prior, draws, rng)
	if err != nil {
		return Analysis{}, fmt.Errorf("personalization: monte carlo: %w", err)
	}
	wins, loss := thompson(post, draws, rng)
	a := Analysis{ProbBest: make([]float64, len(post)), ExpectedLoss: make([]float64, len(post))}
	for i := range post {
		a.ProbBest[i] = float64(wins[i]) / float64(draws)
		a.ExpectedLoss[i] = loss[i] / float64(draws)
	}
	return a, nil
}

// Allocate splits traffic (or budget) across variants by Thompson sampling: each of n
// draws samples every variant's conversion rate from its posterior and gives one unit to
// the highest, and the shares are the units over n. Shares are therefore P(best) up to
// sampling noise: a variant that is 3% likely to be best keeps about 3% of the traffic,
// which is how the test keeps exploring while it exploits the leader. The result
// depends only on the inputs and rng's state, so a seeded rng (rand.New(rand.NewPCG(…)))
// makes a reallocation reproducible. The shares sum to 1.
func Allocate(variants []VariantStats, prior Beta, n int, rng *rand.Rand) ([]float64, error) {
	post, err := checkSampling(variants, prior, n, rng)
	if err != nil {
		return nil, fmt.Errorf("personalization: allocate: %w", err)
	}
	wins, _ := thompson(post, n, rng)
	shares := make([]float64, len(post))
	for i, w := range wins {
		shares[i] = float64(w) / float64(n)
	}
	return shares, nil
}

func checkSampling(variants []VariantStats, prior Beta, draws int, rng *rand.Rand) ([]Beta, error) {
	if draws <= 0 {
		return nil, fmt.Errorf("%d draws, want at least 1", draws)
	}
	if rng == nil {
		return nil, errors.New("no random number generator")
	}
	return posteriors(variants, prior)
}

// thompson draws every posterior draws times and returns, per variant, how many draws
// it won (ties to the earlier variant) and the summed shortfall from each draw's
// maximum.
func thompson(post []Beta, draws int, rng *rand.Rand) (wins []int64, loss []float64) {
	dists := make([]distuv.Beta, len(post))
	for i, p := range post {
		dists[i] = distuv.Beta{Alpha: p.A, Beta: p.B, Src: rng}
	}
	wins, loss = make([]int64, len(post)), make([]float64, len(post))
	x := make([]float64, len(post))
	for range draws {
		best := 0
		for i := range dists {
			x[i] = dists[i].Rand()
			if x[i] > x[best] {
				best = i
			}
		}
		wins[best]++
		for i, v := range x {
			loss[i] += x[best] - v
		}
	}
	return wins, loss
}
