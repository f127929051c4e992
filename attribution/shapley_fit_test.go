package attribution

import (
	"math"
	"testing"
)

// TestShapleyFitsWhereTheLineSearchStalls: on these data L-BFGS's line search gives up
// next to the optimum (the objective no longer changes in float64). The fit must still
// succeed, since the gradient there is zero to float precision.
func TestShapleyFitsWhereTheLineSearchStalls(t *testing.T) {
	for _, seed := range []uint64{35, 51} {
		s := Synth{Channels: []SynthChannel{{"email", 0.5, 1}, {"search", 0.5, 0.5}, {"display", 0.4, 0}, {"video", 0.3, -0.5}},
			BaseLogOdds: 0.5, Seed: seed}
		m, err := TrainShapley(s.Journeys(2000))
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		var sum float64
		for _, share := range m.Shares() {
			sum += share
		}
		if math.Abs(sum-1) > 1e-9 {
			t.Fatalf("seed %d: shares sum to %v", seed, sum)
		}
	}
}
