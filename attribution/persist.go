package attribution

import (
	"errors"
	"fmt"
	"maps"

	"gonum.org/v1/gonum/mat"
)

// MarkovParams are the fitted parameters of a Markov model: enough to rebuild it,
// removal effects included, without its training data.
type MarkovParams struct {
	// Channels are the chain's channels, sorted; channel i is state i+1, state 0 is
	// start.
	Channels []string `json:"channels"`
	// Transitions[s][t] is the probability of a step from state s to state t.
	Transitions [][]float64 `json:"transitions"`
	// Conversion[s] is the probability of a step from state s to conversion.
	Conversion []float64 `json:"conversion"`
	// Ends[s] counts the training paths that ended in state s converted and not.
	Ends     [][2]float64 `json:"ends"`
	BaseRate float64      `json:"base_rate"`
}

// Params returns the model's fitted parameters.
func (m *Markov) Params() MarkovParams {
	n := len(m.r)
	p := MarkovParams{Channels: append([]string(nil), m.channels...), Conversion: append([]float64(nil), m.r...),
		Ends: append([][2]float64(nil), m.ends...), BaseRate: m.baseRate, Transitions: make([][]float64, n)}
	for s := range n {
		p.Transitions[s] = append([]float64(nil), m.q.RawRowView(s)...)
	}
	return p
}

// MarkovFromParams rebuilds a Markov model from its parameters, recomputing the
// removal effects.
func MarkovFromParams(p MarkovParams) (*Markov, error) {
	n := len(p.Channels) + 1
	if len(p.Channels) == 0 || len(p.Transitions) != n || len(p.Conversion) != n || len(p.Ends) != n {
		return nil, errors.New("attribution: markov params: inconsistent sizes")
	}
	m := &Markov{channels: append([]string(nil), p.Channels...), state: make(map[string]int, n-1),
		q: mat.NewDense(n, n, nil), r: append([]float64(nil), p.Conversion...), ends: append([][2]float64(nil), p.Ends...), baseRate: p.BaseRate}
	for i, c := range m.channels {
		m.state[c] = i + 1
	}
	for s, row := range p.Transitions {
		if len(row) != n {
			return nil, errors.New("attribution: markov params: inconsistent sizes")
		}
		m.q.SetRow(s, row)
	}
	if err := m.computeRemovalEffects(); err != nil {
		return nil, fmt.Errorf("attribution: markov params: %w", err)
	}
	return m, nil
}

// ShapleyParams are the fitted parameters of a Shapley model: the logistic model's
// intercept and per-channel effects, and the credit shares over its training
// conversions (which need the training data to recompute).
type ShapleyParams struct {
	Channels  []string           `json:"channels"`
	Intercept float64            `json:"intercept"`
	Effects   []float64          `json:"effects"`
	Shares    map[string]float64 `json:"shares"`
}

// Params returns the model's fitted parameters.
func (s *Shapley) Params() ShapleyParams {
	return ShapleyParams{Channels: append([]string(nil), s.channels...), Intercept: s.intercept,
		Effects: append([]float64(nil), s.effects...), Shares: maps.Clone(s.shares)}
}

// ShapleyFromParams rebuilds a Shapley model from its parameters.
func ShapleyFromParams(p ShapleyParams) (*Shapley, error) {
	if len(p.Channels) == 0 || len(p.Effects) != len(p.Channels) {
		return nil, errors.New("attribution: shapley params: inconsistent sizes")
	}
	s := &Shapley{channels: append([]string(nil), p.Channels...), feature: make(map[string]int, len(p.Channels)),
		intercept: p.Intercept, effects: append([]float64(nil), p.Effects...), shares: maps.Clone(p.Shares)}
	for i, c := range s.channels {
		s.feature[c] = i
	}
	return s, nil
}
