package store_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
)

func credit(model, conv string, at time.Time, channel, campaign, currency string, micros int64, share float64) store.Credit {
	return store.Credit{Model: model, ConversionEventID: conv, ConvertedAt: at, Channel: channel, CampaignID: campaign,
		Currency: currency, ValueMicros: micros, Share: share}
}

// TestReplaceCreditsReplaces: writing a range again replaces its credits of the
// models written, leaves other models and other days alone, and reports sum per
// currency.
func TestReplaceCreditsReplaces(t *testing.T) {
	ctx := context.Background()
	a := store.Attribution{DB: storetest.Postgres(t)}
	d0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	d1, d2 := d0.AddDate(0, 0, 1), d0.AddDate(0, 0, 2)
	day0 := []store.Credit{
		credit("linear", "c1", d0.Add(time.Hour), "email", "spring", "EUR", 60, 0.6),
		credit("linear", "c1", d0.Add(time.Hour), "social", "", "EUR", 40, 0.4),
		credit("linear", "c2", d0.Add(2*time.Hour), "email", "spring", "USD", 7, 1),
		credit("last_touch", "c1", d0.Add(time.Hour), "social", "", "EUR", 100, 1),
	}
	day1 := []store.Credit{credit("linear", "c3", d1.Add(time.Hour), "email", "autumn", "EUR", 5, 1)}
	models := []string{"linear", "last_touch"}
	for _, w := range []struct {
		from, to time.Time
		models   []string
		credits  []store.Credit
	}{{d0, d1, models, day0}, {d1, d2, models, day1}, {d0, d1, models, day0}} { // day 0 twice
		if err := a.ReplaceCredits(ctx, "acme", w.from, w.to, w.models, w.credits); err != nil {
			t.Fatal(err)
		}
	}
	report := func(model, groupBy string) []store.ReportRow {
		t.Helper()
		rows, err := a.Report(ctx, "acme", model, d0, d2, groupBy)
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	want := []store.ReportRow{{Key: "email", Currency: "EUR", ValueMicros: 65, Conversions: 1.6}, {Key: "social", Currency: "EUR", ValueMicros: 40, Conversions: 0.4},
		{Key: "email", Currency: "USD", ValueMicros: 7, Conversions: 1}}
	if got := report("linear", store.GroupByChannel); !reflect.DeepEqual(got, want) {
		t.Errorf("linear by channel after a rerun = %+v, want %+v", got, want)
	}
	want = []store.ReportRow{{Key: "spring", Currency: "EUR", ValueMicros: 60, Conversions: 0.6}, {Key: "", Currency: "EUR", ValueMicros: 40, Conversions: 0.4},
		{Key: "spring", Currency: "USD", ValueMicros: 7, Conversions: 1}, {Key: "autumn", Currency: "EUR", ValueMicros: 5, Conversions: 1}}
	if got := report("linear", store.GroupByCampaign); !reflect.DeepEqual(got, want) {
		t.Errorf("linear by campaign = %+v, want %+v", got, want)
	}

	// Rewriting day 0 of linear alone, now with one credit, keeps last_touch and day 1.
	if err := a.ReplaceCredits(ctx, "acme", d0, d1, []string{"linear"}, day0[2:3]); err != nil {
		t.Fatal(err)
	}
	want = []store.ReportRow{{Key: "email", Currency: "USD", ValueMicros: 7, Conversions: 1}, {Key: "email", Currency: "EUR", ValueMicros: 5, Conversions: 1}}
	if got := report("linear", store.GroupByChannel); !reflect.DeepEqual(got, want) {
		t.Errorf("linear after replacing day 0 = %+v, want %+v", got, want)
	}
	if got := report("last_touch", store.GroupByChannel); len(got) != 1 || got[0].ValueMicros != 100 {
		t.Errorf("last_touch = %+v, want untouched", got)
	}
	cmp, err := a.Compare(ctx, "acme", d0, d2)
	if err != nil {
		t.Fatal(err)
	}
	wantCmp := []store.CompareRow{
		{Channel: "email", Currency: "EUR", Models: map[string]store.ModelFigures{"linear": {ValueMicros: 5, Conversions: 1}}},
		{Channel: "email", Currency: "USD", Models: map[string]store.ModelFigures{"linear": {ValueMicros: 7, Conversions: 1}}},
		{Channel: "social", Currency: "EUR", Models: map[string]store.ModelFigures{"last_touch": {ValueMicros: 100, Conversions: 1}}},
	}
	if !reflect.DeepEqual(cmp, wantCmp) {
		t.Errorf("compare = %+v, want %+v", cmp, wantCmp)
	}
	if rows, err := a.Report(ctx, "globex", "linear", d0, d2, store.GroupByChannel); err != nil || len(rows) != 0 {
		t.Errorf("another tenant sees %+v, %v", rows, err)
	}
}

func TestReplaceCreditsRejectsCreditsOutsideTheRange(t *testing.T) {
	a := store.Attribution{DB: storetest.Postgres(t)}
	d0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	err := a.ReplaceCredits(context.Background(), "acme", d0, d0.AddDate(0, 0, 1), []string{"linear"},
		[]store.Credit{credit("linear", "late", d0.AddDate(0, 0, 1), "email", "", "EUR", 1, 1)})
	if err == nil {
		t.Fatal("a credit converting at the range's end was accepted")
	}
	if _, err := a.Report(context.Background(), "acme", "linear", d0, d0.AddDate(0, 0, 1), "country"); err == nil {
		t.Fatal("group by country accepted")
	}
}
