// Package clv models customer lifetime value and churn from purchase histories:
// the BG/NBD model of purchase frequency and dropout (Fader, Hardie and Lee
// 2005, "Counting Your Customers the Easy Way", Marketing Science 24(2)), the
// Gamma-Gamma model of spend per transaction (Fader, Hardie and Lee 2005,
// "RFM and CLV: Using Iso-Value Curves for Customer Base Analysis", JMR 42(4)),
// and a discounted expected value that combines them.
//
// The package is pure numerics: it does no I/O. Time is in whatever unit the
// Customer summaries use (weeks for CDNOW); rates and horizons must agree.
package clv

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mathext"
)

// Customer is the RFM summary of one customer over a calibration period.
type Customer struct {
	X         float64 // repeat purchases in (0, T] (the first purchase is not counted)
	Tx        float64 // time of the last repeat purchase since the first purchase (0 if X = 0)
	T         float64 // time observed since the first purchase
	MeanSpend float64 // mean spend per repeat purchase (0 if X = 0)
}

// BGNBD holds fitted BG/NBD parameters: purchase rates are Gamma(R, Alpha)
// across customers, dropout probabilities after each purchase Beta(A, B).
type BGNBD struct {
	R, Alpha, A, B float64
	LogLik         float64 // total log-likelihood at the fitted parameters
}

// FitBGNBD fits the BG/NBD model by maximum likelihood (FHL 2005, eq. 6).
func FitBGNBD(customers []Customer) (BGNBD, error) {
	if len(customers) == 0 {
		return BGNBD{}, fmt.Errorf("fit BG/NBD: %w", errNoData)
	}
	for i, c := range customers {
		if err := c.validate(); err != nil {
			return BGNBD{}, fmt.Errorf("fit BG/NBD: customer %d: %w", i, err)
		}
	}
	n := float64(len(customers))
	negLL := func(theta []float64) float64 {
		return -bgLogLik(expAll(theta), customers, nil) / n
	}
	negGrad := func(g, theta []float64) {
		bgLogLik(expAll(theta), customers, g)
		for i := range g {
			g[i] = -g[i] / n
		}
	}
	theta, err := maximise(negLL, negGrad, []float64{0, 0, 0, 0})
	if err != nil {
		return BGNBD{}, fmt.Errorf("fit BG/NBD: %w", err)
	}
	p := expAll(theta)
	m := BGNBD{R: p[0], Alpha: p[1], A: p[2], B: p[3]}
	m.LogLik = bgLogLik(p, customers, nil)
	return m, nil
}

// validate rejects summaries the likelihood is undefined for.
func (c Customer) validate() error {
	switch {
	case !(c.X >= 0) || !(c.T > 0) || !(c.Tx >= 0) || c.Tx > c.T:
		return fmt.Errorf("invalid summary x=%v t_x=%v T=%v", c.X, c.Tx, c.T)
	case c.X > 0 && c.Tx == 0:
		return fmt.Errorf("repeat purchases x=%v but t_x=0", c.X)
	}
	return nil
}

// LogLikelihood returns the BG/NBD log-likelihood of the customers under m.
func (m BGNBD) LogLikelihood(customers []Customer) float64 {
	return bgLogLik([]float64{m.R, m.Alpha, m.A, m.B}, customers, nil)
}

