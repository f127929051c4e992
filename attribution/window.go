package attribution

import (
	"slices"
	"time"
)

// window returns the touches of j that count, oldest first: those at most lookback
// before the journey's end and not after it. The end is the conversion, or the last
// touch of a journey that did not convert (so that training sees converting and
// non-converting paths through the same window).
//
// Touches at the same instant keep their input order, so that first and last touch
// are reproducible. The result aliases j.Touches when nothing has to be dropped or
// reordered, which is the common case and saves a copy per journey: callers must not
// modify it.
func window(j Journey, lookback time.Duration) []Touch {
	end, ok := journeyEnd(j)
	if !ok {
		return nil
	}
	from := end.Add(-lookback)
	if inOrderWithin(j.Touches, from, end) {
		return j.Touches
	}
	kept := make([]Touch, 0, len(j.Touches))
	for _, t := range j.Touches {
		if within(t.At, from, end) {
			kept = append(kept, t)
		}
	}
	// Dropping touches outside the window often leaves the rest in order already.
	if !slices.IsSortedFunc(kept, byTime) {
		slices.SortStableFunc(kept, byTime)
	}
	return kept
}

func byTime(a, b Touch) int { return a.At.Compare(b.At) }

func journeyEnd(j Journey) (time.Time, bool) {
	if j.Converted {
		return j.ConvertedAt, true
	}
	if len(j.Touches) == 0 {
		return time.Time{}, false
	}
	end := j.Touches[0].At
	for _, t := range j.Touches[1:] {
		if t.At.After(end) {
			end = t.At
		}
	}
	return end, true
}

func within(at, from, end time.Time) bool {
	return !at.Before(from) && !at.After(end)
}

// inOrderWithin reports whether every touch is within [from, end] and they are
// already in chronological order.
func inOrderWithin(ts []Touch, from, end time.Time) bool {
	for i, t := range ts {
		if !within(t.At, from, end) || (i > 0 && t.At.Before(ts[i-1].At)) {
			return false
		}
	}
	return true
}

// conversionTouches are the touches a rule-based model credits: none unless the
// journey converted.
func conversionTouches(j Journey, o Options) []Touch {
	if !j.Converted {
		return nil
	}
	return window(j, o.Lookback)
}

// pathChannels is the channel sequence the data-driven models learn from and score:
// the journey's touches within the default lookback, oldest first.
func pathChannels(j Journey) []string {
	ts := window(j, DefaultLookback)
	channels := make([]string, len(ts))
	for i, t := range ts {
		channels[i] = t.Channel
	}
	return channels
}
