package generator

// Small random helpers. All draws go through g.rng, in a fixed order, so the sequence
// stays reproducible.

func (g *Generator) chance(p float64) bool { return g.rng.Float64() < p }

func (g *Generator) pick(xs []string) string { return xs[g.rng.IntN(len(xs))] }

// channelWeightTotal is the sum of the profiles' weights.
var channelWeightTotal = func() int {
	n := 0
	for _, p := range profiles {
		n += p.weight
	}
	return n
}()

// randomChannel draws a channel index by the profiles' traffic weights.
func (g *Generator) randomChannel() int {
	n := g.rng.IntN(channelWeightTotal)
	for i, p := range profiles {
		if n < p.weight {
			return i
		}
		n -= p.weight
	}
	panic("unreachable: weights sum to channelWeightTotal")
}

// portion draws how many of n trials succeed at roughly the given rate: the rate is
// jittered by ±30% so figures vary between events, and the fraction is rounded
// stochastically so that low rates still yield occasional successes instead of none.
func (g *Generator) portion(n int64, rate float64) int64 {
	k := int64(float64(n)*rate*(0.7+0.6*g.rng.Float64()) + g.rng.Float64())
	return min(k, n)
}
