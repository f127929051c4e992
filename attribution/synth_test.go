package attribution

import (
	"math"
	"reflect"
	"testing"
)

func TestSynthIsReproducible(t *testing.T) {
	a, b := testSynth(7).Journeys(200), testSynth(7).Journeys(200)
	if !reflect.DeepEqual(a, b) {
		t.Error("the same seed gave different journeys")
	}
	if reflect.DeepEqual(a, testSynth(8).Journeys(200)) {
		t.Error("different seeds gave the same journeys")
	}
}

// TestSynthFollowsItsModel: stale touches fall outside the window, and conversions
// happen at the rate the true model predicts.
func TestSynthFollowsItsModel(t *testing.T) {
	synth := testSynth(3)
	journeys := synth.Journeys(20_000)
	var stale, conversions int
	var expected float64
	for _, j := range journeys {
		stale += len(j.Touches) - len(window(j, DefaultLookback))
		expected += synth.TrueProbability(pathChannels(j))
		if j.Converted {
			conversions++
			if j.ValueMicros <= 0 || j.Currency == "" {
				t.Fatalf("conversion without value: %+v", j)
			}
		}
	}
	// About 30% of the journeys with touches (1 - 0.6^5 of them) have a stale one.
	if rate := float64(stale) / float64(len(journeys)); math.Abs(rate-0.3*(1-math.Pow(0.6, 5))) > 0.02 {
		t.Errorf("%.3f stale touches per journey", rate)
	}
	if got, want := float64(conversions), expected; math.Abs(got-want) > 4*math.Sqrt(want) {
		t.Errorf("%v conversions, the true model expects %.0f", got, want)
	}
}
