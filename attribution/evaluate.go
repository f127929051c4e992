package attribution

import (
	"cmp"
	"math"
	"slices"
)

// PathModel scores how likely a journey with these channels, in this order, is to
// convert. Both data-driven models are PathModels.
type PathModel interface {
	PathProbability(channels []string) float64
}

// Metrics measure a path-level conversion model on held-out journeys.
type Metrics struct {
	// AUC is the ROC-AUC: the probability that a converting journey scores above a
	// non-converting one (0.5 is chance, 1 perfect).
	AUC float64
	// LogLoss is the mean negative log-likelihood of the outcomes under the model.
	LogLoss float64
	// BaseRateLogLoss is the log-loss of predicting the held-out journeys' own
	// conversion rate for every journey: a model that does not beat it has learnt
	// nothing about channels. Using the held-out rate, not the training rate, makes
	// it the stricter baseline.
	BaseRateLogLoss float64
}

// Evaluate scores every held-out journey's path (touches within the default lookback,
// as in training) with m and compares the scores to whether it converted.
func Evaluate(m PathModel, heldOut []Journey) Metrics {
	scores := make([]float64, len(heldOut))
	labels := make([]bool, len(heldOut))
	conversions := 0
	for i, j := range heldOut {
		scores[i], labels[i] = m.PathProbability(pathChannels(j)), j.Converted
		if j.Converted {
			conversions++
		}
	}
	base := make([]float64, len(heldOut))
	for i := range base {
		base[i] = float64(conversions) / float64(len(heldOut))
	}
	return Metrics{AUC: ROCAUC(scores, labels), LogLoss: LogLoss(scores, labels), BaseRateLogLoss: LogLoss(base, labels)}
}

// ROCAUC returns the area under the ROC curve of scores against labels, computed as
// the Mann–Whitney statistic: the fraction of (positive, negative) pairs in which the
// positive scores higher, ties counting half. It is NaN without both a positive and a
// negative. It panics if the slices differ in length.
func ROCAUC(scores []float64, labels []bool) float64 {
	mustMatch(scores, labels)
	order := make([]int, len(scores))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(scores[a], scores[b]) })
	var positives, negatives, rankSum float64
	for lo := 0; lo < len(order); {
		hi := lo
		for hi < len(order) && scores[order[hi]] == scores[order[lo]] {
			hi++
		}
		// Tied scores share the mean of the ranks lo+1 … hi.
		rank := float64(lo+1+hi) / 2
		for _, i := range order[lo:hi] {
			if labels[i] {
				positives++
				rankSum += rank
			} else {
				negatives++
			}
		}
		lo = hi
	}
	if positives == 0 || negatives == 0 {
		return math.NaN()
	}
	return (rankSum - positives*(positives+1)/2) / (positives * negatives)
}

// logLossClip keeps probabilities of exactly 0 or 1 from giving an infinite loss.
const logLossClip = 1e-15

// LogLoss returns the mean negative log-likelihood of labels under the predicted
// probabilities, clipped to [1e-15, 1-1e-15]. It is NaN for no predictions and panics
// if the slices differ in length.
func LogLoss(probabilities []float64, labels []bool) float64 {
	mustMatch(probabilities, labels)
	var loss float64
	for i, p := range probabilities {
		p = min(max(p, logLossClip), 1-logLossClip)
		if labels[i] {
			loss -= math.Log(p)
		} else {
			loss -= math.Log1p(-p)
		}
	}
	return loss / float64(len(labels))
}

func mustMatch(xs []float64, labels []bool) {
	if len(xs) != len(labels) {
		panic("attribution: scores and labels differ in length")
	}
}