// bgLogLik returns the total log-likelihood (FHL 2005 eq. 6) at p = (r, α, a, b)
// and, if grad is non-nil, stores its gradient with respect to the
// log-parameters (∂ℓ/∂log θ = θ·∂ℓ/∂θ) in grad.
//
// Per customer, written as in FHL's Excel note so nothing overflows for large x:
//
//	ℓ = A1 + A2 + log(e^A3 + [x>0] e^A4)
//	A1 = lnΓ(r+x) − lnΓ(r) + r ln α
//	A2 = lnΓ(a+b) + lnΓ(b+x) − lnΓ(b) − lnΓ(a+b+x)
//	A3 = −(r+x) ln(α+T)
//	A4 = ln a − ln(b+x−1) − (r+x) ln(α+t_x)
func bgLogLik(p []float64, customers []Customer, grad []float64) float64 {
	r, alpha, a, b := p[0], p[1], p[2], p[3]
	var g [4]float64
	ll := 0.0
	// Terms that do not depend on the customer, hoisted out of the loop.
	constant := -lgamma(r) + r*math.Log(alpha) + lgamma(a+b) - lgamma(b)
	dgR, dgAB, dgB := mathext.Digamma(r), mathext.Digamma(a+b), mathext.Digamma(b)
	lAlpha := math.Log(alpha)
	for _, c := range customers {
		x := c.X
		rx := r + x
		lT, lTx := math.Log(alpha+c.T), math.Log(alpha+c.Tx)
		a3 := -rx * lT
		mix, w4 := a3, 0.0 // w4: posterior weight of "dropped out after the last purchase"
		if x > 0 {
			a4 := math.Log(a) - math.Log(b+x-1) - rx*lTx
			mix = logSumExp(a3, a4)
			w4 = math.Exp(a4 - mix)
		}
		ll += constant + lgamma(rx) + lgamma(b+x) - lgamma(a+b+x) + mix
		if grad == nil {
			continue
		}
		w3 := 1 - w4
		dgRX, dgABX := mathext.Digamma(rx), mathext.Digamma(a+b+x)
		g[0] += dgRX - dgR + lAlpha - w3*lT - w4*lTx
		g[1] += r/alpha - w3*rx/(alpha+c.T) - w4*rx/(alpha+c.Tx)
		g[2] += dgAB - dgABX
		g[3] += dgAB + mathext.Digamma(b+x) - dgB - dgABX
		if x > 0 {
			g[2] += w4 / a
			g[3] -= w4 / (b + x - 1)
		}
	}
	if grad != nil {
		for i := range g {
			grad[i] = g[i] * p[i]
		}
	}
	return ll
}

// ExpectedPurchases is E[X(t)], the expected number of repeat purchases in
// (0, t] by a customer just acquired (FHL 2005 eq. 9).
func (m BGNBD) ExpectedPurchases(t float64) float64 {
	if t <= 0 {
		return 0
	}
	z := t / (m.Alpha + t)
	h := hyp2f1(m.R, m.B, m.A+m.B-1, z)
	return (m.A + m.B - 1) / (m.A - 1) * (1 - math.Pow(m.Alpha/(m.Alpha+t), m.R)*h)
}

// ConditionalExpected is E[Y(t) | x, t_x, T], the expected number of purchases
// in the next t time units by a customer with the given history (FHL 2005
// eq. 10): P(alive) times the expected purchases of a customer still alive.
func (m BGNBD) ConditionalExpected(c Customer, t float64) float64 {
	if t <= 0 {
		return 0
	}
	rx, ab := m.R+c.X, m.A+m.B+c.X-1
	z := t / (m.Alpha + c.T + t)
	h := hyp2f1(rx, m.B+c.X, ab, z)
	// ((α+T)/(α+T+t))^(r+x) through its logarithm: it underflows to 0 rather
	// than overflowing for very large x.
	pw := math.Exp(rx * math.Log((m.Alpha+c.T)/(m.Alpha+c.T+t)))
	alive := ab / (m.A - 1) * (1 - pw*h)
	return m.PAlive(c) * alive
}

// PAlive is the probability that a customer with this history is still active
// at T (Fader, Hardie and Lee, "Computing P(alive) Using the BG/NBD Model",
// 2008 note; it is the denominator factor of FHL 2005 eq. 10):
//
//	P(alive) = 1 / (1 + [x>0] a/(b+x−1) · ((α+T)/(α+t_x))^(r+x)).
//
// It is 1 for x = 0: under BG/NBD a customer can only drop out immediately
// after a repeat purchase, so one with none is certainly still alive.
func (m BGNBD) PAlive(c Customer) float64 {
	if c.X == 0 {
		return 1
	}
	// log of the odds of having dropped out; large for old, frequent
	// customers, so it stays in log space until the logistic.
	logOdds := math.Log(m.A) - math.Log(m.B+c.X-1) +
		(m.R+c.X)*(math.Log(m.Alpha+c.T)-math.Log(m.Alpha+c.Tx))
	return 1 / (1 + math.Exp(logOdds))
}

// Churn is the probability that the customer has already dropped out:
// 1 − P(alive).
func (m BGNBD) Churn(c Customer) float64 {
	return 1 - m.PAlive(c)
}
