package clv

import (
	"math"
	"testing"
)

// TestBGGradient checks the analytic gradient against central differences.
func TestBGGradient(t *testing.T) {
	cs := Customers(loadSummary(t))
	p := []float64{0.3, 5, 0.7, 2.1}
	g := make([]float64, 4)
	bgLogLik(p, cs, g)
	for i := range p {
		const h = 1e-6
		up, dn := append([]float64(nil), p...), append([]float64(nil), p...)
		up[i] *= math.Exp(h)
		dn[i] *= math.Exp(-h)
		num := (bgLogLik(up, cs, nil) - bgLogLik(dn, cs, nil)) / (2 * h)
		if math.Abs(num-g[i]) > 1e-4*math.Max(1, math.Abs(num)) {
			t.Errorf("d/dlog p[%d]: analytic %.8g, numeric %.8g", i, g[i], num)
		}
	}
}
