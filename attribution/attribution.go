// Package attribution splits the value of a conversion between the marketing touches
// that led to it.
//
// It holds the models only: rule-based ones (first touch, last touch, linear, time
// decay, position based) that need nothing but the journey, and data-driven ones
// (Markov-chain removal effect, Shapley values over a fitted conversion model) that are
// trained from converting and non-converting journeys. Everything here is pure: reading
// touchpoints, stitching journeys across devices and storing credits happen elsewhere.
//
// Every model is "fully attributed": the credits of a conversion sum exactly, in integer
// micros, to its value, so that reports per channel add up to revenue to the micro.
package attribution

import "time"

// Touch is one marketing interaction of a journey.
type Touch struct {
	Channel    string
	CampaignID string
	At         time.Time
}

// Journey is one person's stitched path: the touches before a conversion, or a path
// that did not convert. Touches may come in any order; the models order them.
type Journey struct {
	Touches     []Touch
	Converted   bool
	ValueMicros int64
	// Currency is the currency of ValueMicros. A journey has one currency, and its
	// credits are in it too: they carry it implicitly.
	Currency    string
	ConvertedAt time.Time
}

// Credit is the part of a conversion attributed to one (channel, campaign) pair.
type Credit struct {
	Channel     string
	CampaignID  string
	ValueMicros int64
	// Share is the unrounded fraction of the conversion; the shares of a conversion
	// sum to 1 (up to floating point), even when its value is zero.
	Share float64
}

// Defaults of Options.
const (
	// DefaultLookback is how far before a conversion touches still count.
	DefaultLookback = 30 * 24 * time.Hour
	// DefaultHalfLife is the age at which a touch counts half as much as one at
	// conversion time in the time-decay model; see TimeDecay for why a week.
	DefaultHalfLife = 7 * 24 * time.Hour
)

// Options configure the models. The zero value means the defaults.
type Options struct {
	// Lookback bounds the age of the touches that count: a touch older than
	// Lookback at conversion time gets no credit. Zero or negative means
	// DefaultLookback.
	Lookback time.Duration
	// HalfLife is the time-decay model's half-life. Zero or negative means
	// DefaultHalfLife.
	HalfLife time.Duration
}

func (o Options) withDefaults() Options {
	if o.Lookback <= 0 {
		o.Lookback = DefaultLookback
	}
	if o.HalfLife <= 0 {
		o.HalfLife = DefaultHalfLife
	}
	return o
}

// Model attributes one journey's conversion. It returns no credits for a journey that
// did not convert or has no touch within the lookback.
type Model func(j Journey, o Options) []Credit
