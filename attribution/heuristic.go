package attribution

import (
	"math"
	"time"
)

// Names of the rule-based models, as reports and storage call them.
const (
	NameFirstTouch    = "first_touch"
	NameLastTouch     = "last_touch"
	NameLinear        = "linear"
	NameTimeDecay     = "time_decay"
	NamePositionBased = "position_based"
)

// NamedModel is a model with the name it is reported under.
type NamedModel struct {
	Name      string
	Attribute Model
}

// Heuristics returns the rule-based models in a fixed order, for callers that compute
// them all.
func Heuristics() []NamedModel {
	return []NamedModel{
		{NameFirstTouch, FirstTouch},
		{NameLastTouch, LastTouch},
		{NameLinear, Linear},
		{NameTimeDecay, TimeDecay},
		{NamePositionBased, PositionBased},
	}
}

// FirstTouch gives the whole conversion to the earliest touch within the lookback; of
// simultaneous earliest touches, to the one listed first.
func FirstTouch(j Journey, o Options) []Credit {
	ts := conversionTouches(j, o.withDefaults())
	if len(ts) == 0 {
		return nil
	}
	return sole(ts[0], j.ValueMicros)
}

// LastTouch gives the whole conversion to the latest touch not after it; of
// simultaneous latest touches, to the one listed last.
func LastTouch(j Journey, o Options) []Credit {
	ts := conversionTouches(j, o.withDefaults())
	if len(ts) == 0 {
		return nil
	}
	return sole(ts[len(ts)-1], j.ValueMicros)
}

// Linear gives every touch within the lookback the same credit.
func Linear(j Journey, o Options) []Credit {
	ts := conversionTouches(j, o.withDefaults())
	if len(ts) == 0 {
		return nil
	}
	l := newLedger(ts)
	for _, t := range ts {
		l.entry(t).ValueMicros++
	}
	return l.settleCounts(j.ValueMicros)
}

// TimeDecay credits each touch in proportion to 0.5^(age/HalfLife), its age being the
// time from the touch to the conversion: a touch one half-life before the conversion
// counts half as much as one at the conversion.
//
// The specification's "lambda 0.5 / days since interaction" is the same curve written
// as lambda^(days/h) with lambda = 0.5: lambda is the factor lost per half-life h, so
// it is fixed at 0.5 and only the half-life is a parameter (lambda^days, taken
// literally, would be the special case h = 1 day). In continuous form the weight is
// exp(-k·age) with k = ln 2 / HalfLife.
//
// The default half-life is 7 days, the one Google Ads' time-decay model uses, so
// results compare with what marketers already see. Against the 30-day
// lookback it makes the last week count most while a touch at the edge of the window
// still gets about 5% (0.5^(30/7)) of a fresh one; a 1-day half-life would leave
// touches older than a week with less than 1%, which is last touch in disguise.
func TimeDecay(j Journey, o Options) []Credit {
	o = o.withDefaults()
	ts := conversionTouches(j, o)
	if len(ts) == 0 {
		return nil
	}
	// Ages are measured from the newest touch rather than from the conversion: the
	// ratios are the same, and the newest touch keeping weight 1 means the weights
	// cannot all underflow to zero however short the half-life.
	newest := ts[len(ts)-1].At
	l := newLedger(ts)
	for _, t := range ts {
		l.entry(t).Share += decay(newest.Sub(t.At), o.HalfLife)
	}
	return l.settleWeights(j.ValueMicros)
}

func decay(age, halfLife time.Duration) float64 {
	return math.Exp2(-float64(age) / float64(halfLife))
}

// PositionBased (U-shaped) gives 40% to the first touch, 40% to the last and shares
// the remaining 20% equally between the touches in between. A single touch gets
// everything, two touches half each.
func PositionBased(j Journey, o Options) []Credit {
	ts := conversionTouches(j, o.withDefaults())
	if len(ts) == 0 {
		return nil
	}
	l := newLedger(ts)
	for i, t := range ts {
		l.entry(t).ValueMicros += positionWeight(i, len(ts))
	}
	return l.settleCounts(j.ValueMicros)
}

// positionWeight is touch i's weight among n in whole numbers: with m = n-2 middle
// touches, the ends get 2m each and each middle touch 1, out of 5m in all, which is
// 40% / 20%/m / 40% exactly.
func positionWeight(i, n int) int64 {
	if n <= 2 {
		return 1
	}
	if i == 0 || i == n-1 {
		return 2 * int64(n-2)
	}
	return 1
}
