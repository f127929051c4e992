package posthog

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/touchpoint/touchpoint/connectors"
)

var (
	jan1  = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	jan10 = time.Date(2024, 1, 10, 0, 0, 0, 0, time.UTC)
)

func setup(t *testing.T, f *Fake, mod func(*Config)) *Client {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cfg := Config{
		BaseURL: srv.URL, APIKey: f.APIKey, ProjectID: f.ProjectID,
		HTTPClient: srv.Client(), Limiter: rate.NewLimiter(rate.Inf, 1),
		RetryBackoff: 10 * time.Millisecond, PageSize: 7,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func expected(f *Fake, from, to time.Time) []connectors.CampaignDay {
	var out []connectors.CampaignDay
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		for i := range f.Campaigns {
			r := f.Row(i, d)
			out = append(out, connectors.CampaignDay{
				Platform: Platform, AccountID: f.ProjectID, CampaignID: r.Campaign, CampaignName: r.Campaign, Date: d,
				Impressions: r.Impressions, Clicks: r.Clicks, Conversions: float64(r.Conversions),
				RevenueMicros: r.RevenueCents * 10_000, Currency: "USD",
			})
		}
	}
	return out
}

func TestSeveralPagesExact(t *testing.T) {
	f := NewFake(1)
	c := setup(t, f, nil)
	got, err := c.CampaignDays(ctx(t), jan1, jan10)
	if err != nil {
		t.Fatal(err)
	}
	if want := expected(f, jan1, jan10); !reflect.DeepEqual(got, want) {
		t.Fatalf("rows differ:\n got %v\nwant %v", got, want)
	}
	if n, _ := f.Calls(); n != 5 { // 30 rows in pages of 7
		t.Fatalf("calls = %d, want 5", n)
	}
}

func TestThrottleThenSuccess(t *testing.T) {
	f := NewFake(1)
	c := setup(t, f, nil)
	f.ThrottleNext(2, time.Second)
	start := time.Now()
	got, err := c.CampaignDays(ctx(t), jan1, jan1)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 2*time.Second {
		t.Fatalf("finished in %v; Retry-After 1s twice was not honoured", el)
	}
	if !reflect.DeepEqual(got, expected(f, jan1, jan1)) {
		t.Fatal("rows differ after throttling")
	}
	_, times := f.Calls()
	if len(times) != 3 || times[1].Sub(times[0]) < time.Second || times[2].Sub(times[1]) < time.Second {
		t.Fatalf("retries not paced by Retry-After: %v", times)
	}
}

func TestThrottleSurfacedWhenWaitsExhausted(t *testing.T) {
	f := NewFake(1)
	c := setup(t, f, func(c *Config) { c.MaxThrottleWaits = 1 })
	f.ThrottleNext(5, 0)
	_, err := c.CampaignDays(ctx(t), jan1, jan1)
	var te *connectors.ThrottledError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v, want ThrottledError", err)
	}
}

func TestServerErrorRetried(t *testing.T) {
	f := NewFake(1)
	c := setup(t, f, nil)
	f.FailNext(1)
	got, err := c.CampaignDays(ctx(t), jan1, jan1)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, expected(f, jan1, jan1)) {
		t.Fatal("rows differ after retry")
	}
	if n, _ := f.Calls(); n != 2 {
		t.Fatalf("calls = %d, want 2", n)
	}
}

func TestServerErrorGivesUp(t *testing.T) {
	f := NewFake(1)
	c := setup(t, f, func(c *Config) { c.MaxRetries = 2 })
	f.FailNext(10)
	if _, err := c.CampaignDays(ctx(t), jan1, jan1); err == nil {
		t.Fatal("want error")
	}
	if n, _ := f.Calls(); n != 3 {
		t.Fatalf("calls = %d, want 3", n)
	}
}

func TestInvalidKeyFailsFast(t *testing.T) {
	f := NewFake(1)
	c := setup(t, f, func(c *Config) { c.APIKey = "phx_wrong" })
	start := time.Now()
	_, err := c.CampaignDays(ctx(t), jan1, jan10)
	if !errors.Is(err, connectors.ErrReauthorize) {
		t.Fatalf("err = %v, want ErrReauthorize", err)
	}
	if n, _ := f.Calls(); n != 1 || time.Since(start) > time.Second {
		t.Fatalf("calls = %d in %v, want 1 fast", n, time.Since(start))
	}
}

func TestRerunIdentical(t *testing.T) {
	f := NewFake(7)
	c := setup(t, f, nil)
	a, err := c.CampaignDays(ctx(t), jan1, jan10)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.CampaignDays(ctx(t), jan1, jan10)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("rerun differs")
	}
}

func TestRevenueExact(t *testing.T) {
	c, _ := New(Config{APIKey: "k", ProjectID: "1"})
	row := func(rev string) []byte { return []byte(rev) }
	cd, err := c.row([]json.RawMessage{row(`"2024-01-02"`), row(`"c"`), row(`1`), row(`2`), row(`3`), row(`"2.01"`)})
	if err != nil {
		t.Fatal(err)
	}
	if cd.RevenueMicros != 2_010_000 || cd.Conversions != 3 || cd.CostMicros != 0 {
		t.Fatalf("got %+v", cd)
	}
}
