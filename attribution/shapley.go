package attribution

import (
	"errors"
	"fmt"
	"maps"
	"math"

	"gonum.org/v1/gonum/optimize"
)

// priorVariance is the variance of the Gaussian prior on every channel's log-odds
// effect, i.e. the L2 penalty β²/(2·priorVariance) per channel. It is weak (effects of
// ±3, a twentyfold change in odds, are well within it) so it hardly moves estimates on
// real volumes, but it keeps the fit finite and unique when a channel appears only on
// converting or only on non-converting paths, or two channels always appear together.
const priorVariance = 9.0

// Shapley attributes with Shapley values over a fitted conversion model: a logistic
// regression of P(convert | set of channels present), in which each channel adds a
// log-odds effect. A journey's credit goes to its channels by their Shapley values in
// the game v(S) = P(convert | S) - P(convert | ∅), the conversion lift that the
// channels in S bring together; Shapley values are the one split of v(N) that is
// efficient, symmetric, additive and gives nothing to channels that add nothing.
type Shapley struct {
	channels  []string
	feature   map[string]int // channel → index into effects
	intercept float64
	effects   []float64
	shares    map[string]float64
}

// pattern is the training journeys that have the same set of channels.
type pattern struct {
	present             []int // feature indices, ascending
	trials, conversions float64
}

// TrainShapley fits the conversion model to the journeys' channel sets (touches within
// the default lookback before the conversion, or before the last touch of a journey
// that did not convert) by L2-regularised maximum likelihood, and computes the model's
// credit shares over the converting journeys. It needs both converting and
// non-converting journeys: without both there is nothing to tell channels apart by.
func TrainShapley(journeys []Journey) (*Shapley, error) {
	paths, converted := trainingPaths(journeys)
	channels := distinctChannels(paths)
	if len(channels) == 0 {
		return nil, errors.New("attribution: shapley: no touches to learn from")
	}
	s := &Shapley{channels: channels, feature: make(map[string]int, len(channels))}
	for i, c := range channels {
		s.feature[c] = i
	}
	patterns := s.patterns(paths, converted)
	if err := s.fit(patterns); err != nil {
		return nil, fmt.Errorf("attribution: shapley: %w", err)
	}
	shares, err := creditShares(s.channels, patterns, s.game)
	if err != nil {
		return nil, fmt.Errorf("attribution: shapley: %w", err)
	}
	s.shares = shares
	return s, nil
}

// patterns groups the paths by channel set, in order of first appearance so that the
// fit's floating-point sums, and hence the model, depend only on the input.
func (s *Shapley) patterns(paths [][]string, converted []bool) []pattern {
	var patterns []pattern
	seen := make(map[string]int)
	for i, p := range paths {
		present := s.present(p)
		key := fmt.Sprint(present)
		k, ok := seen[key]
		if !ok {
			k = len(patterns)
			seen[key] = k
			patterns = append(patterns, pattern{present: present})
		}
		patterns[k].trials++
		if converted[i] {
			patterns[k].conversions++
		}
	}
	return patterns
}

// present returns the feature indices of the known channels among channels, ascending
// and without repeats.
func (s *Shapley) present(channels []string) []int {
	in := make([]bool, len(s.channels))
	for _, c := range channels {
		if f, ok := s.feature[c]; ok {
			in[f] = true
		}
	}
	var present []int
	for f, ok := range in {
		if ok {
			present = append(present, f)
		}
	}
	return present
}

// fit maximises the penalised likelihood with L-BFGS from the base rate; the objective
// is strictly convex, so the optimum is unique and the result deterministic.
func (s *Shapley) fit(patterns []pattern) error {
	var trials, conversions float64
	for _, p := range patterns {
		trials, conversions = trials+p.trials, conversions+p.conversions
	}
	if conversions == 0 || conversions == trials {
		return errors.New("needs both converting and non-converting journeys")
	}
	obj := logisticObjective{patterns: patterns, trials: trials, dims: len(s.channels) + 1}
	start := make([]float64, obj.dims)
	start[0] = math.Log(conversions / (trials - conversions))
	problem := optimize.Problem{Func: obj.value, Grad: obj.gradient}
	settings := &optimize.Settings{GradientThreshold: 1e-9, MajorIterations: 1000}
	result, err := optimize.Minimize(problem, start, settings, &optimize.LBFGS{})
	if err != nil && !(result != nil && obj.converged(result.X)) {
		return fmt.Errorf("fit conversion model: %w", err)
	}
	s.intercept, s.effects = result.X[0], result.X[1:]
	return nil
}

// converged says whether x is the optimum to float precision. The line search can
// give up next to the optimum when the objective no longer changes in float64; the
// objective being strictly convex, a near-zero gradient there means the fit is done.
func (o logisticObjective) converged(x []float64) bool {
	g := make([]float64, len(x))
	o.gradient(g, x)
	var norm float64
	for _, v := range g {
		norm = math.Max(norm, math.Abs(v))
	}
	return norm < 1e-6
}

