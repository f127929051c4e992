package personalization

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchVariants are k variants of a realistic test: 10k–1M views, 1–5% conversion.
func benchVariants(k int) []VariantStats {
	rng := rand.New(rand.NewPCG(uint64(k), 1))
	v := make([]VariantStats, k)
	for i := range v {
		n := int64(10_000 + rng.IntN(990_000))
		v[i] = VariantStats{ID: fmt.Sprint(i), Trials: n, Successes: n * int64(1+rng.IntN(5)) / 100}
	}
	return v
}

func BenchmarkAnalyze(b *testing.B) {
	for _, k := range []int{2, 5, 20} {
		v := benchVariants(k)
		b.Run(fmt.Sprintf("variants=%d", k), func(b *testing.B) {
			for b.Loop() {
				if _, err := Analyze(v, Uniform); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Close variants are the expensive case: every posterior overlaps every other.
func BenchmarkAnalyzeClose(b *testing.B) {
	for _, k := range []int{2, 5, 20} {
		v := make([]VariantStats, k)
		for i := range v {
			v[i] = VariantStats{ID: fmt.Sprint(i), Trials: 100_000, Successes: int64(3000 + 10*i)}
		}
		b.Run(fmt.Sprintf("variants=%d", k), func(b *testing.B) {
			for b.Loop() {
				if _, err := Analyze(v, Uniform); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAllocate(b *testing.B) {
	for _, k := range []int{2, 5, 20} {
		v := benchVariants(k)
		b.Run(fmt.Sprintf("variants=%d/draws=10000", k), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			for b.Loop() {
				if _, err := Allocate(v, Uniform, 10_000, rng); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
