package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/touchpoint/touchpoint/aggregate"
	"github.com/touchpoint/touchpoint/api"
	"github.com/touchpoint/touchpoint/connectors"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
)

// metricsStack is the API on a real Postgres with streamed campaign aggregates and
// synced platform days for two tenants; no Kafka is needed to read metrics.
type metricsStack struct {
	srv          *httptest.Server
	key, other   string
	acme, globex string
}

// bigCost is above 2^53: a float64 would round it, so the test sees whether money
// stays exact from Postgres to JSON.
const bigCost = int64(1)<<53 + 1

func newMetricsStack(t *testing.T) *metricsStack {
	t.Helper()
	ctx := context.Background()
	pool := storetest.Postgres(t)
	tenants := store.Tenants{DB: pool}
	m := &metricsStack{acme: "acme", globex: "globex"}
	for _, id := range []string{m.acme, m.globex} {
		if _, err := tenants.Create(ctx, id, ""); err != nil {
			t.Fatal(err)
		}
		_, key, err := tenants.CreateKey(ctx, id, "test", store.AllScopes)
		if err != nil {
			t.Fatal(err)
		}
		if id == m.acme {
			m.key = key
		} else {
			m.other = key
		}
	}
	seedStreamed(t, pool)
	seedSynced(t, store.Connections{DB: pool})
	srv := api.New(api.Options{TenantRate: 1e6, TenantBurst: 1e6, MaxBodyBytes: 1 << 20},
		api.Deps{Tenants: tenants, Aggregates: store.Aggregates{DB: pool}})
	m.srv = httptest.NewServer(srv)
	t.Cleanup(m.srv.Close)
	return m
}

