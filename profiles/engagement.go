package profiles

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Engagement score, 0–100, of one profile from recency, frequency, depth and breadth of
// its interactions and its conversions.
//
// Each signal goes through a saturating transform into [0, 1], so that no single one,
// however extreme (a bot's ten thousand page views), can dominate, and the score is a
// weighted mean of the five, times 100:
//
//	recency     R = 2^(−days since last interaction / RecencyHalfLife)   (0 if never)
//	frequency   F = 1 − exp(−n / FrequencyScale),
//	            n = (1 − OlderWeight)·n30 + OlderWeight·max(n90, n30)
//	            (an interaction of the last 30 days counts 1, an older one within 90
//	            days OlderWeight)
//	depth       D = 1 − exp(−depth / DepthScale)     (mean pages or seconds per session)
//	breadth     B = 1 − exp(−channels / BreadthScale)
//	conversions C = 1 − exp(−conversions / ConversionScale)
//	score       = 100 · (wR·R + wF·F + wD·D + wB·B + wC·C) / (wR + wF + wD + wB + wC)
//
// Each transform is non-decreasing in its input (recency in the time of the last
// interaction) and the weights are non-negative, so the score is monotone in every input
// and bounded by [0, 100]. With DefaultEngagementWeights a profile last seen 2 days ago,
// with 6 interactions in 30 days and 15 in 90, on 2 channels, 4 pages per session and one
// conversion scores 73.95; the same profile last seen 60 days ago, so with nothing in
// the last 30 days, 45.26; a lapsed one last seen 60 days ago with 3 interactions in 90
// days, 1 channel, 2 pages per session and no conversion, 18.69 (the tests hold these).

// EngagementInput is what the touchpoints say about one profile as of some moment.
// Negative or NaN counts and depth count as 0.
type EngagementInput struct {
	// LastInteraction is the time of the latest interaction; zero if there was none.
	LastInteraction time.Time
	// Interactions30d and Interactions90d count interactions in the last 30 and 90
	// days; the 90-day count includes the 30-day one.
	Interactions30d, Interactions90d int
	// Channels is the number of distinct channels interacted on.
	Channels int
	// Depth is the mean engagement per session, in the unit DepthScale is in: pages per
	// session with the default weights, or time on site if DepthScale is set in seconds.
	Depth float64
	// Conversions counts the profile's conversions.
	Conversions int
}

// EngagementWeights are the weights and scales of the score; see the formula above.
// Weights are relative (they need not sum to 1); a scale is the input at which its
// transform reaches 1 − 1/e ≈ 63%.
type EngagementWeights struct {
	Recency, Frequency, Depth, Breadth, Conversions float64

	RecencyHalfLife time.Duration
	OlderWeight     float64 // weight of an interaction 31–90 days old, in [0, 1]
	FrequencyScale  float64 // interactions
	DepthScale      float64 // pages per session, or seconds if Depth is time on site
	BreadthScale    float64 // channels
	ConversionScale float64 // conversions
}

// DefaultEngagementWeights weigh recency most (0.30), then frequency (0.25), depth
// (0.20), conversions (0.15) and breadth (0.10). Recency halves every 14 days; 10
// recent interactions, 3 pages per session, 2 channels and 1 conversion each reach 63%
// of their component. An interaction 31–90 days old counts half a recent one.
func DefaultEngagementWeights() EngagementWeights {
	return EngagementWeights{
		Recency: 0.30, Frequency: 0.25, Depth: 0.20, Breadth: 0.10, Conversions: 0.15,
		RecencyHalfLife: 14 * 24 * time.Hour,
		OlderWeight:     0.5,
		FrequencyScale:  10,
		DepthScale:      3,
		BreadthScale:    2,
		ConversionScale: 1,
	}
}

// EngagementComponents are the five transformed signals, each in [0, 1]; they explain a
// score.
type EngagementComponents struct {
	Recency, Frequency, Depth, Breadth, Conversions float64
}

// EngagementModel scores profiles with validated weights; the per-score work is five
// exponentials and no allocation.
type EngagementModel struct {
	w EngagementWeights
	// Precomputed: the weights normalised to sum to 100, and the transforms' rates.
	wR, wF, wD, wB, wC                    float64
	decayPerHour                          float64
	freqRate, depthRate, breadthRate, cvr float64
}

