package clv

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A copy of ../shared/data/cdnow (the public CDNOW sample), so the tests run in
// any clone.
const cdnowDir = "testdata/cdnow"

// calibrationEnd is the last day of FHL's 39-week calibration period: the
// cohort's first purchases start on 1997-01-01, and a Jan-1 customer has
// T = 272/7 = 38.86 weeks in the summary file.
var calibrationEnd = time.Date(1997, 9, 30, 0, 0, 0, 0, time.UTC)

func loadSummary(t testing.TB) []Record {
	t.Helper()
	f, err := os.Open(filepath.Join(cdnowDir, "cdnow_summary.csv"))
	if err != nil {
		t.Fatalf("open summary: %v", err)
	}
	defer f.Close()
	recs, err := ParseSummary(f)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func loadTransactions(t testing.TB) []Transaction {
	t.Helper()
	f, err := os.Open(filepath.Join(cdnowDir, "cdnow_sample_transactions.txt"))
	if err != nil {
		t.Fatalf("open transactions: %v", err)
	}
	defer f.Close()
	txs, err := ParseTransactions(f)
	if err != nil {
		t.Fatal(err)
	}
	return txs
}

// TestSummariseMatchesSummaryFile rebuilds cdnow_summary.csv from the raw
// transactions: same customers, x, t_x, T and zbar (to the file's 2 decimals).
func TestSummariseMatchesSummaryFile(t *testing.T) {
	want := loadSummary(t)
	got := Summarise(loadTransactions(t), calibrationEnd)
	if len(got) != len(want) || len(got) != 2357 {
		t.Fatalf("got %d customers, summary has %d (want 2357)", len(got), len(want))
	}
	close := func(a, b float64) bool { return math.Abs(a-b) <= 0.0051 }
	bad := 0
	for i, w := range want {
		g := got[i]
		if g.ID != w.ID || g.X != w.X || !close(g.Tx, w.Tx) || !close(g.T, w.T) || !close(g.MeanSpend, w.MeanSpend) {
			if bad++; bad <= 5 {
				t.Errorf("customer %d: got %+v, summary %+v", w.ID, g, w)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d customers differ", bad, len(want))
	}
}

func TestParseErrors(t *testing.T) {
	if _, err := ParseSummary(stringsReader("a,b\n")); err == nil {
		t.Error("bad header accepted")
	}
	if _, err := ParseTransactions(stringsReader(" 1 2 19970101 1\n")); err == nil {
		t.Error("short transaction line accepted")
	}
	if _, err := ParseTransactions(stringsReader(" 1 2 1997-01-01 1 2.0\n")); err == nil {
		t.Error("bad date accepted")
	}
}
