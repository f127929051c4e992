package attribution

import "math"

type creditKey struct{ channel, campaign string }

// linearScanLimit is how many (channel, campaign) pairs a ledger looks through before
// it builds a map: journeys rarely have more, and a scan beats hashing below that.
const linearScanLimit = 16

// ledger sums touch weights per (channel, campaign), in order of first appearance, so
// that credits come out in the order the journey met them.
//
// The credits themselves are the ledger: while a model weighs touches, a credit's
// ValueMicros holds its whole-number weight (models whose ratios are rational: linear,
// position based) or its Share holds its float weight (time decay, data-driven
// shares), and settling turns them into micros and shares. That makes a journey cost
// one allocation per model, its credits, which is what lets the rule-based models run
// over millions of journeys in seconds.
type ledger struct {
	credits []Credit
	index   map[creditKey]int
}

// newLedger makes room for the pairs of ts, at most one per touch.
func newLedger(ts []Touch) ledger {
	return ledger{credits: make([]Credit, 0, min(len(ts), linearScanLimit))}
}

// entry returns the credit of t's (channel, campaign), adding it if new.
func (l *ledger) entry(t Touch) *Credit {
	i := l.find(t.Channel, t.CampaignID)
	if i < 0 {
		i = len(l.credits)
		l.credits = append(l.credits, Credit{Channel: t.Channel, CampaignID: t.CampaignID})
		if l.index != nil {
			l.index[creditKey{t.Channel, t.CampaignID}] = i
		}
	}
	return &l.credits[i]
}

func (l *ledger) find(channel, campaign string) int {
	if l.index == nil && len(l.credits) > linearScanLimit {
		l.index = make(map[creditKey]int, 2*len(l.credits))
		for i, c := range l.credits {
			l.index[creditKey{c.Channel, c.CampaignID}] = i
		}
	}
	if l.index != nil {
		if i, ok := l.index[creditKey{channel, campaign}]; ok {
			return i
		}
		return -1
	}
	for i, c := range l.credits {
		if c.Channel == channel && c.CampaignID == campaign {
			return i
		}
	}
	return -1
}

// settleCounts splits value by the whole-number weights held in ValueMicros.
func (l *ledger) settleCounts(value int64) []Credit {
	var total int64
	for _, c := range l.credits {
		total += c.ValueMicros
	}
	for i := range l.credits {
		l.credits[i].Share = float64(l.credits[i].ValueMicros) / float64(total)
	}
	apportion(l.credits, value)
	return l.credits
}

// settleWeights splits value by the non-negative float weights held in Share. The
// weights are turned into whole numbers summing to about 2^62 first, so that they go
// through the same exact arithmetic: the resolution, 2^-62 of the total, is far below
// a micro of any real conversion, and equal float weights stay equal, so ties are
// still broken by order.
func (l *ledger) settleWeights(value int64) []Credit {
	var total float64
	for _, c := range l.credits {
		total += c.Share
	}
	for i := range l.credits {
		c := &l.credits[i]
		c.Share /= total
		c.ValueMicros = int64(math.Round(c.Share * (1 << 62)))
	}
	apportion(l.credits, value)
	return l.credits
}

// sole is the credit of a model that gives everything to one touch.
func sole(t Touch, value int64) []Credit {
	return []Credit{{Channel: t.Channel, CampaignID: t.CampaignID, ValueMicros: value, Share: 1}}
}
