package clv

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/optimize"
)

// errNoData is returned when a fit has no usable customers.
var errNoData = errors.New("no customers to fit")

// maximise finds the log-parameters that maximise an average log-likelihood,
// given the negated function and gradient.
//
// Both models are fitted over log-parameters so every iterate is a valid
// (positive) parameter vector and the optimiser needs no bounds. BFGS with
// the analytic gradient converges from the all-ones start on CDNOW in ~30
// iterations. If it stalls away from an optimum (a poor start can land in a
// flat region where its line search fails), a Nelder–Mead pass walks out and
// BFGS polishes again.
func maximise(negLL func(theta []float64) float64, negGrad func(g, theta []float64), start []float64) ([]float64, error) {
	x, err := bfgs(negLL, negGrad, start)
	if err == nil {
		return x, nil
	}
	coarse, nmErr := optimize.Minimize(optimize.Problem{Func: negLL}, start,
		&optimize.Settings{MajorIterations: 5000}, &optimize.NelderMead{})
	if nmErr != nil {
		return nil, fmt.Errorf("bfgs: %w; nelder-mead: %w", err, nmErr)
	}
	return bfgs(negLL, negGrad, coarse.X)
}

// bfgs minimises from x0 and returns the optimum, or an error unless the
// gradient there is below acceptTol.
func bfgs(negLL func(theta []float64) float64, negGrad func(g, theta []float64), x0 []float64) ([]float64, error) {
	res, err := optimize.Minimize(optimize.Problem{Func: negLL, Grad: negGrad}, x0,
		&optimize.Settings{GradientThreshold: gradTol}, &optimize.BFGS{})
	if res == nil {
		return nil, fmt.Errorf("bfgs: %w", err)
	}
	// A line search that cannot improve any more is the usual way BFGS ends
	// at an optimum already found to rounding precision; accept it when the
	// gradient says this is an optimum.
	norm := gradNorm(negGrad, res.X)
	if !finite(res.F) || !(norm < acceptTol) {
		return nil, fmt.Errorf("bfgs stopped (%v, error %v) with log-likelihood %v, gradient %.3g", res.Status, err, -res.F, norm)
	}
	return res.X, nil
}

// Gradient tolerances on the per-customer average log-likelihood with
// respect to log-parameters: BFGS aims for gradTol; a stalled line search is
// accepted below acceptTol (both far below what moves the third significant
// figure of any parameter).
const (
	gradTol   = 1e-10
	acceptTol = 1e-6
)

// gradNorm is the infinity norm of the gradient at x.
func gradNorm(grad func(g, x []float64), x []float64) float64 {
	g := make([]float64, len(x))
	grad(g, x)
	m := 0.0
	for _, v := range g {
		m = math.Max(m, math.Abs(v))
	}
	return m
}

// finite reports whether v is neither NaN nor infinite.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// expAll returns exp of every element: log-parameters back to parameters.
func expAll(theta []float64) []float64 {
	out := make([]float64, len(theta))
	for i, v := range theta {
		out[i] = math.Exp(v)
	}
	return out
}

// logSumExp returns log(exp(u)+exp(v)) without overflow.
func logSumExp(u, v float64) float64 {
	if u < v {
		u, v = v, u
	}
	return u + math.Log1p(math.Exp(v-u))
}

// lgamma is math.Lgamma without the sign; all arguments here are positive.
func lgamma(x float64) float64 {
	v, _ := math.Lgamma(x)
	return v
}
