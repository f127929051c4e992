package attribution

import (
	"math"
	"math/rand/v2"
)

// maxExactChannels is the largest number of channels whose Shapley values are
// computed exactly. Exact values cost n·2^n evaluations of the characteristic
// function: about a million at 16 channels, a millisecond or so, and sixteen times as
// much at 20. Journeys touching more channels than that are rare, and for them the
// values are estimated from samplePermutations random orderings (each also taken in
// reverse, which cancels much of the sampling noise) drawn from a generator with a
// fixed seed, so the estimate is reproducible. Every ordering's marginal
// contributions sum to v(N) - v(∅), so the estimate stays exactly efficient: the
// conversion is still fully attributed.
const (
	maxExactChannels   = 16
	samplePermutations = 1000
	sampleSeed         = 0x5eed
)

// logitGame is the cooperative game of a logistic conversion model over a set of
// channels: v(S) = σ(intercept + Σ_{i∈S} effects[i]) - σ(intercept), the lift in
// conversion probability that the channels in S bring over no channel at all.
type logitGame struct {
	intercept float64
	effects   []float64
}

func (g logitGame) value(members uint32) float64 {
	z := g.intercept
	for i, e := range g.effects {
		if members&(1<<i) != 0 {
			z += e
		}
	}
	return sigmoid(z) - sigmoid(g.intercept)
}

// shapleyValues returns every player's Shapley value in g, exactly up to
// maxExactChannels players and estimated beyond.
func shapleyValues(g logitGame) []float64 {
	if len(g.effects) <= maxExactChannels {
		return exactShapley(len(g.effects), g.value)
	}
	return sampledShapley(g, samplePermutations, sampleSeed)
}

// exactShapley computes φ_i = Σ_{S ⊆ N∖{i}} |S|!(n-|S|-1)!/n! · (v(S∪{i}) - v(S)) over
// all 2^n coalitions, evaluating v once per coalition.
func exactShapley(n int, v func(members uint32) float64) []float64 {
	values := make([]float64, 1<<n)
	for s := range values {
		values[s] = v(uint32(s))
	}
	weights := coalitionWeights(n)
	phi := make([]float64, n)
	for s := range values {
		size := popcount(uint32(s))
		for i := range n {
			if s&(1<<i) == 0 {
				phi[i] += weights[size] * (values[s|1<<i] - values[s])
			}
		}
	}
	return phi
}

// coalitionWeights returns |S|!(n-|S|-1)!/n! for every size |S| below n, computed as
// 1 / (n · C(n-1, |S|)) to stay clear of factorial overflow.
func coalitionWeights(n int) []float64 {
	w := make([]float64, n)
	binomial := 1.0 // C(n-1, size)
	for size := range n {
		w[size] = 1 / (float64(n) * binomial)
		binomial = binomial * float64(n-1-size) / float64(size+1)
	}
	return w
}

func popcount(x uint32) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}

// sampledShapley estimates Shapley values from random orderings of the players, each
// used forwards and backwards: a player's value is its average marginal contribution
// when joining the players before it.
func sampledShapley(g logitGame, permutations int, seed uint64) []float64 {
	n := len(g.effects)
	rng := rand.New(rand.NewPCG(seed, seed))
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	phi := make([]float64, n)
	for range permutations {
		rng.Shuffle(n, func(a, b int) { order[a], order[b] = order[b], order[a] })
		g.addMarginals(phi, order, 1)
		g.addMarginals(phi, order, -1)
	}
	for i := range phi {
		phi[i] /= float64(2 * permutations)
	}
	return phi
}

// addMarginals adds to phi each player's marginal contribution when the players join
// in order (step 1) or in reverse order (step -1).
func (g logitGame) addMarginals(phi []float64, order []int, step int) {
	z, before := g.intercept, 0.0
	base := sigmoid(g.intercept)
	for k := range order {
		i := order[k]
		if step < 0 {
			i = order[len(order)-1-k]
		}
		z += g.effects[i]
		after := sigmoid(z) - base
		phi[i] += after - before
		before = after
	}
}

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}