// logisticObjective is the mean negative log-likelihood of a logistic model over
// grouped journeys plus the prior's penalty on the channel effects (not on the
// intercept). x[0] is the intercept, x[1+f] the effect of feature f.
type logisticObjective struct {
	patterns []pattern
	trials   float64
	dims     int
}

func (o logisticObjective) value(x []float64) float64 {
	var loss float64
	for _, p := range o.patterns {
		z := logit(x, p.present)
		loss += p.trials*softplus(z) - p.conversions*z
	}
	var penalty float64
	for _, b := range x[1:] {
		penalty += b * b
	}
	return (loss + penalty/(2*priorVariance)) / o.trials
}

func (o logisticObjective) gradient(grad, x []float64) {
	for i := range grad {
		grad[i] = 0
	}
	for _, p := range o.patterns {
		residual := p.trials*sigmoid(logit(x, p.present)) - p.conversions
		grad[0] += residual
		for _, f := range p.present {
			grad[1+f] += residual
		}
	}
	for i := 1; i < len(grad); i++ {
		grad[i] += x[i] / priorVariance
	}
	for i := range grad {
		grad[i] /= o.trials
	}
}

func logit(x []float64, present []int) float64 {
	z := x[0]
	for _, f := range present {
		z += x[1+f]
	}
	return z
}

// softplus is log(1 + e^z), computed without overflow.
func softplus(z float64) float64 {
	if z > 0 {
		return z + math.Log1p(math.Exp(-z))
	}
	return math.Log1p(math.Exp(z))
}

// game is the model's game over the given features.
func (s *Shapley) game(present []int) logitGame {
	effects := make([]float64, len(present))
	for i, f := range present {
		effects[i] = s.effects[f]
	}
	return logitGame{intercept: s.intercept, effects: effects}
}

// creditShares splits every conversion of the patterns between its channels by their
// Shapley values in game (negative values, channels that lowered the odds, get
// nothing), and returns each channel's share of all conversions.
func creditShares(channels []string, patterns []pattern, game func(present []int) logitGame) (map[string]float64, error) {
	credit := make([]float64, len(channels))
	for _, p := range patterns {
		if p.conversions == 0 || len(p.present) == 0 {
			continue
		}
		phi := positive(shapleyValues(game(p.present)))
		total := sum(phi)
		if total <= 0 {
			continue
		}
		for i, f := range p.present {
			credit[f] += p.conversions * phi[i] / total
		}
	}
	if sum(credit) <= 0 {
		return nil, errors.New("no channel raises the conversion probability")
	}
	return normalised(channels, credit), nil
}

// positive clamps negative values to zero: a channel that made conversion less likely
// is given no credit rather than a debit.
func positive(xs []float64) []float64 {
	for i, x := range xs {
		xs[i] = max(0, x)
	}
	return xs
}

// Shares returns every channel's share of the training conversions' credit.
func (s *Shapley) Shares() map[string]float64 { return maps.Clone(s.shares) }

// Effects returns every channel's fitted log-odds effect on conversion.
func (s *Shapley) Effects() map[string]float64 {
	effects := make(map[string]float64, len(s.channels))
	for i, c := range s.channels {
		effects[c] = s.effects[i]
	}
	return effects
}

// PathProbability is the fitted probability that a journey touching these channels
// converts. Order and repeats do not matter; channels unknown to the model add
// nothing.
func (s *Shapley) PathProbability(channels []string) float64 {
	z := s.intercept
	for _, f := range s.present(channels) {
		z += s.effects[f]
	}
	return sigmoid(z)
}

// Values returns the Shapley value of each of the given channels in the game
// v(S) = P(convert | S) - P(convert | ∅) over them; they sum to
// PathProbability(channels) - PathProbability(nil). A channel given twice counts
// once; a channel unknown to the model has no effect and is valued 0.
func (s *Shapley) Values(channels []string) map[string]float64 {
	present := s.present(channels)
	phi := shapleyValues(s.game(present))
	values := make(map[string]float64, len(channels))
	for _, c := range channels {
		values[c] = 0
	}
	for i, f := range present {
		values[s.channels[f]] = phi[i]
	}
	return values
}

// Attribute splits the journey's conversion between its channels by their Shapley
// values (negative ones count as zero), and a channel's credit between its campaigns
// by touch count.
func (s *Shapley) Attribute(j Journey, o Options) []Credit {
	return attributeByChannel(j, o, func(channels []string) []float64 {
		values := s.Values(channels)
		weights := make([]float64, len(channels))
		for i, c := range channels {
			weights[i] = max(0, values[c])
		}
		return weights
	})
}
