package clv

import (
	"math"
	"testing"
)

// Published CDNOW fits, so these tests do not depend on the optimiser.
var (
	cdnowBG = BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426}
	cdnowGG = GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44}
)

func TestCLVMonotone(t *testing.T) {
	for _, c := range []Customer{
		{X: 0, T: 38.86},
		{X: 2, Tx: 30.43, T: 38.86, MeanSpend: 22.35},
		{X: 10, Tx: 38, T: 38.86, MeanSpend: 40},
	} {
		prev := 0.0
		for _, h := range []float64{4, 13, 26, 52, 104, 260} {
			v := CLV(c, h, 0.1, cdnowBG, cdnowGG)
			if !(v > prev) {
				t.Errorf("%+v: CLV(%v weeks) = %v, not above %v", c, h, v, prev)
			}
			prev = v
		}
		prev = math.Inf(1)
		for _, d := range []float64{0, 0.05, 0.1, 0.2, 0.5} {
			v := CLV(c, 104, d, cdnowBG, cdnowGG)
			if !(v < prev) {
				t.Errorf("%+v: CLV at discount %v = %v, not below %v", c, d, v, prev)
			}
			prev = v
		}
	}
}

// With no discounting, CLV is exactly E[Y(h)] × E[Z]: the weekly increments
// telescope.
func TestCLVUndiscounted(t *testing.T) {
	c := Customer{X: 2, Tx: 30.43, T: 38.86, MeanSpend: 22.35}
	got := CLV(c, 39, 0, cdnowBG, cdnowGG)
	want := cdnowBG.ConditionalExpected(c, 39) * cdnowGG.ConditionalMeanSpend(c)
	if math.Abs(got-want) > 1e-9*want {
		t.Errorf("undiscounted CLV %v, want %v", got, want)
	}
	// Finer steps discount each purchase less late, so they give slightly
	// more value, converging; weekly is within 0.2% of daily at 10%.
	weekly, _ := CLVStep(c, 104, 1, 0.1, cdnowBG, cdnowGG)
	daily, _ := CLVStep(c, 104, 1.0/7, 0.1, cdnowBG, cdnowGG)
	if !(daily > weekly && (daily-weekly)/daily < 0.002) {
		t.Errorf("weekly %v vs daily %v", weekly, daily)
	}
}

func TestCLVStepErrors(t *testing.T) {
	c := Customer{X: 1, Tx: 1, T: 2, MeanSpend: 10}
	for _, a := range [][3]float64{{-1, 1, 0.1}, {52, 0, 0.1}, {52, 1, -1}, {math.NaN(), 1, 0.1}} {
		if _, err := CLVStep(c, a[0], a[1], a[2], cdnowBG, cdnowGG); err == nil {
			t.Errorf("CLVStep%v accepted", a)
		}
	}
}

func TestFitErrors(t *testing.T) {
	if _, err := FitBGNBD(nil); err == nil {
		t.Error("empty BG/NBD fit accepted")
	}
	if _, err := FitBGNBD([]Customer{{X: 1, Tx: 5, T: 3}}); err == nil {
		t.Error("t_x > T accepted")
	}
	if _, err := FitGammaGamma([]Customer{{X: 0, T: 3}}); err == nil {
		t.Error("Gamma-Gamma fit without buyers accepted")
	}
	if _, err := FitGammaGamma([]Customer{{X: 2, Tx: 2, T: 3, MeanSpend: 0}}); err == nil {
		t.Error("zero spend accepted")
	}
}

// The shared-coefficient curve CLV uses must agree with eq. 10 evaluated
// directly, at every step up to the horizon.
func TestExpectationCurve(t *testing.T) {
	for _, c := range Customers(loadSummary(t))[:200] {
		var buf [128]float64
		curve := newExpectationCurve(cdnowBG, c, 260, buf[:])
		for _, h := range []float64{0.5, 1, 13, 52, 259.5, 260} {
			got, want := curve.at(h), cdnowBG.ConditionalExpected(c, h)
			if math.Abs(got-want) > 1e-10*math.Max(want, 1e-3) {
				t.Fatalf("%+v t=%v: curve %.15g, eq. 10 %.15g", c, h, got, want)
			}
		}
	}
	big := Customer{X: 400, Tx: 70, T: 78}
	curve := newExpectationCurve(cdnowBG, big, 520, nil)
	if got, want := curve.at(520), cdnowBG.ConditionalExpected(big, 520); math.Abs(got-want) > 1e-9*want {
		t.Errorf("x=400: curve %v, eq. 10 %v", got, want)
	}
}
