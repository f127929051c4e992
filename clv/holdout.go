package clv

import "strconv"

// HoldoutRow is one line of a holdout validation table: customers grouped
// by calibration frequency, their actual purchases in the holdout period and
// the model's conditional expectation for it.
type HoldoutRow struct {
	Label             string // "0", "1", …, "7+", or "all" for the total
	Customers         int
	Actual, Predicted float64
}

// HoldoutByFrequency groups the records by calibration repeat purchases x
// (0 … maxX−1 singly, maxX and above together, as FHL 2005 Figure 5 does
// with 7+) and sums, per group, the actual holdout purchases and
// E[Y(holdout)|x, t_x, T] (eq. 10). The last row is the total.
func HoldoutByFrequency(m BGNBD, recs []Record, holdout float64, maxX int) []HoldoutRow {
	rows := make([]HoldoutRow, maxX+2)
	for i := range rows[:maxX] {
		rows[i].Label = strconv.Itoa(i)
	}
	rows[maxX].Label = strconv.Itoa(maxX) + "+"
	rows[maxX+1].Label = "all"
	for _, r := range recs {
		g := min(int(r.X), maxX)
		pred := m.ConditionalExpected(r.Customer, holdout)
		for _, i := range []int{g, maxX + 1} {
			rows[i].Customers++
			rows[i].Actual += r.HoldoutX
			rows[i].Predicted += pred
		}
	}
	return rows
}
