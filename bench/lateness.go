package bench

import (
	"math/rand/v2"
	"time"
)

// Lateness draws how long before its capture an event happened, from the profile
// measured on real producers: 60% within the last 2 hours, 25% between 2 and 48
// hours, the rest between 48 hours and Max. Late events touch buckets of their own
// at every level, which is what makes them the expensive case for the aggregates.
type Lateness struct {
	max time.Duration
	rng *rand.Rand
}

// lateBand is one part of the profile: percent of the events, drawn uniformly from
// [from, to).
type lateBand struct {
	percent  int
	from, to time.Duration
}

var lateProfile = []lateBand{
	{60, 0, 2 * time.Hour},
	{25, 2 * time.Hour, 48 * time.Hour},
	{15, 48 * time.Hour, 1 << 62},
}

// NewLateness returns a seeded profile up to max; max 0 means every event is on time.
func NewLateness(max time.Duration, seed uint64) *Lateness {
	return &Lateness{max: max, rng: rand.New(rand.NewPCG(seed, 0x1a7e))}
}

// Draw returns the next event's lateness, in [0, max). A band that starts at or past
// max gives its share to the last band that fits, so a short max still follows the
// profile as far as it reaches.
func (l *Lateness) Draw() time.Duration {
	if l.max <= 0 {
		return 0
	}
	p := l.rng.IntN(100)
	band := lateProfile[0]
	for _, b := range lateProfile {
		if b.from >= l.max {
			break
		}
		band = b
		if p < b.percent {
			break
		}
		p -= b.percent
	}
	to := min(band.to, l.max)
	return band.from + time.Duration(l.rng.Int64N(int64(to-band.from)))
}
