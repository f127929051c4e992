package clv

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Transaction is one purchase line of a transaction log.
type Transaction struct {
	CustomerID int
	Date       time.Time // purchase day (UTC midnight)
	Dollars    float64
}

// Record is a customer's calibration summary and what followed it.
type Record struct {
	ID int
	Customer
	HoldoutX float64 // purchases after the calibration end (the holdout period)
}

// ParseTransactions reads the CDNOW transaction format: whitespace-separated
// master id, sample id, date (yyyymmdd), number of CDs, dollars. The sample id
// is the customer id.
func ParseTransactions(r io.Reader) ([]Transaction, error) {
	var out []Transaction
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		t, err := parseTransaction(f)
		if err != nil {
			return nil, fmt.Errorf("transactions line %d: %w", line, err)
		}
		out = append(out, t)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read transactions: %w", err)
	}
	return out, nil
}

func parseTransaction(f []string) (Transaction, error) {
	if len(f) != 5 {
		return Transaction{}, fmt.Errorf("want 5 fields, got %d", len(f))
	}
	id, err := strconv.Atoi(f[1])
	if err != nil {
		return Transaction{}, fmt.Errorf("customer id: %w", err)
	}
	day, err := time.Parse("20060102", f[2])
	if err != nil {
		return Transaction{}, fmt.Errorf("date: %w", err)
	}
	dollars, err := strconv.ParseFloat(f[4], 64)
	if err != nil {
		return Transaction{}, fmt.Errorf("dollars: %w", err)
	}
	return Transaction{CustomerID: id, Date: day, Dollars: dollars}, nil
}

// ParseSummary reads a calibration summary CSV with header ID,x,t_x,T,zbar
// (the cdnow_summary.csv layout).
func ParseSummary(r io.Reader) ([]Record, error) {
	rows, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("read summary: %w", err)
	}
	if len(rows) == 0 || strings.Join(rows[0], ",") != "ID,x,t_x,T,zbar" {
		return nil, fmt.Errorf("summary: want header ID,x,t_x,T,zbar")
	}
	out := make([]Record, 0, len(rows)-1)
	for i, row := range rows[1:] {
		rec, err := parseSummaryRow(row)
		if err != nil {
			return nil, fmt.Errorf("summary row %d: %w", i+2, err)
		}
		out = append(out, rec)
	}
	return out, nil
}

func parseSummaryRow(row []string) (Record, error) {
	id, err := strconv.Atoi(row[0])
	if err != nil {
		return Record{}, fmt.Errorf("id: %w", err)
	}
	var v [4]float64
	for i := range v {
		if v[i], err = strconv.ParseFloat(row[i+1], 64); err != nil {
			return Record{}, fmt.Errorf("column %d: %w", i+2, err)
		}
	}
	return Record{ID: id, Customer: Customer{X: v[0], Tx: v[1], T: v[2], MeanSpend: v[3]}}, nil
}

// Summarise turns a transaction log into per-customer calibration summaries,
// as Fader, Hardie and Lee build the CDNOW summary:
//
//   - purchases on the same day are one transaction (their dollars summed);
//   - the first purchase starts the clock and is not counted; X counts the
//     repeat purchases on or before calibrationEnd;
//   - times are in weeks (days/7) from the first purchase: t_x is the last
//     repeat purchase, T runs to calibrationEnd;
//   - MeanSpend is the mean of the repeat transactions' dollars;
//   - HoldoutX counts the transactions after calibrationEnd.
//
// Customers whose first purchase is after calibrationEnd are left out. The
// records are sorted by customer id.
func Summarise(txs []Transaction, calibrationEnd time.Time) []Record {
	byCustomer := map[int][]Transaction{}
	for _, t := range txs {
		byCustomer[t.CustomerID] = append(byCustomer[t.CustomerID], t)
	}
	out := make([]Record, 0, len(byCustomer))
	for id, ts := range byCustomer {
		if rec, ok := summariseOne(id, mergeDays(ts), calibrationEnd); ok {
			out = append(out, rec)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// mergeDays sorts one customer's transactions by date and merges those on
// the same day, because the models count purchase occasions, not order lines.
func mergeDays(ts []Transaction) []Transaction {
	sort.SliceStable(ts, func(i, j int) bool { return ts[i].Date.Before(ts[j].Date) })
	out := ts[:0:0]
	for _, t := range ts {
		if n := len(out); n > 0 && out[n-1].Date.Equal(t.Date) {
			out[n-1].Dollars += t.Dollars
			continue
		}
		out = append(out, t)
	}
	return out
}

func summariseOne(id int, days []Transaction, calibrationEnd time.Time) (Record, bool) {
	first := days[0].Date
	if first.After(calibrationEnd) {
		return Record{}, false
	}
	rec := Record{ID: id, Customer: Customer{T: weeks(first, calibrationEnd)}}
	spend := 0.0
	for _, d := range days[1:] {
		if d.Date.After(calibrationEnd) {
			rec.HoldoutX++
			continue
		}
		rec.X++
		rec.Tx = weeks(first, d.Date)
		spend += d.Dollars
	}
	if rec.X > 0 {
		rec.MeanSpend = spend / rec.X
	}
	return rec, true
}

// weeks is the time from a to b in weeks, counted in whole days.
func weeks(a, b time.Time) float64 {
	return math.Round(b.Sub(a).Hours()/24) / 7
}

// Customers returns the calibration summaries of the records.
func Customers(recs []Record) []Customer {
	out := make([]Customer, len(recs))
	for i, r := range recs {
		out[i] = r.Customer
	}
	return out
}
