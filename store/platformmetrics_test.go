package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/touchpoint/touchpoint"
	"github.com/touchpoint/touchpoint/connectors"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
)

func day(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

// seedPlatformDays stores a few synced days for acme (two platforms, a renamed
// campaign, a currency change) and one for globex with the same campaign id.
func seedPlatformDays(t *testing.T, conns store.Connections) {
	t.Helper()
	ctx := context.Background()
	cd := func(platform, account, campaign, name, date, currency string, imp, clicks int64, conv float64, cost, rev int64) connectors.CampaignDay {
		return connectors.CampaignDay{Platform: platform, AccountID: account, CampaignID: campaign, CampaignName: name,
			Date: day(date), Impressions: imp, Clicks: clicks, Conversions: conv, CostMicros: cost, RevenueMicros: rev, Currency: currency}
	}
	acme := []connectors.CampaignDay{
		cd("googleads", "111", "c1", "Spring", "2024-03-01", "USD", 1000, 50, 2.5, 10_000_000, 40_000_000),
		cd("googleads", "111", "c1", "Spring sale", "2024-03-02", "USD", 3000, 150, 2.5, 20_000_000, 50_000_000),
		cd("googleads", "111", "c1", "Spring sale", "2024-03-05", "USD", 7, 7, 0, 7, 7), // outside the range below
		cd("googleads", "111", "c2", "Brand", "2024-03-01", "EUR", 10, 0, 0, 1_000_001, 0),
		cd("googleads", "111", "c2", "Brand", "2024-03-02", "USD", 20, 1, 0, 2_000_002, 0),
	}
	if err := conns.UpsertCampaignDays(ctx, "acme", "ads", "campaigns", acme, time.Time{}); err != nil {
		t.Fatal(err)
	}
	meta := []connectors.CampaignDay{cd("meta", "act_9", "c1", "Spring FB", "2024-03-03", "USD", 500, 5, 1, 5_000_000, 0)}
	if err := conns.UpsertCampaignDays(ctx, "acme", "fb", "campaigns", meta, time.Time{}); err != nil {
		t.Fatal(err)
	}
	globex := []connectors.CampaignDay{cd("googleads", "222", "c1", "Other", "2024-03-01", "USD", 9, 9, 9, 9, 9)}
	if err := conns.UpsertCampaignDays(ctx, "globex", "ads", "campaigns", globex, time.Time{}); err != nil {
		t.Fatal(err)
	}
}

func TestPlatformCampaignTotals(t *testing.T) {
	ctx := context.Background()
	pool := storetest.Postgres(t)
	seedPlatformDays(t, store.Connections{DB: pool})
	a := store.Aggregates{DB: pool}

	rows, fresh, err := a.PlatformCampaigns(ctx, store.PlatformQuery{Tenant: "acme", From: day("2024-03-01"), To: day("2024-03-04")})
	if err != nil {
		t.Fatal(err)
	}
	if fresh.IsZero() || time.Since(fresh) > time.Minute {
		t.Fatalf("freshness %v", fresh)
	}
	want := []store.PlatformCampaignRow{
		{Platform: "googleads", AccountID: "111", CampaignID: "c1", CampaignName: "Spring sale", Currency: "USD",
			Impressions: 4000, Clicks: 200, Conversions: 5, CostMicros: 30_000_000, RevenueMicros: 90_000_000, Days: 2},
		{Platform: "googleads", AccountID: "111", CampaignID: "c2", CampaignName: "Brand", Currency: "EUR",
			Impressions: 10, CostMicros: 1_000_001, Days: 1},
		{Platform: "googleads", AccountID: "111", CampaignID: "c2", CampaignName: "Brand", Currency: "USD",
			Impressions: 20, Clicks: 1, CostMicros: 2_000_002, Days: 1},
		{Platform: "meta", AccountID: "act_9", CampaignID: "c1", CampaignName: "Spring FB", Currency: "USD",
			Impressions: 500, Clicks: 5, Conversions: 1, CostMicros: 5_000_000, Days: 1},
	}
	if len(rows) != len(want) {
		t.Fatalf("rows %+v", rows)
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Errorf("row %d: %+v, want %+v", i, rows[i], want[i])
		}
	}

	// Filters and the inclusive date bounds.
	rows, _, err = a.PlatformCampaigns(ctx, store.PlatformQuery{Tenant: "acme", From: day("2024-03-02"), To: day("2024-03-05"),
		Platform: "googleads", CampaignID: "c1"})
	if err != nil || len(rows) != 1 || rows[0].Days != 2 || rows[0].Impressions != 3007 {
		t.Fatalf("filtered: %v %+v", err, rows)
	}
	// Another tenant's rows never show.
	rows, _, err = a.PlatformCampaigns(ctx, store.PlatformQuery{Tenant: "globex", From: day("2024-03-01"), To: day("2024-03-31")})
	if err != nil || len(rows) != 1 || rows[0].AccountID != "222" {
		t.Fatalf("globex: %v %+v", err, rows)
	}
	// No rows is an empty list and a zero freshness.
	rows, fresh, err = a.PlatformCampaigns(ctx, store.PlatformQuery{Tenant: "acme", From: day("2023-01-01"), To: day("2023-01-31")})
	if err != nil || rows == nil || len(rows) != 0 || !fresh.IsZero() {
		t.Fatalf("empty: %v %+v %v", err, rows, fresh)
	}
}

func TestPlatformCampaignDaily(t *testing.T) {
	ctx := context.Background()
	pool := storetest.Postgres(t)
	seedPlatformDays(t, store.Connections{DB: pool})
	a := store.Aggregates{DB: pool}
	rows, _, err := a.PlatformCampaigns(ctx, store.PlatformQuery{Tenant: "acme", From: day("2024-03-01"), To: day("2024-03-02"),
		CampaignID: "c1", Daily: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Date != "2024-03-01" || rows[1].Date != "2024-03-02" ||
		rows[0].CampaignName != "Spring" || rows[1].Impressions != 3000 || rows[1].Days != 1 {
		t.Fatalf("daily: %+v", rows)
	}
}

func TestPlatformQueryRejectsBadRanges(t *testing.T) {
	a := store.Aggregates{DB: storetest.Postgres(t)}
	for _, q := range []store.PlatformQuery{
		{From: day("2024-03-01"), To: day("2024-03-02")},
		{Tenant: "acme", To: day("2024-03-02")},
		{Tenant: "acme", From: day("2024-03-03"), To: day("2024-03-02")},
	} {
		if _, _, err := a.PlatformCampaigns(context.Background(), q); touchpoint.KindOf(err) != touchpoint.EInvalid {
			t.Errorf("%+v: %v, want invalid", q, err)
		}
	}
}
