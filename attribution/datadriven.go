package attribution

import (
	"slices"
)

// attributeByChannel splits a conversion the way the data-driven models do: every
// channel present gets the weight shareOf gives it, renormalised over the channels
// present, and splits it between its campaigns by touch count (the models learn
// channels; campaigns within a channel are not told apart).
//
// When the model gives the channels present no weight at all, as for channels it
// never saw in training, the conversion falls back to Linear rather than staying
// unattributed: every conversion is fully attributed.
func attributeByChannel(j Journey, o Options, shareOf func(channels []string) []float64) []Credit {
	o = o.withDefaults()
	ts := conversionTouches(j, o)
	if len(ts) == 0 {
		return nil
	}
	channels, touches := channelCounts(ts)
	shares := shareOf(channels)
	if !(sum(shares) > 0) {
		return Linear(j, o)
	}
	l := newLedger(ts)
	for _, t := range ts {
		c := slices.Index(channels, t.Channel)
		l.entry(t).Share += shares[c] / float64(touches[c])
	}
	return l.settleWeights(j.ValueMicros)
}

// channelCounts returns the distinct channels of ts in order of first appearance and
// how many touches each has.
func channelCounts(ts []Touch) ([]string, []int) {
	var channels []string
	var touches []int
	for _, t := range ts {
		c := slices.Index(channels, t.Channel)
		if c < 0 {
			channels = append(channels, t.Channel)
			touches = append(touches, 0)
			c = len(channels) - 1
		}
		touches[c]++
	}
	return channels, touches
}

func sum(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s
}

// normalised returns weights scaled to sum to 1, keyed by name.
func normalised(names []string, weights []float64) map[string]float64 {
	total := sum(weights)
	shares := make(map[string]float64, len(names))
	for i, name := range names {
		shares[name] = weights[i] / total
	}
	return shares
}

// distinctChannels returns the channels of the paths, sorted so that a model's state
// and feature numbering does not depend on the order of its training data.
func distinctChannels(paths [][]string) []string {
	seen := make(map[string]bool)
	for _, p := range paths {
		for _, c := range p {
			seen[c] = true
		}
	}
	channels := make([]string, 0, len(seen))
	for c := range seen {
		channels = append(channels, c)
	}
	slices.Sort(channels)
	return channels
}

// trainingPaths returns every journey's channel path and whether it converted.
func trainingPaths(journeys []Journey) ([][]string, []bool) {
	paths := make([][]string, len(journeys))
	converted := make([]bool, len(journeys))
	for i, j := range journeys {
		paths[i], converted[i] = pathChannels(j), j.Converted
	}
	return paths, converted
}
