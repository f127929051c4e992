package clv

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mathext"
)

// holdoutWeeks is FHL's holdout period: weeks 40–78.
const holdoutWeeks = 39.0

func TestHyp2F1MatchesGonum(t *testing.T) {
	for _, c := range [][4]float64{
		{0.24, 2.43, 2.22, 0.5}, {2.24, 4.43, 4.22, 0.9}, {0.5, 0.5, 1.5, 0.99},
		{30.2, 32.4, 32.2, 0.47}, {1, 1, 2, 0.3}, {0.24, 2.43, 2.22, 0},
	} {
		got, want := hyp2f1(c[0], c[1], c[2], c[3]), mathext.Hypergeo(c[0], c[1], c[2], c[3])
		if math.Abs(got-want) > 1e-10*math.Abs(want) {
			t.Errorf("2F1%v = %.15g, gonum %.15g", c, got, want)
		}
	}
	if !math.IsNaN(hyp2f1(1, 1, 2, 1)) {
		t.Error("z=1 should be NaN (series diverges)")
	}
}

// TestCustomerOneCDNOW checks the worked example of FHL 2005 (§5): the
// customer with x=2, t_x=30.43, T=38.86 (CDNOW customer 1) is expected to make
// 1.226 purchases in the next 39 weeks.
func TestCustomerOneCDNOW(t *testing.T) {
	m, _ := fitCDNOW(t)
	c := Customer{X: 2, Tx: 30.43, T: 38.86}
	got := m.ConditionalExpected(c, 39)
	t.Logf("E[Y(39)|x=2,t_x=30.43,T=38.86] = %.4f, P(alive) = %.4f", got, m.PAlive(c))
	if !sig3(got, 1.226) {
		t.Errorf("E[Y(39)] = %.4f, published 1.226", got)
	}
	c.MeanSpend = 22.35
	gg, err := FitGammaGamma(Customers(loadSummary(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("E[spend] = $%.2f, CLV(52 weeks, 10%%/year) = $%.2f", gg.ConditionalMeanSpend(c), CLV(c, 52, 0.1, m, gg))
	if p := m.PAlive(c); math.Abs(m.Churn(c)-(1-p)) > 1e-15 || p <= 0 || p >= 1 {
		t.Errorf("P(alive)=%v churn=%v", p, m.Churn(c))
	}
}

// TestPredictionConsistency checks properties every BG/NBD fit must have.
func TestPredictionConsistency(t *testing.T) {
	m, recs := fitCDNOW(t)
	// Zero purchases: alive for sure, and a long quiet spell means a low rate.
	quiet := Customer{X: 0, T: 200}
	if m.PAlive(quiet) != 1 || m.Churn(quiet) != 0 {
		t.Error("x=0 must have P(alive)=1")
	}
	if e := m.ConditionalExpected(quiet, 39); !(e > 0 && e < 0.1) {
		t.Errorf("x=0, T=200: E[Y(39)] = %v, want small", e)
	}
	// A customer with no history at all (T→0) is a new customer: eq. 10
	// reduces to eq. 9.
	if a, b := m.ConditionalExpected(Customer{T: 1e-12}, 39), m.ExpectedPurchases(39); math.Abs(a-b) > 1e-9 {
		t.Errorf("new customer: conditional %v vs E[X(39)] %v", a, b)
	}
	// Recency matters: same x and T, an earlier last purchase is less alive.
	if m.PAlive(Customer{X: 5, Tx: 10, T: 38}) >= m.PAlive(Customer{X: 5, Tx: 35, T: 38}) {
		t.Error("P(alive) should increase with t_x")
	}
	// Large x must not overflow: a frequent buyer long silent is dead, one
	// who just bought is alive and expected to keep buying.
	if p := m.PAlive(Customer{X: 5000, Tx: 10, T: 38}); p != 0 {
		t.Errorf("x=5000 silent for 28 weeks: P(alive)=%v", p)
	}
	if e := m.ConditionalExpected(Customer{X: 500, Tx: 38, T: 38}, 39); !(e > 100 && !math.IsInf(e, 0)) {
		t.Errorf("x=500: E[Y(39)] = %v", e)
	}
	// The calibration cohort's expected calibration purchases: summing
	// E[X(T_i)] over customers should come close to the observed total.
	exp, obs := 0.0, 0.0
	for _, r := range recs {
		exp += m.ExpectedPurchases(r.T)
		obs += r.X
	}
	t.Logf("calibration: sum E[X(T_i)] = %.1f, observed %.0f", exp, obs)
	if math.Abs(exp-obs) > 0.02*obs {
		t.Errorf("calibration totals: expected %.1f vs observed %.0f", exp, obs)
	}
}

// TestHoldoutCDNOW compares the conditional expectations for weeks 40–78
// with the purchases the customers actually made then (FHL 2005 Figure 5),
// grouped by calibration frequency, and logs the table for BENCHMARKS.md.
func TestHoldoutCDNOW(t *testing.T) {
	m, _ := fitCDNOW(t)
	recs := Summarise(loadTransactions(t), calibrationEnd)
	rows := HoldoutByFrequency(m, recs, holdoutWeeks, 7)
	var b strings.Builder
	fmt.Fprintf(&b, "\n| x (calibration) | customers | actual | predicted | actual/customer | predicted/customer |\n|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %d | %.0f | %.1f | %.2f | %.2f |\n", r.Label, r.Customers,
			r.Actual, r.Predicted, r.Actual/float64(r.Customers), r.Predicted/float64(r.Customers))
	}
	t.Log(b.String())
	total := rows[len(rows)-1]
	if total.Label != "all" || total.Customers != 2357 {
		t.Fatalf("last row %+v, want the total over 2357 customers", total)
	}
	// Unconditional forecast for the same weeks (eq. 9 per customer, from
	// the end of its calibration period), the aggregate FHL track in Fig. 3.
	uncond := 0.0
	for _, r := range recs {
		uncond += m.ExpectedPurchases(r.T+holdoutWeeks) - m.ExpectedPurchases(r.T)
	}
	t.Logf("holdout total: actual %.0f, conditional (eq. 10) %.1f, unconditional (eq. 9) %.1f",
		total.Actual, total.Predicted, uncond)
	// The model under-forecasts CDNOW's holdout (by about 12%); guard the
	// number against regressions, not against the model's known bias.
	if math.Abs(total.Predicted-1653.4) > 1 || total.Actual != 1882 {
		t.Errorf("holdout total: predicted %.1f (want 1653.4) vs actual %.0f (want 1882)", total.Predicted, total.Actual)
	}
}
