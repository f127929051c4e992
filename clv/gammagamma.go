package clv

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mathext"
)

// GammaGamma holds fitted Gamma-Gamma spend parameters (Fader, Hardie and Lee
// 2005, "RFM and CLV", JMR; Colombo and Jiang 1999): a transaction's spend is
// Gamma(P, ν) with the customer's ν ~ Gamma(Q, Gamma), so a customer's mean
// spend is Gamma·P/(Q−1) on average across customers.
type GammaGamma struct {
	P, Q, Gamma float64
	LogLik      float64 // total log-likelihood of the mean spends at the fit
}

// FitGammaGamma fits the Gamma-Gamma model by maximum likelihood on the mean
// repeat spend of the customers with at least one repeat purchase (the others
// carry no spend information). Spend must be positive.
func FitGammaGamma(customers []Customer) (GammaGamma, error) {
	var buyers []Customer
	for i, c := range customers {
		if c.X <= 0 {
			continue
		}
		if !(c.MeanSpend > 0) || math.IsInf(c.MeanSpend, 0) {
			return GammaGamma{}, fmt.Errorf("fit Gamma-Gamma: customer %d: mean spend %v", i, c.MeanSpend)
		}
		buyers = append(buyers, c)
	}
	if len(buyers) == 0 {
		return GammaGamma{}, fmt.Errorf("fit Gamma-Gamma: %w", errNoData)
	}
	n := float64(len(buyers))
	negLL := func(theta []float64) float64 {
		return -ggLogLik(expAll(theta), buyers, nil) / n
	}
	negGrad := func(g, theta []float64) {
		ggLogLik(expAll(theta), buyers, g)
		for i := range g {
			g[i] = -g[i] / n
		}
	}
	theta, err := maximise(negLL, negGrad, []float64{0, 0, 0})
	if err != nil {
		return GammaGamma{}, fmt.Errorf("fit Gamma-Gamma: %w", err)
	}
	p := expAll(theta)
	return GammaGamma{P: p[0], Q: p[1], Gamma: p[2], LogLik: ggLogLik(p, buyers, nil)}, nil
}

// ggLogLik returns the log-likelihood of the customers' mean spends z̄ at
// p = (p, q, γ): the density of z̄ given x (FHL 2005 "RFM and CLV"; Fader
// and Hardie, "The Gamma-Gamma Model of Monetary Value", 2013 note),
//
//	ℓ = lnΓ(px+q) − lnΓ(px) − lnΓ(q) + q ln γ + (px−1) ln z̄ + px ln x − (px+q) ln(γ + x z̄),
//
// and, if grad is non-nil, its gradient with respect to the log-parameters.
func ggLogLik(p []float64, customers []Customer, grad []float64) float64 {
	pp, q, gamma := p[0], p[1], p[2]
	var g [3]float64
	ll := 0.0
	lGamma, lgQ, dgQ := math.Log(gamma), lgamma(q), mathext.Digamma(q)
	for _, c := range customers {
		x, z := c.X, c.MeanSpend
		px := pp * x
		lz, lx, lgz := math.Log(z), math.Log(x), math.Log(gamma+x*z)
		ll += lgamma(px+q) - lgamma(px) - lgQ + q*lGamma + (px-1)*lz + px*lx - (px+q)*lgz
		if grad == nil {
			continue
		}
		dgPQ := mathext.Digamma(px + q)
		g[0] += x * (dgPQ - mathext.Digamma(px) + lz + lx - lgz)
		g[1] += dgPQ - dgQ + lGamma - lgz
		g[2] += q/gamma - (px+q)/(gamma+x*z)
	}
	if grad != nil {
		for i := range g {
			grad[i] = g[i] * p[i]
		}
	}
	return ll
}

// ConditionalMeanSpend is E[Z | z̄, x], the expected spend per future
// transaction given x repeat purchases averaging z̄ (same sources): a weighted
// average of the population mean γp/(q−1) and the customer's own mean, the
// weight on the latter growing with x,
//
//	E[Z | z̄, x] = p(γ + x z̄) / (px + q − 1).
//
// With no repeat purchases it is the population mean. The population mean is
// infinite for q ≤ 1; callers get +Inf then rather than a silent guess.
func (m GammaGamma) ConditionalMeanSpend(c Customer) float64 {
	if c.X <= 0 {
		return m.PopulationMeanSpend()
	}
	return m.P * (m.Gamma + c.X*c.MeanSpend) / (m.P*c.X + m.Q - 1)
}

// PopulationMeanSpend is E[Z] = γp/(q−1) for a customer with no history.
func (m GammaGamma) PopulationMeanSpend() float64 {
	if m.Q <= 1 {
		return math.Inf(1)
	}
	return m.Gamma * m.P / (m.Q - 1)
}