func date(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

// seedStreamed writes day rows the way the consumer does: c1 on search on two days,
// c3 (streamed only) on one.
func seedStreamed(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	d := aggregate.New()
	put := func(day, campaign string, v aggregate.CampaignDelta) {
		d.Campaigns[aggregate.CampaignKey{Tenant: "acme", Level: aggregate.Day, Bucket: date(day).Unix(), CampaignID: campaign, Channel: "search"}] = &v
	}
	put("2024-03-01", "c1", aggregate.CampaignDelta{Currency: "USD", Impressions: 100, Clicks: 10, Conversions: 1, CostMicros: 5_000_000, RevenueMicros: 20_000_000, Events: 2})
	put("2024-03-02", "c1", aggregate.CampaignDelta{Currency: "USD", Impressions: 50, Clicks: 5, Events: 1})
	put("2024-03-02", "c3", aggregate.CampaignDelta{Currency: "USD", Impressions: 7, Events: 1})
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.WriteDeltas(ctx, tx, d); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// seedSynced stores platform days: c1 on Google Ads (two days, one outside March 1-2)
// and Meta, c2 on Google Ads only, and one globex day with the same campaign id.
func seedSynced(t *testing.T, conns store.Connections) {
	t.Helper()
	ctx := context.Background()
	cd := func(platform, account, campaign, day string, imp, clicks int64, conv float64, cost, rev int64) connectors.CampaignDay {
		return connectors.CampaignDay{Platform: platform, AccountID: account, CampaignID: campaign, CampaignName: "name " + campaign,
			Date: date(day), Impressions: imp, Clicks: clicks, Conversions: conv, CostMicros: cost, RevenueMicros: rev, Currency: "USD"}
	}
	write := func(tenant, connection string, days ...connectors.CampaignDay) {
		if err := conns.UpsertCampaignDays(ctx, tenant, connection, "campaigns", days, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	write("acme", "ads",
		cd("googleads", "111", "c1", "2024-03-01", 1000, 40, 2, 8_000_000, 24_000_000),
		cd("googleads", "111", "c1", "2024-03-02", 1000, 60, 2, 12_000_000, 36_000_000),
		cd("googleads", "111", "c1", "2024-03-09", 1, 1, 1, 1, 1),
		cd("googleads", "111", "c2", "2024-03-02", 10, 0, 0, bigCost, 0))
	write("acme", "fb", cd("meta", "act_1", "c1", "2024-03-01", 400, 4, 0.5, 2_000_000, 0))
	write("globex", "ads", cd("googleads", "999", "c1", "2024-03-01", 5, 5, 5, 5, 5))
}

func (m *metricsStack) get(t *testing.T, key, path string, out any) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", m.srv.URL+path, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var raw json.RawMessage
	if err := json.NewDecoder(res.Body).Decode(&raw); err != nil {
		t.Fatalf("%s: decode: %v", path, err)
	}
	if out != nil && res.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s: %v: %s", path, err, raw)
		}
	}
	return res.StatusCode, string(raw)
}

type platformRow struct {
	Date          string   `json:"date"`
	Platform      string   `json:"platform"`
	AccountID     string   `json:"account_id"`
	CampaignID    string   `json:"campaign_id"`
	CampaignName  string   `json:"campaign_name"`
	Currency      string   `json:"currency"`
	Impressions   int64    `json:"impressions"`
	Clicks        int64    `json:"clicks"`
	Conversions   float64  `json:"conversions"`
	CostMicros    int64    `json:"cost_micros"`
	RevenueMicros int64    `json:"revenue_micros"`
	Days          int64    `json:"days"`
	CTR           *float64 `json:"ctr"`
	CPA           *float64 `json:"cpa"`
	ROAS          *float64 `json:"roas"`
}

type platformAnswer struct {
	Tenant, From, To, Granularity string
	Rows                          []platformRow
	Freshness                     struct {
		DataUpdatedAt *time.Time `json:"data_updated_at"`
		Source        string
	}
}

func TestPlatformCampaignsTotals(t *testing.T) {
	m := newMetricsStack(t)
	var got platformAnswer
	code, raw := m.get(t, m.key, "/v1/metrics/platform-campaigns?from=2024-03-01&to=2024-03-02", &got)
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, raw)
	}
	if got.Tenant != "acme" || got.From != "2024-03-01" || got.To != "2024-03-02" || got.Granularity != "total" ||
		got.Freshness.DataUpdatedAt == nil || got.Freshness.Source != "postgres" {
		t.Fatalf("envelope: %s", raw)
	}
	if len(got.Rows) != 3 {
		t.Fatalf("rows: %s", raw)
	}
	g, c2, meta := got.Rows[0], got.Rows[1], got.Rows[2]
	if g.Platform != "googleads" || g.CampaignID != "c1" || g.Impressions != 2000 || g.Clicks != 100 || g.Conversions != 4 ||
		g.CostMicros != 20_000_000 || g.RevenueMicros != 60_000_000 || g.Days != 2 || g.Currency != "USD" || g.Date != "" {
		t.Fatalf("googleads c1: %+v", g)
	}
	// The ratios are the streamed report's: clicks/impressions, cost per conversion in
	// currency units, revenue/cost.
	if *g.CTR != 0.05 || *g.CPA != 5 || *g.ROAS != 3 {
		t.Fatalf("ratios: ctr %v cpa %v roas %v", *g.CTR, *g.CPA, *g.ROAS)
	}
	if c2.CampaignID != "c2" || c2.CostMicros != bigCost || c2.CTR == nil || *c2.CTR != 0 || c2.CPA != nil || c2.ROAS == nil || *c2.ROAS != 0 {
		t.Fatalf("c2 (exact money, no conversions so no CPA): %+v", c2)
	}
	if !strings.Contains(raw, `"cost_micros":9007199254740993`) {
		t.Fatalf("money is not an exact integer in JSON: %s", raw)
	}
	if meta.Platform != "meta" || meta.Conversions != 0.5 || *meta.CPA != 4 {
		t.Fatalf("meta: %+v", meta)
	}

	// Filters.
	got = platformAnswer{}
	if code, raw := m.get(t, m.key, "/v1/metrics/platform-campaigns?from=2024-03-01&to=2024-03-31&platform=googleads&campaign_id=c1", &got); code != 200 ||
		len(got.Rows) != 1 || got.Rows[0].Days != 3 {
		t.Fatalf("filtered: %d %s", code, raw)
	}
	// Another tenant sees only its own rows, whatever it asks for.
	got = platformAnswer{}
	if code, raw := m.get(t, m.other, "/v1/metrics/platform-campaigns?from=2024-03-01&to=2024-03-31&campaign_id=c1", &got); code != 200 ||
		len(got.Rows) != 1 || got.Rows[0].AccountID != "999" || got.Tenant != "globex" {
		t.Fatalf("globex: %d %s", code, raw)
	}
}

