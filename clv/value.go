package clv

import (
	"fmt"
	"math"
)

// WeeksPerYear converts an annual discount rate to the weekly time unit.
const WeeksPerYear = 52.0

// CLV is the discounted expected value of a customer's purchases over the
// next horizonWeeks, in weekly steps (see CLVStep).
func CLV(c Customer, horizonWeeks, annualDiscount float64, bg BGNBD, gg GammaGamma) float64 {
	v, _ := CLVStep(c, horizonWeeks, 1, annualDiscount, bg, gg)
	return v
}

// CLVStep is the discounted expected value of a customer's purchases over the
// next horizon time units (weeks), discretised into periods of length step:
//
//	CLV = E[Z | z̄, x] · Σ_k (E[Y(t_k)|x,t_x,T] − E[Y(t_{k−1})|x,t_x,T]) · (1+d)^(−t_k/52)
//
// with t_k = min(k·step, horizon) and t_0 = 0. E[Y(t)|·] is BG/NBD's
// conditional expectation (FHL 2005 eq. 10), which already weights by
// P(alive); E[Z|·] is the Gamma-Gamma conditional mean spend. Spend is
// independent of the purchase process in these models, so the product is the
// expected revenue. The purchases expected in a period are discounted as if
// they all fell at its end, so CLVStep slightly understates the continuous
// value (by at most the discount of one step, about 0.2% a week at d=10%);
// smaller steps approach the continuous integral.
func CLVStep(c Customer, horizon, step, annualDiscount float64, bg BGNBD, gg GammaGamma) (float64, error) {
	if !(horizon >= 0) || !(step > 0) || !(annualDiscount > -1) {
		return 0, fmt.Errorf("clv: invalid horizon %v, step %v or discount %v", horizon, step, annualDiscount)
	}
	logDiscount := -math.Log1p(annualDiscount) / WeeksPerYear // per week
	spend := gg.ConditionalMeanSpend(c)
	var buf [128]float64
	curve := newExpectationCurve(bg, c, horizon, buf[:])
	total, prev := 0.0, 0.0
	for t := 0.0; t < horizon; {
		t = math.Min(t+step, horizon)
		cum := curve.at(t)
		total += (cum - prev) * math.Exp(logDiscount*t)
		prev = cum
	}
	return total * spend, nil
}

// expectationCurve is t ↦ E[Y(t)|x,t_x,T] (FHL 2005 eq. 10) for one
// customer and t up to a fixed horizon, with everything that does not depend
// on t — P(alive), the leading ratio and the 2F1 series coefficients —
// computed once. A weekly CLV over a year evaluates it 52 times.
type expectationCurve struct {
	scale float64 // P(alive)·(a+b+x−1)/(a−1)
	rx    float64 // r+x
	base  float64 // α+T
	coef  []float64
}

func newExpectationCurve(m BGNBD, c Customer, horizon float64, buf []float64) expectationCurve {
	base := m.Alpha + c.T
	return expectationCurve{
		scale: m.PAlive(c) * (m.A + m.B + c.X - 1) / (m.A - 1),
		rx:    m.R + c.X,
		base:  base,
		coef:  hyp2f1Coefs(m.R+c.X, m.B+c.X, m.A+m.B+c.X-1, horizon/(base+horizon), buf),
	}
}

// at is E[Y(t)|x,t_x,T] for 0 ≤ t ≤ the curve's horizon.
func (k expectationCurve) at(t float64) float64 {
	if t <= 0 {
		return 0
	}
	pw := math.Exp(k.rx * math.Log(k.base/(k.base+t)))
	return k.scale * (1 - pw*horner(k.coef, t/(k.base+t)))
}
