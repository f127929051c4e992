package clv

import (
	"math"
	"testing"
)

// TestFitGammaGammaCDNOW compares the spend model with FHL 2005 ("RFM and
// CLV"): p=6.25, q=3.74, γ=15.44 on the CDNOW calibration mean spends.
func TestFitGammaGammaCDNOW(t *testing.T) {
	cs := Customers(loadSummary(t))
	m, err := FitGammaGamma(cs)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("p=%.4f q=%.4f gamma=%.4f LL=%.2f", m.P, m.Q, m.Gamma, m.LogLik)
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"p", m.P, 6.25}, {"q", m.Q, 3.74}, {"gamma", m.Gamma, 15.44}} {
		if !sig3(c.got, c.want) {
			t.Errorf("%s = %.5g, published %.5g", c.name, c.got, c.want)
		}
	}
}

// TestGGGradient checks the analytic gradient against central differences.
func TestGGGradient(t *testing.T) {
	var cs []Customer
	for _, c := range Customers(loadSummary(t)) {
		if c.X > 0 {
			cs = append(cs, c)
		}
	}
	p := []float64{5, 3, 12}
	g := make([]float64, 3)
	ggLogLik(p, cs, g)
	for i := range p {
		const h = 1e-6
		up, dn := append([]float64(nil), p...), append([]float64(nil), p...)
		up[i] *= math.Exp(h)
		dn[i] *= math.Exp(-h)
		num := (ggLogLik(up, cs, nil) - ggLogLik(dn, cs, nil)) / (2 * h)
		if math.Abs(num-g[i]) > 1e-4*math.Max(1, math.Abs(num)) {
			t.Errorf("d/dlog p[%d]: analytic %.8g, numeric %.8g", i, g[i], num)
		}
	}
}

func TestConditionalMeanSpend(t *testing.T) {
	m := GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44}
	pop := m.PopulationMeanSpend()
	if got := m.ConditionalMeanSpend(Customer{}); got != pop {
		t.Errorf("x=0: %v, want population mean %v", got, pop)
	}
	// Shrinkage: the estimate lies between the population mean and the
	// customer's own mean, and moves towards the latter as x grows.
	prev := pop
	for _, x := range []float64{1, 2, 5, 20, 200} {
		got := m.ConditionalMeanSpend(Customer{X: x, Tx: 1, T: 2, MeanSpend: 100})
		if !(got > prev && got < 100) {
			t.Errorf("x=%v: %v not in (%v, 100)", x, got, prev)
		}
		prev = got
	}
	if !math.IsInf(GammaGamma{P: 1, Q: 0.5, Gamma: 1}.PopulationMeanSpend(), 1) {
		t.Error("q<=1 population mean should be +Inf")
	}
}
