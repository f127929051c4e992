package attribution

import (
	"slices"
	"sort"
	"time"
)

// PersonTouch is a touch of a resolved person: Person is whatever identifies one
// person across devices (identity resolution happens before stitching).
type PersonTouch struct {
	Person string
	Touch
}

// PersonConversion is a conversion of a resolved person.
type PersonConversion struct {
	Person      string
	EventID     string
	ValueMicros int64
	Currency    string
	At          time.Time
}

// StitchedJourney is the journey that led to one conversion.
type StitchedJourney struct {
	EventID string
	Journey
}

// Stitch builds one converted journey per conversion from the touches of the same
// person at most lookback (zero or negative: DefaultLookback) before it and not after
// it, whatever device each was on: a conversion on a laptop picks up the phone touches
// of the same person, and never another person's. Journeys come in the order of
// conversions, their touches oldest first.
//
// The touches of a person are sorted once and every journey's Touches is a slice of
// them, so that stitching a day of conversions costs no copy per journey: callers must
// not modify them.
func Stitch(touches []PersonTouch, conversions []PersonConversion, lookback time.Duration) []StitchedJourney {
	if lookback <= 0 {
		lookback = DefaultLookback
	}
	byPerson := touchesByPerson(touches)
	out := make([]StitchedJourney, len(conversions))
	for i, c := range conversions {
		ts := byPerson[c.Person]
		// First touch not before the window, first touch after the conversion.
		lo := sort.Search(len(ts), func(k int) bool { return !ts[k].At.Before(c.At.Add(-lookback)) })
		hi := sort.Search(len(ts), func(k int) bool { return ts[k].At.After(c.At) })
		var window []Touch
		if lo < hi {
			window = ts[lo:hi:hi]
		}
		out[i] = StitchedJourney{EventID: c.EventID, Journey: Journey{
			Touches: window, Converted: true, ValueMicros: c.ValueMicros, Currency: c.Currency, ConvertedAt: c.At,
		}}
	}
	return out
}

// touchesByPerson groups touches by person, each group oldest first; simultaneous
// touches keep their input order so that first and last touch are reproducible.
func touchesByPerson(touches []PersonTouch) map[string][]Touch {
	byPerson := make(map[string][]Touch)
	for _, t := range touches {
		byPerson[t.Person] = append(byPerson[t.Person], t.Touch)
	}
	for _, ts := range byPerson {
		if !slices.IsSortedFunc(ts, byTime) {
			slices.SortStableFunc(ts, byTime)
		}
	}
	return byPerson
}
