package profiles

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func daysAgo(d float64) time.Time { return now.Add(-time.Duration(d * 24 * float64(time.Hour))) }

func TestEngagementExamples(t *testing.T) {
	tests := []struct {
		name string
		in   EngagementInput
		want float64
	}{
		{"never interacted", EngagementInput{}, 0},
		{"active", EngagementInput{LastInteraction: daysAgo(2), Interactions30d: 6, Interactions90d: 15, Channels: 2, Depth: 4, Conversions: 1}, 73.954337},
		{"active, then quiet for 60 days", EngagementInput{LastInteraction: daysAgo(60), Interactions90d: 15, Channels: 2, Depth: 4, Conversions: 1}, 45.260036},
		{"lapsed", EngagementInput{LastInteraction: daysAgo(60), Interactions90d: 3, Channels: 1, Depth: 2}, 18.686780},
		{"just now, once, nothing else", EngagementInput{LastInteraction: now, Interactions30d: 1, Interactions90d: 1, Channels: 1}, 100 * (0.30 + 0.25*(1-math.Exp(-0.1)) + 0.10*(1-math.Exp(-0.5)))},
		{"saturated", EngagementInput{LastInteraction: now, Interactions30d: 1e9, Interactions90d: 1e9, Channels: 1e9, Depth: 1e9, Conversions: 1e9}, 100},
		{"future timestamp counts as now", EngagementInput{LastInteraction: now.Add(time.Hour)}, 30},
		{"90-day count lagging the 30-day one", EngagementInput{Interactions30d: 10, Interactions90d: 2}, 25 * (1 - math.Exp(-1))},
		{"negative and NaN inputs count as 0", EngagementInput{Interactions30d: -5, Interactions90d: -1, Channels: -2, Depth: math.NaN(), Conversions: -3}, 0},
	}
	for _, tt := range tests {
		if got := EngagementScore(tt.in, now); math.Abs(got-tt.want) > 1e-5 {
			t.Errorf("%s: score %.6f, want %.6f", tt.name, got, tt.want)
		}
	}
}

func TestEngagementRecencyHalfLife(t *testing.T) {
	m, err := NewEngagementModel(DefaultEngagementWeights())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []float64{0, 14, 28} {
		want := math.Pow(0.5, d/14)
		if got := m.Components(EngagementInput{LastInteraction: daysAgo(d)}, now).Recency; math.Abs(got-want) > 1e-12 {
			t.Errorf("recency after %g days = %g, want %g", d, got, want)
		}
	}
}

func randomInput(rng *rand.Rand) EngagementInput {
	n30 := rng.IntN(40)
	in := EngagementInput{
		Interactions30d: n30,
		Interactions90d: n30 + rng.IntN(60),
		Channels:        rng.IntN(8),
		Depth:           rng.Float64() * 20,
		Conversions:     rng.IntN(5),
	}
	if rng.IntN(10) > 0 {
		in.LastInteraction = daysAgo(rng.Float64() * 200)
	}
	return in
}

// Raising any one input never lowers the score.
func TestEngagementMonotone(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	bumps := map[string]func(*EngagementInput, *rand.Rand){
		"recency": func(in *EngagementInput, r *rand.Rand) {
			if in.LastInteraction.IsZero() {
				in.LastInteraction = daysAgo(365 * r.Float64())
			} else {
				in.LastInteraction = in.LastInteraction.Add(time.Duration(r.Float64() * float64(30*24*time.Hour)))
			}
		},
		"30d":         func(in *EngagementInput, r *rand.Rand) { in.Interactions30d += 1 + r.IntN(10) },
		"90d":         func(in *EngagementInput, r *rand.Rand) { in.Interactions90d += 1 + r.IntN(10) },
		"channels":    func(in *EngagementInput, r *rand.Rand) { in.Channels += 1 + r.IntN(3) },
		"depth":       func(in *EngagementInput, r *rand.Rand) { in.Depth += r.Float64() * 5 },
		"conversions": func(in *EngagementInput, r *rand.Rand) { in.Conversions += 1 + r.IntN(3) },
	}
	for name, bump := range bumps {
		for range 2000 {
			in := randomInput(rng)
			before := EngagementScore(in, now)
			bump(&in, rng)
			if after := EngagementScore(in, now); after < before {
				t.Fatalf("%s: score fell from %g to %g for %+v", name, before, after, in)
			}
		}
	}
}

func TestEngagementBounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	extremes := []int{math.MinInt, -1, 0, 1, math.MaxInt}
	pick := func() int { return extremes[rng.IntN(len(extremes))] }
	depths := []float64{math.Inf(-1), -1, 0, math.NaN(), 1e308, math.Inf(1)}
	times := []time.Time{{}, now.Add(100 * 365 * 24 * time.Hour), now, time.Unix(0, 0), daysAgo(1e5)}
	for range 5000 {
		in := EngagementInput{
			LastInteraction: times[rng.IntN(len(times))],
			Interactions30d: pick(), Interactions90d: pick(), Channels: pick(), Conversions: pick(),
			Depth: depths[rng.IntN(len(depths))],
		}
		if s := EngagementScore(in, now); !(s >= 0 && s <= 100) {
			t.Fatalf("score %g out of [0, 100] for %+v", s, in)
		}
	}
	for range 5000 {
		if s := EngagementScore(randomInput(rng), now); !(s >= 0 && s <= 100) {
			t.Fatalf("score %g out of [0, 100]", s)
		}
	}
}

func TestEngagementWeights(t *testing.T) {
	// Only recency counts: the score is 100·2^(−days/half-life).
	w := EngagementWeights{Recency: 2, RecencyHalfLife: 7 * 24 * time.Hour, OlderWeight: 1, FrequencyScale: 1, DepthScale: 1, BreadthScale: 1, ConversionScale: 1}
	m, err := NewEngagementModel(w)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Score(EngagementInput{LastInteraction: daysAgo(7), Interactions30d: 50, Conversions: 9}, now); math.Abs(got-50) > 1e-9 {
		t.Errorf("recency-only score after one half-life = %g, want 50", got)
	}
	bad := map[string]func(*EngagementWeights){
		"negative weight": func(w *EngagementWeights) { w.Depth = -1 },
		"NaN weight":      func(w *EngagementWeights) { w.Breadth = math.NaN() },
		"all zero": func(w *EngagementWeights) {
			*w = EngagementWeights{RecencyHalfLife: time.Hour, FrequencyScale: 1, DepthScale: 1, BreadthScale: 1, ConversionScale: 1}
		},
		"zero half-life":   func(w *EngagementWeights) { w.RecencyHalfLife = 0 },
		"older weight > 1": func(w *EngagementWeights) { w.OlderWeight = 1.5 },
		"zero scale":       func(w *EngagementWeights) { w.DepthScale = 0 },
		"infinite scale":   func(w *EngagementWeights) { w.FrequencyScale = math.Inf(1) },
	}
	for name, mutate := range bad {
		w := DefaultEngagementWeights()
		mutate(&w)
		if _, err := NewEngagementModel(w); err == nil || !strings.HasPrefix(err.Error(), "profiles: engagement weights: ") {
			t.Errorf("%s: got %v, want a profiles: engagement weights error", name, err)
		}
	}
}

func BenchmarkEngagementScore(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	inputs := make([]EngagementInput, 1024)
	for i := range inputs {
		inputs[i] = randomInput(rng)
	}
	m, _ := NewEngagementModel(DefaultEngagementWeights())
	var sink float64
	b.Run("1M", func(b *testing.B) {
		for b.Loop() {
			for i := range 1_000_000 {
				sink += m.Score(inputs[i&1023], now)
			}
		}
	})
	b.Run("one", func(b *testing.B) {
		i := 0
		for b.Loop() {
			sink += m.Score(inputs[i&1023], now)
			i++
		}
	})
	_ = sink
}
