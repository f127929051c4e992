package clv

import (
	"math"
	"testing"
)

// sig3 reports whether got equals want to three significant figures.
func sig3(got, want float64) bool {
	round := func(v float64) float64 {
		e := math.Floor(math.Log10(math.Abs(v))) - 2
		return math.Round(v/math.Pow(10, e)) * math.Pow(10, e)
	}
	return round(got) == round(want)
}

func fitCDNOW(t testing.TB) (BGNBD, []Record) {
	t.Helper()
	recs := loadSummary(t)
	m, err := FitBGNBD(Customers(recs))
	if err != nil {
		t.Fatal(err)
	}
	return m, recs
}

// TestFitBGNBDCDNOW reproduces FHL 2005 Table/§5: r=0.243, α=4.414,
// a=0.793, b=2.426, LL=−9582.4 on the CDNOW calibration data.
func TestFitBGNBDCDNOW(t *testing.T) {
	m, _ := fitCDNOW(t)
	t.Logf("r=%.4f alpha=%.4f a=%.4f b=%.4f LL=%.2f", m.R, m.Alpha, m.A, m.B, m.LogLik)
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"r", m.R, 0.243}, {"alpha", m.Alpha, 4.414}, {"a", m.A, 0.793}, {"b", m.B, 2.426},
		{"LL", m.LogLik, -9582.4},
	} {
		if !sig3(c.got, c.want) {
			t.Errorf("%s = %.5g, published %.5g", c.name, c.got, c.want)
		}
	}
}
