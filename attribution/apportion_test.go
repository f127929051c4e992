package attribution

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestApportion(t *testing.T) {
	tests := []struct {
		name    string
		weights []uint64
		value   int64
		want    []int64
	}{
		{"exact", []uint64{1, 3}, 100, []int64{25, 75}},
		{"largest remainder", []uint64{1, 2, 4}, 100, []int64{14, 29, 57}},
		{"ties to the earliest", []uint64{1, 1, 1}, 2, []int64{1, 1, 0}},
		{"zero weight gets nothing", []uint64{0, 1, 1}, 3, []int64{0, 2, 1}},
		{"zero value", []uint64{2, 1}, 0, []int64{0, 0}},
		{"negative", []uint64{1, 1, 1}, -2, []int64{-1, -1, 0}},
		{"largest int64", []uint64{1, 1}, math.MaxInt64, []int64{math.MaxInt64/2 + 1, math.MaxInt64 / 2}},
		{"smallest int64", []uint64{1, 1, 2}, math.MinInt64, []int64{math.MinInt64 / 4, math.MinInt64 / 4, math.MinInt64 / 2}},
		{"huge weights", []uint64{1 << 62, 1 << 61, 1 << 61}, 7, []int64{3, 2, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			credits := make([]Credit, len(tt.weights))
			for i, w := range tt.weights {
				credits[i].ValueMicros = int64(w)
			}
			apportion(credits, tt.value)
			got := make([]int64, len(credits))
			for i, c := range credits {
				got[i] = c.ValueMicros
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestHeuristicsAreExact checks on random journeys (unsorted, with touches outside the
// window and after the conversion, simultaneous touches, any value) that every model's
// credits sum exactly to the value, each within a micro of its unrounded share, with
// one credit per (channel, campaign) touched within the window.
func TestHeuristicsAreExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		j := randomJourney(rng)
		for _, m := range Heuristics() {
			checkExact(t, m.Name, j, m.Attribute(j, Options{}))
		}
	}
}

func randomJourney(rng *rand.Rand) Journey {
	values := []int64{0, 1, 7, 100, 999_999_999, math.MaxInt64, math.MinInt64, -12_345}
	j := converted(values[rng.IntN(len(values))])
	if rng.IntN(2) == 0 {
		j.ValueMicros = rng.Int64N(1_000_000_000_000)
	}
	for range rng.IntN(12) {
		// Whole hours from 5 days after to 35 days before: some outside, some
		// simultaneous.
		hours := rng.IntN(40*24) - 5*24
		ch := string(rune('A' + rng.IntN(5)))
		j.Touches = append(j.Touches, touch(ch, float64(hours)/24))
	}
	return j
}

func checkExact(t *testing.T, model string, j Journey, credits []Credit) {
	t.Helper()
	keys := windowKeys(j)
	want := len(keys)
	if (model == NameFirstTouch || model == NameLastTouch) && want > 0 {
		want = 1
	}
	if len(credits) != want {
		t.Fatalf("%s: %d credits, want %d: %+v", model, len(credits), want, j)
	}
	var total int64
	var shares float64
	for _, c := range credits {
		if !keys[creditKey{c.Channel, c.CampaignID}] {
			t.Fatalf("%s: credit %+v for a pair not in the window", model, c)
		}
		total += c.ValueMicros
		shares += c.Share
		if quota := c.Share * float64(j.ValueMicros); math.Abs(float64(c.ValueMicros)-quota) > 1+1e-9*math.Abs(quota) {
			t.Fatalf("%s: credit %d micros for quota %f of %d", model, c.ValueMicros, quota, j.ValueMicros)
		}
	}
	if len(credits) > 0 && (total != j.ValueMicros || math.Abs(shares-1) > 1e-9) {
		t.Fatalf("%s: credits sum to %d (shares %f), want %d: %+v", model, total, shares, j.ValueMicros, credits)
	}
}

func windowKeys(j Journey) map[creditKey]bool {
	keys := make(map[creditKey]bool)
	for _, tc := range j.Touches {
		if age := j.ConvertedAt.Sub(tc.At); age >= 0 && age <= 30*24*time.Hour {
			keys[creditKey{tc.Channel, tc.CampaignID}] = true
		}
	}
	return keys
}

// TestFloatWeightsKeepTies: equal float weights must stay equal through their
// conversion to whole numbers, so that the earlier credit, not rounding noise, gets a
// leftover micro.
func TestFloatWeightsKeepTies(t *testing.T) {
	for _, tt := range []struct {
		value int64
		want  []int64
	}{{3, []int64{1, 2, 0, 0}}, {10, []int64{1, 7, 1, 1}}, {-3, []int64{-1, -2, 0, 0}}} {
		l := newLedger(nil)
		for i, w := range []float64{0.1, 0.7, 0.1, 0.1} {
			l.entry(touch(string(rune('A'+i)), 1)).Share = w
		}
		var got []int64
		for _, c := range l.settleWeights(tt.value) {
			got = append(got, c.ValueMicros)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%d split 1:7:1:1 = %v, want %v", tt.value, got, tt.want)
		}
	}
}

func TestLedgerBeyondLinearScan(t *testing.T) {
	var ts []Touch
	for i := range 3 * linearScanLimit {
		ts = append(ts, touch(string(rune('a'+i%(2*linearScanLimit))), float64(i)/10))
	}
	j := converted(1_000_003, ts...)
	credits := Linear(j, Options{})
	if len(credits) != 2*linearScanLimit {
		t.Fatalf("%d credits for %d channels", len(credits), 2*linearScanLimit)
	}
	checkExact(t, "linear", j, credits)
}
