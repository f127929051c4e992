package attribution

import (
	"cmp"
	"math/bits"
	"slices"
)

// apportion replaces the non-negative whole-number weights in credits[i].ValueMicros
// by micros that sum exactly to value, in proportion to the weights, by the
// largest-remainder method: every credit gets the floor of its quota and the micros
// left over go, one each, to the credits with the largest remainders, earlier credits
// first on equal remainders.
//
// The quotas are computed in exact 128-bit integer arithmetic, so that equal weights
// give equal remainders and the tie-break, not floating-point noise, decides who gets
// a leftover micro. The weights must not all be zero and must not overflow when summed.
func apportion(credits []Credit, value int64) {
	if len(credits) == 1 {
		credits[0].ValueMicros = value
		return
	}
	var total uint64
	for _, c := range credits {
		total += uint64(c.ValueMicros)
	}
	magnitude, negative := abs(value)
	var buf [linearScanLimit]uint64
	remainders := buf[:0]
	var given uint64
	for i := range credits {
		// magnitude*w < 2^64*total, so the high word is below total and Div64 is safe.
		hi, lo := bits.Mul64(magnitude, uint64(credits[i].ValueMicros))
		quota, remainder := bits.Div64(hi, lo, total)
		credits[i].ValueMicros = int64(quota)
		remainders = append(remainders, remainder)
		given += quota
	}
	awardLeftover(credits, remainders, int(magnitude-given))
	if negative {
		for i := range credits {
			credits[i].ValueMicros = -credits[i].ValueMicros
		}
	}
}

// abs splits v into its magnitude and sign without overflowing on math.MinInt64.
func abs(v int64) (uint64, bool) {
	if v < 0 {
		return ^uint64(v) + 1, true
	}
	return uint64(v), false
}

// awardLeftover gives one micro each to the k credits with the largest remainders,
// the earlier credit first among equals. The fractional parts of n quotas sum to less
// than n, so k < n.
func awardLeftover(credits []Credit, remainders []uint64, k int) {
	if k == 0 {
		return
	}
	if len(remainders) > linearScanLimit {
		for _, i := range largest(remainders, k) {
			credits[i].ValueMicros++
		}
		return
	}
	// Few credits: select in place rather than sort an index. The remainders sum to
	// exactly k times the total weight and each is below it, so more than k of them
	// are positive, and zeroing an awarded one never makes it eligible again.
	for range k {
		best := 0
		for i, r := range remainders {
			if r > remainders[best] {
				best = i
			}
		}
		credits[best].ValueMicros++
		remainders[best] = 0
	}
}

// largest returns the indices of the k largest remainders, the lower index first
// among equals.
func largest(remainders []uint64, k int) []int {
	order := make([]int, len(remainders))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(remainders[b], remainders[a]) })
	return order[:k]
}
