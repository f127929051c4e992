package attribution

import (
	"math"
	"testing"
)

func TestROCAUC(t *testing.T) {
	tests := []struct {
		name   string
		scores []float64
		labels []bool
		want   float64
	}{
		{"perfect", []float64{0.1, 0.2, 0.8, 0.9}, []bool{false, false, true, true}, 1},
		{"reversed", []float64{0.9, 0.8, 0.2, 0.1}, []bool{false, false, true, true}, 0},
		// Of the four (positive, negative) pairs, 0.35 loses to 0.4: 3/4.
		{"one swap", []float64{0.1, 0.4, 0.35, 0.8}, []bool{false, false, true, true}, 0.75},
		{"all tied", []float64{0.5, 0.5, 0.5, 0.5}, []bool{false, true, false, true}, 0.5},
		// Pairs: (0.6, 0.6) tie 1/2, (0.6, 0.2) 1, (0.9, 0.6) 1, (0.9, 0.2) 1: 3.5/4.
		{"partial tie", []float64{0.6, 0.6, 0.9, 0.2}, []bool{true, false, true, false}, 0.875},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ROCAUC(tt.scores, tt.labels); !near(got, tt.want) {
				t.Errorf("ROCAUC = %v, want %v", got, tt.want)
			}
		})
	}
	if got := ROCAUC([]float64{0.1, 0.2}, []bool{true, true}); !math.IsNaN(got) {
		t.Errorf("ROCAUC without negatives = %v, want NaN", got)
	}
}

func TestLogLoss(t *testing.T) {
	got := LogLoss([]float64{0.8, 0.25}, []bool{true, false})
	if want := -(math.Log(0.8) + math.Log(0.75)) / 2; !near(got, want) {
		t.Errorf("LogLoss = %v, want %v", got, want)
	}
	if got, want := LogLoss([]float64{0}, []bool{true}), -math.Log(1e-15); !near(got, want) {
		t.Errorf("LogLoss of a certain miss = %v, want the clipped %v", got, want)
	}
}

type constantModel float64

func (c constantModel) PathProbability([]string) float64 { return float64(c) }

func TestEvaluate(t *testing.T) {
	heldOut := []Journey{path("A", true), path("B", false), path("A>B", false), path("B>A", false)}
	got := Evaluate(constantModel(0.25), heldOut)
	want := -(math.Log(0.25) + 3*math.Log(0.75)) / 4
	if got.AUC != 0.5 || !near(got.LogLoss, want) || !near(got.BaseRateLogLoss, want) {
		t.Errorf("constant base-rate model: %+v, want AUC 0.5 and both log-losses %v", got, want)
	}
	m, err := TrainMarkov(heldOut)
	if err != nil {
		t.Fatal(err)
	}
	// Paths ending in A converted once in twice, paths ending in B never: the chain
	// ranks the one conversion above two of the three others and ties the third.
	if got := Evaluate(m, heldOut); !near(got.AUC, (2+0.5)/3) || got.LogLoss >= got.BaseRateLogLoss {
		t.Errorf("markov on its training paths: %+v", got)
	}
}