func TestPlatformCampaignsDaily(t *testing.T) {
	m := newMetricsStack(t)
	var got platformAnswer
	code, raw := m.get(t, m.key, "/v1/metrics/platform-campaigns?from=2024-03-01&to=2024-03-02&granularity=day&campaign_id=c1", &got)
	if code != http.StatusOK || got.Granularity != "day" || len(got.Rows) != 3 {
		t.Fatalf("%d %s", code, raw)
	}
	want := []struct{ date, platform string }{{"2024-03-01", "googleads"}, {"2024-03-01", "meta"}, {"2024-03-02", "googleads"}}
	for i, w := range want {
		if r := got.Rows[i]; r.Date != w.date || r.Platform != w.platform || r.Days != 1 || r.CTR == nil {
			t.Errorf("row %d: %+v, want %v", i, r, w)
		}
	}
}

func TestPlatformCampaignsRejectsBadInput(t *testing.T) {
	m := newMetricsStack(t)
	for path, want := range map[string]string{
		"?from=2024-3-1&to=2024-03-02":                    "from must be a date",
		"?from=2024-03-01&to=tomorrow":                    "to must be a date",
		"?from=2024-03-05&to=2024-03-02":                  "from must not be after to",
		"?from=2010-01-01&to=2024-03-02":                  "range too long",
		"?from=2024-03-01&to=2024-03-02&granularity=hour": "granularity must be total or day",
	} {
		code, raw := m.get(t, m.key, "/v1/metrics/platform-campaigns"+path, nil)
		if code != http.StatusBadRequest || !strings.Contains(raw, want) || !strings.Contains(raw, `"kind":"invalid"`) {
			t.Errorf("%s: %d %s, want 400 saying %q", path, code, raw, want)
		}
	}
	// At most 1098 days, counting both ends.
	last := date("2021-01-01").AddDate(0, 0, 1097).Format(time.DateOnly)
	if code, raw := m.get(t, m.key, "/v1/metrics/platform-campaigns?from=2021-01-01&to="+last, nil); code != http.StatusOK {
		t.Fatalf("1098 days: %d %s", code, raw)
	}
	if code, _ := m.get(t, m.key, "/v1/metrics/platform-campaigns?from=2020-12-31&to="+last, nil); code != http.StatusBadRequest {
		t.Fatalf("1099 days: %d", code)
	}
	if code, _ := m.get(t, "", "/v1/metrics/platform-campaigns", nil); code != http.StatusUnauthorized {
		t.Fatalf("no key: %d", code)
	}
	// Without from and to: the last 30 days, which hold nothing here.
	var got platformAnswer
	if code, raw := m.get(t, m.key, "/v1/metrics/platform-campaigns", &got); code != 200 || got.Rows == nil || len(got.Rows) != 0 {
		t.Fatalf("default range: %d %s", code, raw)
	}
}

type syncedCampaign struct {
	Bucket      string        `json:"bucket"`
	CampaignID  string        `json:"campaign_id"`
	Channel     string        `json:"channel"`
	Impressions int64         `json:"impressions"`
	SyncedOnly  bool          `json:"synced_only"`
	Synced      []platformRow `json:"synced"`
}

