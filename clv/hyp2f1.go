package clv

import "math"

// hyp2f1 evaluates the Gauss hypergeometric function 2F1(a, b; c; z) by its
// power series Σ (a)_n (b)_n / ((c)_n n!) zⁿ, for 0 ≤ z < 1.
//
// In the BG/NBD expectations (FHL 2005 eqs. 9 and 10) the argument is
// z = t/(α+t) or t/(α+T+t), always in [0, 1), so the series converges; it
// converges geometrically at rate z, which is slow only for horizons far
// longer than α+T. Summation stops once a bound on the remaining tail is
// below a relative 1e-14: with ρ the current term ratio, the ratios tend to z
// monotonically from one side or the other, so max(ρ, z) bounds every later
// ratio and term·ρ̂/(1−ρ̂) bounds the tail.
func hyp2f1(a, b, c, z float64) float64 {
	const (
		tol      = 1e-14
		maxTerms = 1_000_000
	)
	if z == 0 {
		return 1
	}
	if z < 0 || z >= 1 {
		return math.NaN()
	}
	// Before n passes the parameters the term ratios need not be monotone
	// yet, so the tail bound is only trusted after that.
	settled := math.Max(math.Abs(a), math.Max(math.Abs(b), math.Abs(c)))
	term, sum := 1.0, 1.0
	for n := 0.0; n < maxTerms; n++ {
		ratio := (a + n) * (b + n) / ((c + n) * (n + 1)) * z
		term *= ratio
		sum += term
		bound := math.Max(math.Abs(ratio), z)
		if n >= settled && bound < 1 && math.Abs(term)*bound/(1-bound) <= tol*math.Abs(sum) {
			return sum
		}
	}
	return sum
}

// hyp2f1Coefs appends to buf the power-series coefficients of
// 2F1(a, b; c; z), enough of them that the truncated series is accurate to
// the same relative 1e-14 for every z in [0, zMax] (the tail bound of hyp2f1
// at zMax bounds it for smaller z too). Sharing the coefficients lets one
// customer's expectation curve be evaluated at many horizons by Horner's rule
// instead of one series per horizon.
func hyp2f1Coefs(a, b, c, zMax float64, buf []float64) []float64 {
	const (
		tol      = 1e-14
		maxTerms = 1_000_000
	)
	coef := append(buf[:0], 1)
	if zMax <= 0 || zMax >= 1 {
		return coef
	}
	settled := math.Max(math.Abs(a), math.Max(math.Abs(b), math.Abs(c)))
	k, term, sum := 1.0, 1.0, 1.0
	for n := 0.0; n < maxTerms; n++ {
		step := (a + n) * (b + n) / ((c + n) * (n + 1))
		k *= step
		coef = append(coef, k)
		ratio := step * zMax
		term *= ratio
		sum += term
		bound := math.Max(math.Abs(ratio), zMax)
		if n >= settled && bound < 1 && math.Abs(term)*bound/(1-bound) <= tol*math.Abs(sum) {
			break
		}
	}
	return coef
}

// horner evaluates Σ coef[n]·zⁿ.
func horner(coef []float64, z float64) float64 {
	s := 0.0
	for i := len(coef) - 1; i >= 0; i-- {
		s = s*z + coef[i]
	}
	return s
}
