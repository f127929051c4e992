package linkedin

import (
	"context"
	"errors"
	"net/http/httptest"
	"reflect"
	"strconv"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/touchpoint/touchpoint/connectors"
)

var (
	jan1  = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	jan10 = time.Date(2024, 1, 10, 0, 0, 0, 0, time.UTC)
)

func setup(t *testing.T, fake *Fake, mod func(*Config)) *Client {
	t.Helper()
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	cfg := Config{
		TokenURL:        srv.URL + "/oauth/v2/accessToken",
		BaseURL:         srv.URL,
		Version:         fake.Version,
		ClientID:        fake.ClientID,
		ClientSecret:    fake.ClientSecret,
		RefreshToken:    fake.RefreshToken,
		HTTPClient:      srv.Client(),
		Limiter:         rate.NewLimiter(rate.Inf, 1),
		RetryBackoff:    10 * time.Millisecond,
		ThrottleBackoff: 50 * time.Millisecond,
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
			if r.Impressions == 0 {
				continue
			}
			out = append(out, connectors.CampaignDay{
				Platform: Platform, AccountID: f.AccountID,
				CampaignID: strconv.FormatInt(f.CampaignID(i), 10), CampaignName: f.CampaignName(i),
				Date: d, Impressions: r.Impressions, Clicks: r.Clicks, Conversions: float64(r.Conversions),
				CostMicros: r.CostMillis * 1000, RevenueMicros: r.RevenueMillis * 1000, Currency: f.Currency,
			})
		}
	}
	return out
}

func check(t *testing.T, got, want []connectors.CampaignDay) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d rows, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("row %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func TestSyncPagesGroupsAndChunksExactValues(t *testing.T) {
	fake := NewFake(7)
	fake.Campaigns = 7
	fake.PageSize = 3 // 3 campaign pages
	fake.Currency = "EUR"
	c := setup(t, fake, func(cfg *Config) { cfg.CampaignsPerRequest = 4; cfg.ChunkDays = 4 })

	got, err := c.Sync(ctx(t), fake.AccountID, jan1, jan10)
	if err != nil {
		t.Fatal(err)
	}
	want := expected(fake, jan1, jan10)
	if len(want) < 40 {
		t.Fatalf("seed gives only %d rows; pick one with more activity", len(want))
	}
	check(t, got, want)
	// account + 3 campaign pages + 3 chunks × 2 campaign groups
	if _, api := fake.Counts(); api != 1+3+6 {
		t.Errorf("API requests = %d, want 10", api)
	}
}

func TestTokenExpiresMidSyncIsRefreshed(t *testing.T) {
	fake := NewFake(1)
	fake.PageSize = 1
	c := setup(t, fake, func(cfg *Config) { cfg.ChunkDays = 3 })
	fake.ExpireTokensAfter(3) // account + 2 pages, then the token dies
	got, err := c.Sync(ctx(t), fake.AccountID, jan1, jan10)
	if err != nil {
		t.Fatal(err)
	}
	check(t, got, expected(fake, jan1, jan10))
	if tok, _ := fake.Counts(); tok != 2 {
		t.Errorf("token requests = %d, want 2", tok)
	}
}

func TestThrottledThenSuccessAfterDelay(t *testing.T) {
	fake := NewFake(2)
	c := setup(t, fake, func(cfg *Config) { cfg.ThrottleBackoff = 150 * time.Millisecond })
	fake.ThrottleNext(2)
	start := time.Now()
	got, err := c.Sync(ctx(t), fake.AccountID, jan1, jan10)
	if err != nil {
		t.Fatal(err)
	}
	check(t, got, expected(fake, jan1, jan10))
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Errorf("finished after %v, want ≥ 2 × 150ms of waiting", el)
	}
	times := fake.APITimes()
	if gap := times[2].Sub(times[1]); gap < 150*time.Millisecond {
		t.Errorf("retry after throttle came %v later, want ≥ 150ms", gap)
	}
}

func TestThrottleReportedWhenWaitsExhausted(t *testing.T) {
	fake := NewFake(2)
	c := setup(t, fake, func(cfg *Config) { cfg.MaxThrottleWaits = 1; cfg.ThrottleBackoff = time.Millisecond })
	fake.ThrottleNext(5)
	_, err := c.Sync(ctx(t), fake.AccountID, jan1, jan10)
	var te *connectors.ThrottledError
	if !errors.As(err, &te) || te.Platform != Platform {
		t.Fatalf("err = %v, want ThrottledError", err)
	}
}

