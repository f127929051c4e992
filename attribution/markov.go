package attribution

import (
	"errors"
	"fmt"
	"maps"

	"gonum.org/v1/gonum/mat"
)

// Markov is a first-order Markov-chain attribution model. Its states are start, one
// per channel, and the absorbing conversion and null; the transition probabilities
// are the frequencies of the steps in the training paths (a converting path ends with
// a step to conversion, any other with a step to null). A channel's removal effect is
// the relative drop of the probability of reaching conversion from start when every
// step into the channel goes to null instead; its credit share is its removal effect
// over the sum of all of them.
type Markov struct {
	channels []string       // sorted; channel i is state i+1, state 0 is start
	state    map[string]int // channel → state
	q        *mat.Dense     // transition probabilities between transient states
	r        []float64      // transition probabilities from transient states to conversion
	// ends counts, per transient state, the paths that ended there converted ([0]) and
	// not ([1]): what PathProbability scores a finished path by.
	ends     [][2]float64
	baseRate float64
	pConv    float64
	removal  map[string]float64
	shares   map[string]float64
}

// TrainMarkov fits the chain to the journeys' paths (touches within the default
// lookback before the conversion, or before the last touch of a journey that did not
// convert) and computes every channel's removal effect exactly, by solving the
// absorbing chain's linear system rather than simulating walks.
func TrainMarkov(journeys []Journey) (*Markov, error) {
	paths, converted := trainingPaths(journeys)
	channels := distinctChannels(paths)
	if len(channels) == 0 {
		return nil, errors.New("attribution: markov: no touches to learn from")
	}
	m := &Markov{channels: channels, state: make(map[string]int, len(channels))}
	for i, c := range channels {
		m.state[c] = i + 1
	}
	m.fit(paths, converted)
	if err := m.computeRemovalEffects(); err != nil {
		return nil, fmt.Errorf("attribution: markov: %w", err)
	}
	return m, nil
}

// fit counts the steps of the paths and turns them into transition probabilities.
func (m *Markov) fit(paths [][]string, converted []bool) {
	n := len(m.channels) + 1
	counts := mat.NewDense(n, n, nil)
	m.r = make([]float64, n)
	m.ends = make([][2]float64, n)
	var conversions float64
	for i, p := range paths {
		from := 0
		for _, c := range p {
			to := m.state[c]
			counts.Set(from, to, counts.At(from, to)+1)
			from = to
		}
		if converted[i] {
			m.ends[from][0]++
			conversions++
		} else {
			m.ends[from][1]++
		}
	}
	m.baseRate = conversions / float64(len(paths))
	m.q = counts
	for s := range n {
		row := m.q.RawRowView(s)
		total := sum(row) + m.ends[s][0] + m.ends[s][1]
		if total == 0 {
			continue // a state no path reached; nothing leaves it
		}
		for t := range row {
			row[t] /= total
		}
		m.r[s] = m.ends[s][0] / total
	}
}

func (m *Markov) computeRemovalEffects() error {
	p, err := m.conversionProbability(-1)
	if err != nil {
		return err
	}
	if p <= 0 {
		return errors.New("no converting path to learn from")
	}
	effects := make([]float64, len(m.channels))
	for i := range m.channels {
		without, err := m.conversionProbability(i + 1)
		if err != nil {
			return err
		}
		// Removing a channel can only lose conversions; max guards against rounding.
		effects[i] = max(0, 1-without/p)
	}
	if sum(effects) <= 0 {
		return errors.New("no channel leads to conversion")
	}
	m.pConv = p
	m.removal = make(map[string]float64, len(m.channels))
	for i, c := range m.channels {
		m.removal[c] = effects[i]
	}
	m.shares = normalised(m.channels, effects)
	return nil
}

// conversionProbability is the probability of being absorbed in conversion from
// start, with every step into state removed sent to null (removed < 0 removes
// nothing). With Q the transient-to-transient and r the transient-to-conversion
// probabilities, the absorption probabilities x satisfy x = Qx + r, so x solves
// (I - Q)x = r; the system is regular because every state seen in training has a path
// to an absorbing state.
func (m *Markov) conversionProbability(removed int) (float64, error) {
	n := len(m.r)
	a := mat.NewDense(n, n, nil)
	a.Scale(-1, m.q)
	b := mat.NewVecDense(n, append([]float64(nil), m.r...))
	if removed >= 0 {
		for s := range n {
			a.Set(s, removed, 0) // steps into the removed channel now go to null
			a.Set(removed, s, 0)
		}
		b.SetVec(removed, 0)
	}
	for s := range n {
		a.Set(s, s, a.At(s, s)+1)
	}
	var x mat.VecDense
	if err := x.SolveVec(a, b); err != nil {
		return 0, fmt.Errorf("solve absorbing chain: %w", err)
	}
	return x.AtVec(0), nil
}

// ConversionProbability is the chain's probability of converting from start.
func (m *Markov) ConversionProbability() float64 { return m.pConv }

// RemovalEffects returns every channel's removal effect: 1 - P(conversion without the
// channel) / P(conversion).
func (m *Markov) RemovalEffects() map[string]float64 { return maps.Clone(m.removal) }

// Shares returns every channel's credit share: its removal effect over the sum of all
// removal effects. The shares sum to 1.
func (m *Markov) Shares() map[string]float64 { return maps.Clone(m.shares) }

// Attribute splits the journey's conversion between the channels present in
// proportion to their shares, renormalised over those channels; a channel's credit is
// split between its campaigns by touch count.
func (m *Markov) Attribute(j Journey, o Options) []Credit {
	return attributeByChannel(j, o, func(channels []string) []float64 {
		shares := make([]float64, len(channels))
		for i, c := range channels {
			shares[i] = m.shares[c]
		}
		return shares
	})
}

// PathProbability is the chain's probability that a finished path with these
// channels, in this order, converted: a first-order chain remembers only the last
// state, so it is the share of paths ending there that ended converted. That share is
// smoothed toward the base rate by one pseudo-path, so that a state seen at the end of
// a single path does not score 0 or 1; a last channel the chain never saw scores the
// base rate.
func (m *Markov) PathProbability(channels []string) float64 {
	s := 0
	if len(channels) > 0 {
		var ok bool
		if s, ok = m.state[channels[len(channels)-1]]; !ok {
			return m.baseRate
		}
	}
	e := m.ends[s]
	return (e[0] + m.baseRate) / (e[0] + e[1] + 1)
}