func TestCampaignsIncludeSynced(t *testing.T) {
	m := newMetricsStack(t)
	const rng = "/v1/metrics/campaigns?level=day&from=2024-03-01T00:00:00Z&to=2024-03-03T00:00:00Z"

	// Without include the answer is the streamed report alone.
	code, plain := m.get(t, m.key, rng, nil)
	if code != 200 || strings.Contains(plain, "synced") || strings.Contains(plain, `"c2"`) {
		t.Fatalf("default answer changed: %d %s", code, plain)
	}

	var got struct {
		Rows       []syncedCampaign
		SyncedFrom string `json:"synced_from"`
		SyncedTo   string `json:"synced_to"`
	}
	code, raw := m.get(t, m.key, rng+"&include=synced", &got)
	if code != 200 || got.SyncedFrom != "2024-03-01" || got.SyncedTo != "2024-03-02" {
		t.Fatalf("%d %s", code, raw)
	}
	// Streamed rows c1 (two days), c3; then c2, which only Google Ads reported.
	if len(got.Rows) != 4 {
		t.Fatalf("rows: %s", raw)
	}
	for _, r := range got.Rows[:2] {
		if r.CampaignID != "c1" || r.SyncedOnly || len(r.Synced) != 2 || r.Synced[0].Platform != "googleads" ||
			r.Synced[0].Impressions != 2000 || r.Synced[1].Platform != "meta" || r.Synced[1].Impressions != 400 {
			t.Fatalf("c1 row: %+v", r)
		}
	}
	if c3 := got.Rows[2]; c3.CampaignID != "c3" || c3.Synced == nil || len(c3.Synced) != 0 || c3.Impressions != 7 {
		t.Fatalf("c3 row: %+v (%s)", c3, raw)
	}
	if c2 := got.Rows[3]; c2.CampaignID != "c2" || !c2.SyncedOnly || c2.Bucket != "" || c2.Impressions != 0 ||
		len(c2.Synced) != 1 || c2.Synced[0].CostMicros != bigCost {
		t.Fatalf("c2 row: %+v", c2)
	}

	// The streamed rows are the same as without include.
	var a, b struct{ Rows []map[string]any }
	_ = json.Unmarshal([]byte(plain), &a)
	_ = json.Unmarshal([]byte(raw), &b)
	for i, row := range a.Rows {
		delete(b.Rows[i], "synced")
		if ja, jb := mustJSON(t, row), mustJSON(t, b.Rows[i]); ja != jb {
			t.Fatalf("streamed row %d changed:\n%s\n%s", i, ja, jb)
		}
	}

	// A channel filter keeps synced-only campaigns out: they have no channel.
	got.Rows = nil
	if code, raw := m.get(t, m.key, rng+"&include=synced&channel=search", &got); code != 200 || len(got.Rows) != 3 {
		t.Fatalf("channel filter: %d %s", code, raw)
	}
	// A campaign filter applies to both sides.
	got.Rows = nil
	if code, raw := m.get(t, m.key, rng+"&include=synced&campaign_id=c2", &got); code != 200 || len(got.Rows) != 1 || !got.Rows[0].SyncedOnly {
		t.Fatalf("campaign filter: %d %s", code, raw)
	}
	// Another tenant's synced rows never attach.
	got.Rows = nil
	if code, raw := m.get(t, m.other, rng+"&include=synced", &got); code != 200 || len(got.Rows) != 1 || got.Rows[0].Synced[0].AccountID != "999" {
		t.Fatalf("globex: %d %s", code, raw)
	}
	if code, raw := m.get(t, m.key, rng+"&include=everything", nil); code != http.StatusBadRequest || !strings.Contains(raw, "include must be synced") {
		t.Fatalf("unknown include: %d %s", code, raw)
	}
}
