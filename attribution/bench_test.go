package attribution

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// benchSynth is a population of n channels reaching half the journeys each, with 1–3
// touches per channel in 3 campaigns (about 5 touches per journey) and a stale touch
// in a fifth of them, so that the window has work to do.
func benchSynth(channels int, baseLogOdds float64) Synth {
	s := Synth{BaseLogOdds: baseLogOdds, Campaigns: 3, MaxTouches: 3, StaleRate: 0.2, Currencies: []string{"EUR", "USD"}, Seed: 42}
	for i := range channels {
		s.Channels = append(s.Channels, SynthChannel{Name: fmt.Sprintf("channel%02d", i), Reach: 0.5, LogOdds: 1.5 / float64(i+1)})
	}
	return s
}

// millionConversions are generated once: a million journeys of six channels that all
// convert (a base log-odds of 20 makes conversion certain).
var millionConversions = sync.OnceValue(func() []Journey { return benchSynth(6, 20).Journeys(1_000_000) })

// BenchmarkHeuristics1M runs all five rule-based models over a million converting
// journeys per iteration.
func BenchmarkHeuristics1M(b *testing.B) {
	journeys := millionConversions()
	models := Heuristics()
	b.ResetTimer()
	start := time.Now()
	var credits int
	for range b.N {
		for _, j := range journeys {
			for _, m := range models {
				credits += len(m.Attribute(j, Options{}))
			}
		}
	}
	perJourney := float64(time.Since(start).Nanoseconds()) / float64(b.N*len(journeys))
	b.ReportMetric(perJourney, "ns/journey")
	b.ReportMetric(float64(credits)/float64(b.N*len(journeys)), "credits/journey")
}

func BenchmarkMarkovTrain(b *testing.B) {
	for _, size := range []struct{ journeys, channels int }{{10_000, 8}, {100_000, 8}, {100_000, 16}} {
		journeys := benchSynth(size.channels, -3).Journeys(size.journeys)
		b.Run(fmt.Sprintf("journeys=%d/channels=%d", size.journeys, size.channels), func(b *testing.B) {
			for range b.N {
				if _, err := TrainMarkov(journeys); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkShapleyTrain(b *testing.B) {
	for _, size := range []struct{ journeys, channels int }{{10_000, 8}, {100_000, 8}, {100_000, 12}} {
		journeys := benchSynth(size.channels, -3).Journeys(size.journeys)
		b.Run(fmt.Sprintf("journeys=%d/channels=%d", size.journeys, size.channels), func(b *testing.B) {
			for range b.N {
				if _, err := TrainShapley(journeys); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