func TestServerErrorRetried(t *testing.T) {
	fake := NewFake(3)
	c := setup(t, fake, nil)
	fake.FailNext(2)
	got, err := c.Sync(ctx(t), fake.AccountID, jan1, jan10)
	if err != nil {
		t.Fatal(err)
	}
	check(t, got, expected(fake, jan1, jan10))
}

func TestPersistentServerErrorGivesUp(t *testing.T) {
	fake := NewFake(3)
	c := setup(t, fake, func(cfg *Config) { cfg.MaxRetries = 2 })
	fake.FailNext(100)
	_, err := c.Sync(ctx(t), fake.AccountID, jan1, jan10)
	if err == nil || errors.Is(err, connectors.ErrReauthorize) {
		t.Fatalf("err = %v", err)
	}
	if _, api := fake.Counts(); api != 3 {
		t.Errorf("API requests = %d, want 3", api)
	}
}

func TestInvalidCredentialsFailFast(t *testing.T) {
	for name, mod := range map[string]func(*Config){
		"bad refresh token": func(c *Config) { c.RefreshToken = "nope" },
		"bad secret":        func(c *Config) { c.ClientSecret = "nope" },
	} {
		t.Run(name, func(t *testing.T) {
			fake := NewFake(4)
			c := setup(t, fake, mod)
			start := time.Now()
			_, err := c.Sync(ctx(t), fake.AccountID, jan1, jan10)
			if !errors.Is(err, connectors.ErrReauthorize) {
				t.Fatalf("err = %v, want ErrReauthorize", err)
			}
			if el := time.Since(start); el > time.Second {
				t.Errorf("took %v", el)
			}
			if tok, api := fake.Counts(); tok != 1 || api != 0 {
				t.Errorf("requests token=%d api=%d, want 1, 0", tok, api)
			}
		})
	}
}

func TestRevokedMidSyncNeedsReauthorisation(t *testing.T) {
	fake := NewFake(5)
	c := setup(t, fake, func(cfg *Config) { cfg.ChunkDays = 2 })
	fake.ExpireTokensAfter(3)
	fake.RevokeRefreshToken()
	_, err := c.Sync(ctx(t), fake.AccountID, jan1, jan10)
	if !errors.Is(err, connectors.ErrReauthorize) {
		t.Fatalf("err = %v, want ErrReauthorize", err)
	}
}

func TestRerunIdentical(t *testing.T) {
	fake := NewFake(6)
	c := setup(t, fake, nil)
	a, err := c.Sync(ctx(t), fake.AccountID, jan1, jan10)
	if err != nil {
		t.Fatal(err)
	}
	c2 := setup(t, NewFake(6), nil)
	b, err := c2.Sync(ctx(t), fake.AccountID, jan1, jan10)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) == 0 || !reflect.DeepEqual(a, b) {
		t.Fatalf("reruns differ: %d vs %d rows", len(a), len(b))
	}
}

func TestWrongVersionIsPlainError(t *testing.T) {
	fake := NewFake(1)
	c := setup(t, fake, func(cfg *Config) { cfg.Version = "202301" })
	_, err := c.Sync(ctx(t), fake.AccountID, jan1, jan10)
	var ae *APIError
	if !errors.As(err, &ae) || ae.HTTPStatus != 426 || errors.Is(err, connectors.ErrReauthorize) {
		t.Fatalf("err = %v", err)
	}
}

func TestDecimalToMicros(t *testing.T) {
	for in, want := range map[string]int64{
		"": 0, "0": 0, "209.449": 209_449_000, "2.01": 2_010_000, "0.0000005": 1, "-0.0000005": -1,
		"0.0000004": 0, "12345678.123456": 12_345_678_123_456,
	} {
		got, err := connectors.DecimalToMicros(in)
		if err != nil || got != want {
			t.Errorf("connectors.DecimalToMicros(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := connectors.DecimalToMicros("abc"); err == nil {
		t.Error("want error for abc")
	}
}

func TestLimiterPacesRequests(t *testing.T) {
	fake := NewFake(1)
	c := setup(t, fake, func(cfg *Config) { cfg.Limiter = rate.NewLimiter(rate.Every(40*time.Millisecond), 1) })
	if _, err := c.Sync(ctx(t), fake.AccountID, jan1, jan10); err != nil {
		t.Fatal(err)
	}
	times := fake.APITimes()
	for i := 1; i < len(times); i++ {
		if gap := times[i].Sub(times[i-1]); gap < 30*time.Millisecond {
			t.Errorf("requests %d and %d only %v apart", i-1, i, gap)
		}
	}
}
