// Package personalization decides which content variant to show. The stream already
// counts, per variant, views, clicks, conversions and the engagement score (table
// agg_variant, served by /v1/metrics/variants); this package turns the counts into the
// Bayesian answer a marketer acts on: the probability that each variant has the best
// conversion rate, the expected conversion-rate cost of picking it, a recommendation,
// and Thompson-sampling traffic shares for reallocating budget across creatives.
//
// The model is Beta-Binomial: each variant's conversion rate has a Beta(A, B) prior and,
// after s conversions out of n trials (views), a Beta(A+s, B+n−s) posterior; variants are
// independent. P(i is best) = ∫ f_i(x) Π_{j≠i} F_j(x) dx is integrated numerically
// (Analyze); MonteCarlo estimates the same quantities by sampling, as a cross-check.
//
// The package is pure: no I/O, no clocks, no goroutines; randomness only from a
// caller-supplied, seeded generator.
package personalization

import (
	"errors"
	"fmt"
	"math"
)

// Beta is a Beta(A, B) distribution over a conversion rate.
type Beta struct {
	A, B float64
}

// Uniform is the Beta(1, 1) prior: every conversion rate equally likely before data.
var Uniform = Beta{A: 1, B: 1}

func (b Beta) check() error {
	if !(b.A > 0 && b.B > 0) || math.IsInf(b.A, 0) || math.IsInf(b.B, 0) {
		return fmt.Errorf("beta parameters must be positive and finite, got (%g, %g)", b.A, b.B)
	}
	return nil
}

// VariantStats is what the stream knows about one variant: Trials are its views and
// Successes its conversions.
type VariantStats struct {
	ID        string
	Trials    int64
	Successes int64
}

// Posterior is the variant's conversion-rate distribution after prior and its counts.
func (v VariantStats) Posterior(prior Beta) Beta {
	return Beta{A: prior.A + float64(v.Successes), B: prior.B + float64(v.Trials-v.Successes)}
}

func (v VariantStats) check() error {
	if v.Trials < 0 || v.Successes < 0 || v.Successes > v.Trials {
		return fmt.Errorf("variant %q: %d successes out of %d trials", v.ID, v.Successes, v.Trials)
	}
	return nil
}

// posteriors validates the input and returns the variants' posteriors.
func posteriors(variants []VariantStats, prior Beta) ([]Beta, error) {
	if len(variants) == 0 {
		return nil, errors.New("no variants")
	}
	if err := prior.check(); err != nil {
		return nil, fmt.Errorf("prior: %w", err)
	}
	out := make([]Beta, len(variants))
	for i, v := range variants {
		if err := v.check(); err != nil {
			return nil, err
		}
		out[i] = v.Posterior(prior)
	}
	return out, nil
}

// Analysis is the Bayesian comparison of a set of variants, index for index.
type Analysis struct {
	// ProbBest[i] is the probability that variant i has the highest conversion rate.
	// The probabilities sum to 1.
	ProbBest []float64
	// ExpectedLoss[i] is E[max_j p_j − p_i]: the conversion rate, in absolute terms
	// (0.001 = 0.1 percentage point), expected to be given up by choosing variant i.
	// Unlike ProbBest it shrinks to 0 when variants are equally good, so it can end a
	// test that P(best) alone never would.
	ExpectedLoss []float64
}

// Analyze computes P(best) and the expected loss of every variant by numerical
// integration under independent Beta posteriors; see integrate for the method.
func Analyze(variants []VariantStats, prior Beta) (Analysis, error) {
	post, err := posteriors(variants, prior)
	if err != nil {
		return Analysis{}, fmt.Errorf("personalization: analyze: %w", err)
	}
	return integrate(post), nil
}

// ProbabilityBest returns, for each variant, the probability that its conversion rate
// is the highest, by numerical integration (see Analyze).
func ProbabilityBest(variants []VariantStats, prior Beta) ([]float64, error) {
	a, err := Analyze(variants, prior)
	if err != nil {
		return nil, err
	}
	return a.ProbBest, nil
}

// ExpectedLoss returns, for each variant, the expected conversion-rate shortfall of
// choosing it (see Analysis.ExpectedLoss).
func ExpectedLoss(variants []VariantStats, prior Beta) ([]float64, error) {
	a, err := Analyze(variants, prior)
	if err != nil {
		return nil, err
	}
	return a.ExpectedLoss, nil
}

// Policy says when a test is over.
type Policy struct {
	Prior Beta
	// Threshold: a leader whose P(best) exceeds it wins.
	Threshold float64
	// LossTolerance: a leader whose expected loss is below it wins too — the variants
	// left are too close for the difference to matter (absolute conversion rate).
	LossTolerance float64
}

// DefaultPolicy is a uniform prior, 95% probability of being best, 0.1 percentage
// point of expected loss.
func DefaultPolicy() Policy {
	return Policy{Prior: Uniform, Threshold: 0.95, LossTolerance: 0.001}
}

// Decision is the outcome of a recommendation.
type Decision string

const (
	// Winner: show the recommended variant; the test can stop.
	Winner Decision = "winner"
	// KeepTesting: the recommended variant leads, but the data do not yet settle it;
	// keep splitting traffic (for instance with Allocate).
	KeepTesting Decision = "keep_testing"
)

// Recommendation is the variant to show and why.
type Recommendation struct {
	VariantID    string   `json:"variant_id"`
	Index        int      `json:"index"`
	Decision     Decision `json:"decision"`
	ProbBest     float64  `json:"prob_best"`
	ExpectedLoss float64  `json:"expected_loss"`
	// Analysis holds every variant's figures, for display.
	Analysis Analysis `json:"-"`
}

// Recommend picks the leader — the variant with the highest P(best), the lower
// expected loss on a tie, the earlier on a further tie — and declares it the Winner when
// its P(best) exceeds p.Threshold or its expected loss is below p.LossTolerance;
// otherwise the leader is still the variant to show, with Decision KeepTesting.
//
// The loss rule matters when variants are practically equal: two identical variants
// with millions of views stay at P(best) ≈ 0.5 for ever, yet choosing either costs
// almost nothing, so the test should end.
func (p Policy) Recommend(variants []VariantStats) (Recommendation, error) {
	if !(p.Threshold > 0 && p.Threshold <= 1) || !(p.LossTolerance >= 0) {
		return Recommendation{}, fmt.Errorf("personalization: recommend: threshold %g must be in (0, 1], loss tolerance %g non-negative", p.Threshold, p.LossTolerance)
	}
	a, err := Analyze(variants, p.Prior)
	if err != nil {
		return Recommendation{}, fmt.Errorf("personalization: recommend: %w", err)
	}
	lead := leader(a)
	r := Recommendation{
		VariantID: variants[lead].ID, Index: lead, Decision: KeepTesting,
		ProbBest: a.ProbBest[lead], ExpectedLoss: a.ExpectedLoss[lead], Analysis: a,
	}
	if r.ProbBest > p.Threshold || r.ExpectedLoss < p.LossTolerance {
		r.Decision = Winner
	}
	return r, nil
}

// Recommend applies DefaultPolicy.
func Recommend(variants []VariantStats) (Recommendation, error) {
	return DefaultPolicy().Recommend(variants)
}

// leader is the index of the highest P(best), ties to the lower expected loss, then to
// the earlier variant.
func leader(a Analysis) int {
	best := 0
	for i := 1; i < len(a.ProbBest); i++ {
		p, q := a.ProbBest[i], a.ProbBest[best]
		if p > q || (p == q && a.ExpectedLoss[i] < a.ExpectedLoss[best]) {
			best = i
		}
	}
	return best
}
