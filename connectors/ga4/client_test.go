package ga4

import (
	"context"
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

func setup(t *testing.T, fake *Fake, mod func(*Config)) *Client {
	t.Helper()
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	cfg := Config{
		TokenURL:           srv.URL + "/token",
		BaseURL:            srv.URL,
		APIVersion:         fake.Version,
		ClientID:           fake.ClientID,
		ClientSecret:       fake.ClientSecret,
		RefreshToken:       fake.RefreshToken,
		HTTPClient:         srv.Client(),
		Limiter:            rate.NewLimiter(rate.Inf, 1),
		RetryBackoff:       10 * time.Millisecond,
		ThrottleBackoff:    50 * time.Millisecond,
		HourlyQuotaBackoff: time.Hour,
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
			if r.Sessions == 0 {
				continue
			}
			out = append(out, connectors.CampaignDay{
				Platform: Platform, AccountID: f.PropertyID, CampaignID: r.CampaignID, CampaignName: r.CampaignName,
				Date: d, Impressions: 0, Clicks: r.Sessions, Conversions: float64(r.ConversionsHalves) / 2,
				CostMicros: 0, RevenueMicros: r.RevenueCents * 10_000, Currency: f.Currency,
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

func TestSyncSeveralPagesExactValues(t *testing.T) {
	fake := NewFake(7)
	fake.Currency = "EUR"
	c := setup(t, fake, func(cfg *Config) { cfg.PageSize = 7 })
	got, err := c.Sync(ctx(t), fake.PropertyID, jan1, jan10)
	if err != nil {
		t.Fatal(err)
	}
	want := expected(fake, jan1, jan10)
	if len(want) < 20 {
		t.Fatalf("seed gives only %d rows", len(want))
	}
	check(t, got, want)
	if _, api := fake.Counts(); api != (len(want)+6)/7 {
		t.Errorf("API requests = %d, want %d", api, (len(want)+6)/7)
	}
}

func TestServerCapsLimit(t *testing.T) {
	fake := NewFake(7)
	fake.MaxLimit = 5 // the client asks for more; paging must follow rowCount, not its own limit
	c := setup(t, fake, nil)
	got, err := c.Sync(ctx(t), fake.PropertyID, jan1, jan10)
	if err != nil {
		t.Fatal(err)
	}
	check(t, got, expected(fake, jan1, jan10))
}

func TestTokenExpiresMidSyncIsRefreshed(t *testing.T) {
	fake := NewFake(1)
	c := setup(t, fake, func(cfg *Config) { cfg.PageSize = 5 })
	fake.ExpireTokensAfter(2)
	got, err := c.Sync(ctx(t), fake.PropertyID, jan1, jan10)
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
	c := setup(t, fake, func(cfg *Config) { cfg.PageSize = 10; cfg.ThrottleBackoff = 150 * time.Millisecond })
	fake.ThrottleNext(2, QuotaConcurrent)
	start := time.Now()
	got, err := c.Sync(ctx(t), fake.PropertyID, jan1, jan10)
	if err != nil {
		t.Fatal(err)
	}
	check(t, got, expected(fake, jan1, jan10))
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Errorf("finished after %v, want ≥ 300ms", el)
	}
	times := fake.APITimes()
	if gap := times[1].Sub(times[0]); gap < 150*time.Millisecond {
		t.Errorf("retry after throttle came %v later, want ≥ 150ms", gap)
	}
}

func TestHourlyQuotaReportsLongDelay(t *testing.T) {
	fake := NewFake(2)
	c := setup(t, fake, nil)
	fake.ThrottleNext(1, QuotaHourly)
	_, err := c.call(ctx(t), fake.PropertyID, "runReport", map[string]any{})
	var te *connectors.ThrottledError
	if !errors.As(err, &te) || te.RetryAfter != time.Hour || te.Platform != Platform {
		t.Fatalf("err = %v, want ThrottledError with the hourly back-off", err)
	}
}

func TestServerErrorRetried(t *testing.T) {
	fake := NewFake(3)
	c := setup(t, fake, nil)
	fake.FailNext(2)
	got, err := c.Sync(ctx(t), fake.PropertyID, jan1, jan10)
	if err != nil {
		t.Fatal(err)
	}
	check(t, got, expected(fake, jan1, jan10))
	if _, api := fake.Counts(); api != 3 {
		t.Errorf("API requests = %d, want 3", api)
	}
}

func TestPersistentServerErrorGivesUp(t *testing.T) {
	fake := NewFake(3)
	c := setup(t, fake, func(cfg *Config) { cfg.MaxRetries = 2 })
	fake.FailNext(100)
	_, err := c.Sync(ctx(t), fake.PropertyID, jan1, jan10)
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
			_, err := c.Sync(ctx(t), fake.PropertyID, jan1, jan10)
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

func TestNoAccessToPropertyNeedsReauthorisation(t *testing.T) {
	fake := NewFake(4)
	c := setup(t, fake, nil)
	_, err := c.Sync(ctx(t), "999", jan1, jan10)
	if !errors.Is(err, connectors.ErrReauthorize) {
		t.Fatalf("err = %v, want ErrReauthorize", err)
	}
}

func TestRevokedMidSyncNeedsReauthorisation(t *testing.T) {
	fake := NewFake(5)
	c := setup(t, fake, func(cfg *Config) { cfg.PageSize = 4 })
	fake.ExpireTokensAfter(2)
	fake.RevokeRefreshToken()
	_, err := c.Sync(ctx(t), fake.PropertyID, jan1, jan10)
	if !errors.Is(err, connectors.ErrReauthorize) {
		t.Fatalf("err = %v, want ErrReauthorize", err)
	}
}

func TestRerunIdentical(t *testing.T) {
	fake := NewFake(6)
	c := setup(t, fake, func(cfg *Config) { cfg.PageSize = 4 })
	a, err := c.Sync(ctx(t), fake.PropertyID, jan1, jan10)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Sync(ctx(t), fake.PropertyID, jan1, jan10)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) == 0 || !reflect.DeepEqual(a, b) {
		t.Fatalf("reruns differ: %d vs %d rows", len(a), len(b))
	}
}

func TestRealtime(t *testing.T) {
	fake := NewFake(8)
	c := setup(t, fake, nil)
	got, err := c.Realtime(ctx(t), fake.PropertyID, 30)
	if err != nil {
		t.Fatal(err)
	}
	var want []RealtimeMinute
	for m := 0; m < 30; m++ {
		if r := fake.RealtimeRow(m); r.ActiveUsers > 0 {
			want = append(want, r)
		}
	}
	if len(want) == 0 || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	fake.ThrottleNext(1, QuotaConcurrent)
	var te *connectors.ThrottledError
	if _, err := c.Realtime(ctx(t), fake.PropertyID, 5); !errors.As(err, &te) {
		t.Fatalf("err = %v, want ThrottledError", err)
	}
}

func TestDecimalToMicros(t *testing.T) {
	for in, want := range map[string]int64{
		"": 0, "0": 0, "2.01": 2_010_000, "1234.56": 1_234_560_000, "0.0000005": 1, "0.0000004": 0, "1e3": 1_000_000_000,
	} {
		got, err := connectors.DecimalToMicros(in)
		if err != nil || got != want {
			t.Errorf("connectors.DecimalToMicros(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}

func TestLimiterPacesRequests(t *testing.T) {
	fake := NewFake(1)
	c := setup(t, fake, func(cfg *Config) {
		cfg.PageSize = 6
		cfg.Limiter = rate.NewLimiter(rate.Every(40*time.Millisecond), 1)
	})
	if _, err := c.Sync(ctx(t), fake.PropertyID, jan1, jan10); err != nil {
		t.Fatal(err)
	}
	times := fake.APITimes()
	if len(times) < 3 {
		t.Fatalf("only %d requests", len(times))
	}
	for i := 1; i < len(times); i++ {
		if gap := times[i].Sub(times[i-1]); gap < 30*time.Millisecond {
			t.Errorf("requests %d and %d only %v apart", i-1, i, gap)
		}
	}
}
