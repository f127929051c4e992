package identity

import "testing"

// benchPeople makes a population of about 100,000 devices.
const benchPeople = 47_000

// BenchmarkMatch times one matching run over about 100,000 devices: blocking, estimating
// the model, scoring the candidates and linking. It reports the run's precision and
// recall too.
func BenchmarkMatch(b *testing.B) {
	pop := Synthesize(SynthConfig{Seed: 1, People: benchPeople})
	g, d := resolve(pop)
	var res MatchResult
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		var err error
		if res, err = Match(g, d, DefaultMatchConfig()); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	q := pop.Evaluate(g, res.Links)
	b.ReportMetric(float64(d.Len()), "devices")
	b.ReportMetric(float64(res.Candidates), "candidates")
	b.ReportMetric(float64(q.Links), "links")
	b.ReportMetric(q.Precision(), "precision")
	b.ReportMetric(q.Recall(), "recall")
}

// BenchmarkObserve times feeding one event's observation into the graph and the device
// set, as the event stream will.
func BenchmarkObserve(b *testing.B) {
	pop := Synthesize(SynthConfig{Seed: 1, People: 5000})
	var all []Observation
	for o := range pop.Observations() {
		all = append(all, o)
	}
	b.ReportAllocs()
	b.ResetTimer()
	g, d := NewGraph(Config{}), NewDevices(Config{})
	for i := range b.N {
		o := all[i%len(all)]
		g.Observe(o)
		d.Observe(o)
	}
}
