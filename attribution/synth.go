package attribution

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// SynthChannel is a channel of a synthetic population, with a known effect.
type SynthChannel struct {
	Name string
	// Reach is the probability that a journey touches the channel.
	Reach float64
	// LogOdds is the channel's true effect: what touching it adds to the log-odds of
	// converting.
	LogOdds float64
}

// Synth generates reproducible journeys whose conversions follow known channel effects,
// for tests and benchmarks: a journey touches each channel with its Reach, and
// converts with probability σ(BaseLogOdds + Σ LogOdds of the channels it touched).
type Synth struct {
	Channels    []SynthChannel
	BaseLogOdds float64
	// Campaigns is the number of campaigns per channel (at least 1).
	Campaigns int
	// MaxTouches is the most touches a journey has per channel it touches (at least 1).
	MaxTouches int
	// StaleRate is the probability that a journey also has a touch two to three months
	// before its end: outside any default lookback, so it must count for nothing.
	StaleRate float64
	// Currencies are the currencies conversions are drawn in (default EUR).
	Currencies []string
	// End is when the last conversions happen (default 2026-01-01 UTC); journeys end
	// at random within the 90 days before it.
	End  time.Time
	Seed uint64
}

// synthTouchSpan is how long before its end a journey's counting touches fall: inside
// the default lookback, so every journey's path is exactly the channels it touched.
const synthTouchSpan = 28 * 24 * time.Hour

// Journeys generates n journeys; the same Synth always generates the same ones.
func (s Synth) Journeys(n int) []Journey {
	g := s.generator()
	journeys := make([]Journey, n)
	for i := range journeys {
		journeys[i] = g.journey()
	}
	return journeys
}

// TrueProbability is the probability that a journey touching these channels converts.
func (s Synth) TrueProbability(channels []string) float64 {
	return s.trueModel().PathProbability(channels)
}

// TrueShares is the ground truth the data-driven models are measured against: each
// converting journey's conversion is split between the channels it touched by their
// Shapley values in the true model's game v(S) = P(convert | S) - P(convert | ∅), and
// a channel's true share is its part of all those conversions. Effects add on the
// log-odds scale but not on the probability scale, so channels interact; Shapley
// values are the split of a journey's lift that treats channels with equal effects
// equally and gives a channel without effect nothing. A model is then measured by how
// well it recovers the effects, not by a different notion of credit.
func (s Synth) TrueShares(journeys []Journey) map[string]float64 {
	m := s.trueModel()
	shares, err := creditShares(m.channels, m.patterns(trainingPaths(journeys)), m.game)
	if err != nil {
		return nil // no conversion, or no channel with a positive effect: no credit
	}
	return shares
}

// trueModel is a Shapley model holding the true parameters instead of fitted ones.
func (s Synth) trueModel() *Shapley {
	m := &Shapley{intercept: s.BaseLogOdds, feature: make(map[string]int)}
	for i, c := range s.Channels {
		m.channels = append(m.channels, c.Name)
		m.effects = append(m.effects, c.LogOdds)
		m.feature[c.Name] = i
	}
	return m
}

type synthGenerator struct {
	Synth
	rng       *rand.Rand
	campaigns [][]string
	model     *Shapley
}

func (s Synth) generator() *synthGenerator {
	s.Campaigns, s.MaxTouches = max(1, s.Campaigns), max(1, s.MaxTouches)
	if len(s.Currencies) == 0 {
		s.Currencies = []string{"EUR"}
	}
	if s.End.IsZero() {
		s.End = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	g := &synthGenerator{Synth: s, rng: rand.New(rand.NewPCG(s.Seed, 0x7e57)), model: s.trueModel()}
	// Names are built once so that a million journeys share their strings.
	for _, c := range s.Channels {
		names := make([]string, s.Campaigns)
		for k := range names {
			names[k] = fmt.Sprintf("%s-%d", c.Name, k+1)
		}
		g.campaigns = append(g.campaigns, names)
	}
	return g
}

func (g *synthGenerator) journey() Journey {
	end := g.End.Add(-g.duration(90 * 24 * time.Hour))
	var touches []Touch
	var channels []string
	for c, ch := range g.Channels {
		if g.rng.Float64() >= ch.Reach {
			continue
		}
		channels = append(channels, ch.Name)
		for range 1 + g.rng.IntN(g.MaxTouches) {
			touches = append(touches, g.touch(c, end.Add(-g.duration(synthTouchSpan))))
		}
	}
	slices.SortStableFunc(touches, byTime)
	// A stale touch is only added to journeys with others, whose last touch is then at
	// most 28 days before the end and the stale one at least 60: more than a lookback
	// apart even for a journey that did not convert and so ends at its last touch.
	if len(touches) > 0 && g.rng.Float64() < g.StaleRate {
		stale := g.touch(g.rng.IntN(len(g.Channels)), end.Add(-60*24*time.Hour-g.duration(30*24*time.Hour)))
		touches = append([]Touch{stale}, touches...)
	}
	j := Journey{Touches: touches}
	if g.rng.Float64() < g.model.PathProbability(channels) {
		j.Converted, j.ConvertedAt = true, end
		j.ValueMicros = 1_000_000 + g.rng.Int64N(500_000_000)
		j.Currency = g.Currencies[g.rng.IntN(len(g.Currencies))]
	}
	return j
}

func (g *synthGenerator) touch(channel int, at time.Time) Touch {
	return Touch{Channel: g.Channels[channel].Name, CampaignID: g.campaigns[channel][g.rng.IntN(g.Campaigns)], At: at}
}

// duration draws a whole number of seconds in [0, d).
func (g *synthGenerator) duration(d time.Duration) time.Duration {
	return time.Duration(g.rng.Int64N(int64(d/time.Second))) * time.Second
}