// NewEngagementModel checks w and prepares it for scoring.
func NewEngagementModel(w EngagementWeights) (*EngagementModel, error) {
	if err := w.check(); err != nil {
		return nil, fmt.Errorf("profiles: engagement weights: %w", err)
	}
	total := w.Recency + w.Frequency + w.Depth + w.Breadth + w.Conversions
	return &EngagementModel{
		w:  w,
		wR: 100 * w.Recency / total, wF: 100 * w.Frequency / total, wD: 100 * w.Depth / total,
		wB: 100 * w.Breadth / total, wC: 100 * w.Conversions / total,
		decayPerHour: math.Ln2 / w.RecencyHalfLife.Hours(),
		freqRate:     1 / w.FrequencyScale, depthRate: 1 / w.DepthScale,
		breadthRate: 1 / w.BreadthScale, cvr: 1 / w.ConversionScale,
	}, nil
}

func (w EngagementWeights) check() error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"recency", w.Recency}, {"frequency", w.Frequency}, {"depth", w.Depth}, {"breadth", w.Breadth}, {"conversions", w.Conversions}} {
		if !(f.v >= 0) || math.IsInf(f.v, 0) {
			return fmt.Errorf("%s weight %g must be finite and non-negative", f.name, f.v)
		}
	}
	if !(w.Recency+w.Frequency+w.Depth+w.Breadth+w.Conversions > 0) {
		return errors.New("all weights are zero")
	}
	if w.RecencyHalfLife <= 0 {
		return fmt.Errorf("recency half-life %v must be positive", w.RecencyHalfLife)
	}
	if !(w.OlderWeight >= 0 && w.OlderWeight <= 1) {
		return fmt.Errorf("older-interaction weight %g must be in [0, 1]", w.OlderWeight)
	}
	for _, s := range []struct {
		name string
		v    float64
	}{{"frequency", w.FrequencyScale}, {"depth", w.DepthScale}, {"breadth", w.BreadthScale}, {"conversion", w.ConversionScale}} {
		if !(s.v > 0) || math.IsInf(s.v, 0) {
			return fmt.Errorf("%s scale %g must be positive and finite", s.name, s.v)
		}
	}
	return nil
}

// Weights returns the weights the model was built with.
func (m *EngagementModel) Weights() EngagementWeights { return m.w }

// Score is the engagement score of in as of now, in [0, 100].
func (m *EngagementModel) Score(in EngagementInput, now time.Time) float64 {
	c := m.Components(in, now)
	s := m.wR*c.Recency + m.wF*c.Frequency + m.wD*c.Depth + m.wB*c.Breadth + m.wC*c.Conversions
	// The normalised weights sum to 100 only up to rounding.
	return math.Min(100, math.Max(0, s))
}

// Components are the transformed signals behind Score.
func (m *EngagementModel) Components(in EngagementInput, now time.Time) EngagementComponents {
	n30 := nonNegative(float64(in.Interactions30d))
	n90 := math.Max(n30, nonNegative(float64(in.Interactions90d))) // a 90-day count below the 30-day one is a lag
	recent := (1-m.w.OlderWeight)*n30 + m.w.OlderWeight*n90
	return EngagementComponents{
		Recency:     m.recency(in.LastInteraction, now),
		Frequency:   saturation(recent * m.freqRate),
		Depth:       saturation(nonNegative(in.Depth) * m.depthRate),
		Breadth:     saturation(nonNegative(float64(in.Channels)) * m.breadthRate),
		Conversions: saturation(nonNegative(float64(in.Conversions)) * m.cvr),
	}
}

// recency is 0 for a profile never seen and 1 for one seen at or after now (clock skew
// between sources must not push it above 1).
func (m *EngagementModel) recency(last, now time.Time) float64 {
	if last.IsZero() {
		return 0
	}
	hours := now.Sub(last).Hours()
	if hours <= 0 {
		return 1
	}
	return math.Exp(-hours * m.decayPerHour)
}

// saturation maps [0, ∞] onto [0, 1]: 1 − e^(−x). Not Expm1: its extra precision near
// 0 is invisible on a 0–100 score and it is several times slower than Exp on amd64.
func saturation(x float64) float64 {
	return 1 - math.Exp(-x)
}

// nonNegative clamps negative and NaN input to 0.
func nonNegative(x float64) float64 {
	if x > 0 {
		return x
	}
	return 0
}

var defaultEngagement, _ = NewEngagementModel(DefaultEngagementWeights())

// EngagementScore scores in as of now with DefaultEngagementWeights.
func EngagementScore(in EngagementInput, now time.Time) float64 {
	return defaultEngagement.Score(in, now)
}
