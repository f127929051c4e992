package clv

import (
	"math/rand/v2"
	"testing"
)

func BenchmarkFitBGNBD(b *testing.B) {
	cs := Customers(loadSummary(b))
	for b.Loop() {
		if _, err := FitBGNBD(cs); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFitGammaGamma(b *testing.B) {
	cs := Customers(loadSummary(b))
	for b.Loop() {
		if _, err := FitGammaGamma(cs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConditional is one customer's P(alive) and 39-week expectation,
// cycling through the CDNOW customers.
func BenchmarkConditional(b *testing.B) {
	cs := Customers(loadSummary(b))
	i, sink := 0, 0.0
	for b.Loop() {
		c := cs[i%len(cs)]
		sink += cdnowBG.PAlive(c) + cdnowBG.ConditionalExpected(c, 39)
		i++
	}
	_ = sink
}

// syntheticCustomers draws CDNOW-like histories (a third with repeat
// purchases, a long tail of frequent buyers) from a fixed seed.
func syntheticCustomers(n int) []Customer {
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([]Customer, n)
	for i := range out {
		T := 26 + 52*rng.Float64()
		c := Customer{T: T}
		if rng.Float64() < 0.4 {
			c.X = float64(1 + int(rng.ExpFloat64()*3))
			c.Tx = T * rng.Float64()
			c.MeanSpend = 5 + 60*rng.Float64()
		}
		out[i] = c
	}
	return out
}

// BenchmarkProfileRefresh1M scores 1,000,000 synthetic customers: churn
// (1 − P(alive)), the expected purchases over the next 52 weeks and a
// 52-week CLV at 10% a year in weekly steps. One b.N iteration is the whole
// million; ns/customer is reported.
func BenchmarkProfileRefresh1M(b *testing.B) {
	const n = 1_000_000
	cs := syntheticCustomers(n)
	sink := 0.0
	for b.Loop() {
		for _, c := range cs {
			sink += cdnowBG.Churn(c) + cdnowBG.ConditionalExpected(c, 52) +
				CLV(c, 52, 0.1, cdnowBG, cdnowGG)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/customer")
	_ = sink
}
