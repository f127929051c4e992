package googleads

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

const customer = "1234567890"

var (
	jan1  = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	jan10 = time.Date(2024, 1, 10, 0, 0, 0, 0, time.UTC)
)

// setup starts fake behind an httptest.Server and returns a client configured with
// its credentials, a manager account, an unlimited limiter and short back-offs.
func setup(t *testing.T, fake *Fake, mod func(*Config)) *Client {
	t.Helper()
	fake.LoginCustomerID = "9876543210"
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	cfg := Config{
		TokenURL:        srv.URL + "/token",
		BaseURL:         srv.URL,
		APIVersion:      fake.Version,
		DeveloperToken:  fake.DeveloperToken,
		LoginCustomerID: "987-654-3210",
		ClientID:        fake.ClientID,
		ClientSecret:    fake.ClientSecret,
		RefreshToken:    fake.RefreshToken,
		HTTPClient:      srv.Client(),
		Limiter:         rate.NewLimiter(rate.Inf, 1),
		RetryBackoff:    10 * time.Millisecond,
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

// expected builds the records the fake's seeded rows must normalise to.
func expected(f *Fake, from, to time.Time) []connectors.CampaignDay {
	var out []connectors.CampaignDay
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		for i := range f.Campaigns {
			r := f.Row(customer, i, d)
			out = append(out, connectors.CampaignDay{
				Platform:      Platform,
				AccountID:     customer,
				CampaignID:    r.CampaignID,
				CampaignName:  r.CampaignName,
				Date:          d,
				Impressions:   r.Impressions,
				Clicks:        r.Clicks,
				Conversions:   float64(r.ConversionsHalves) / 2,
				CostMicros:    r.CostMicros,
				RevenueMicros: r.RevenueCents * 10_000,
				Currency:      f.Currency,
			})
		}
	}
	return out
}

func TestSyncSeveralBatchesExactValues(t *testing.T) {
	fake := NewFake(7)
	fake.BatchSize = 4 // 10 days × 3 campaigns = 30 rows → 8 batches
	fake.Currency = "EUR"
	c := setup(t, fake, nil)

	got, err := c.Sync(ctx(t), customer, jan1, jan10)
	if err != nil {
		t.Fatal(err)
	}
	want := expected(fake, jan1, jan10)
	if len(got) != 30 {
		t.Fatalf("got %d rows, want 30", len(got))
	}
	if !reflect.DeepEqual(got, want) {
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("row %d:\n got %+v\nwant %+v", i, got[i], want[i])
			}
		}
	}
	// One currency lookup and one campaign query: the range fits one chunk.
	if _, stream := fake.Counts(); stream != 2 {
		t.Errorf("stream requests = %d, want 2", stream)
	}
}

func TestSyncChunksAndTokenExpiresMidSync(t *testing.T) {
	fake := NewFake(1)
	fake.BatchSize = 5
	c := setup(t, fake, func(cfg *Config) { cfg.ChunkDays = 3 })
	// Currency + first chunk succeed, then every issued token is dead although
	// the client's cached copy has ~1h left.
	fake.ExpireTokensAfter(2)

	got, err := c.Sync(ctx(t), customer, jan1, jan10)
	if err != nil {
		t.Fatal(err)
	}
	if want := expected(fake, jan1, jan10); !reflect.DeepEqual(got, want) {
		t.Fatalf("rows differ after token refresh: got %d rows, want %d", len(got), len(want))
	}
	tokenCalls, stream := fake.Counts()
	if tokenCalls != 2 {
		t.Errorf("token requests = %d, want 2 (initial + one refresh)", tokenCalls)
	}
	// currency + 4 chunks (3+3+3+1 days) + the one request refused with 401.
	if stream != 6 {
		t.Errorf("stream requests = %d, want 6", stream)
	}
}

func TestThrottledThenSuccessAfterRetryDelay(t *testing.T) {
	fake := NewFake(2)
	c := setup(t, fake, nil)
	if _, err := c.Currency(ctx(t), customer); err != nil {
		t.Fatal(err)
	}
	const delay = 300 * time.Millisecond
	fake.ThrottleNext(2, delay)

	// CampaignDays surfaces the quota error with Google's retryDelay.
	_, err := c.CampaignDays(ctx(t), customer, jan1, jan1)
	var te *connectors.ThrottledError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v, want *connectors.ThrottledError", err)
	}
	if te.RetryAfter != delay || te.Platform != Platform {
		t.Fatalf("throttle = %+v, want RetryAfter %v", te, delay)
	}

	// Sync waits it out: one more throttled answer, then success.
	got, err := c.Sync(ctx(t), customer, jan1, jan10)
	if err != nil {
		t.Fatal(err)
	}
	if want := expected(fake, jan1, jan10); !reflect.DeepEqual(got, want) {
		t.Fatal("rows differ after throttling")
	}
	times := fake.StreamTimes()
	// currency, throttled (CampaignDays), throttled (Sync), success.
	if len(times) != 4 {
		t.Fatalf("stream requests = %d, want 4", len(times))
	}
	if gap := times[3].Sub(times[2]); gap < delay {
		t.Errorf("retried after %v, want at least the retryDelay %v", gap, delay)
	}
}

func TestServerErrorRetried(t *testing.T) {
	fake := NewFake(3)
	c := setup(t, fake, nil)
	fake.FailNext(1)
	got, err := c.CampaignDays(ctx(t), customer, jan1, jan10)
	if err != nil {
		t.Fatal(err)
	}
	if want := expected(fake, jan1, jan10); !reflect.DeepEqual(got, want) {
		t.Fatal("rows differ after 5xx retry")
	}
	if _, stream := fake.Counts(); stream != 3 { // 500, currency, campaign
		t.Errorf("stream requests = %d, want 3", stream)
	}
}

func TestPersistentServerErrorGivesUp(t *testing.T) {
	fake := NewFake(3)
	c := setup(t, fake, func(cfg *Config) { cfg.MaxRetries = 2 })
	fake.FailNext(100)
	_, err := c.CampaignDays(ctx(t), customer, jan1, jan1)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.HTTPStatus != 500 {
		t.Fatalf("err = %v, want a wrapped 500 APIError", err)
	}
	if _, stream := fake.Counts(); stream != 3 {
		t.Errorf("stream requests = %d, want 3 (1 + 2 retries)", stream)
	}
}

func TestInvalidCredentialsFailFast(t *testing.T) {
	cases := []struct {
		name  string
		fake  func(*Fake)
		cfg   func(*Config)
		token int // token requests expected
	}{
		{"revoked refresh token", func(f *Fake) { f.RevokeRefreshToken() }, nil, 1},
		{"wrong client secret", nil, func(c *Config) { c.ClientSecret = "nope" }, 1},
		{"unapproved developer token", nil, func(c *Config) { c.DeveloperToken = "nope" }, 1},
		{"missing manager header", nil, func(c *Config) { c.LoginCustomerID = "" }, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := NewFake(4)
			c := setup(t, fake, tc.cfg)
			if tc.fake != nil {
				tc.fake(fake)
			}
			_, err := c.Sync(ctx(t), customer, jan1, jan10)
			if !errors.Is(err, connectors.ErrReauthorize) {
				t.Fatalf("err = %v, want ErrReauthorize", err)
			}
			tokenCalls, stream := fake.Counts()
			if tokenCalls != tc.token || stream > 1 {
				t.Errorf("requests: token %d stream %d; want %d and ≤1 (no retries)", tokenCalls, stream, tc.token)
			}
		})
	}
}

func TestRevokedMidSyncNeedsReauthorisation(t *testing.T) {
	fake := NewFake(5)
	c := setup(t, fake, nil)
	fake.ExpireTokensAfter(1)
	fake.RevokeRefreshToken() // the refresh after expiry will be refused
	_, err := c.CampaignDays(ctx(t), customer, jan1, jan1)
	if !errors.Is(err, connectors.ErrReauthorize) {
		t.Fatalf("err = %v, want ErrReauthorize", err)
	}
}

func TestRerunIdentical(t *testing.T) {
	fake := NewFake(6)
	fake.BatchSize = 7
	c := setup(t, fake, func(cfg *Config) { cfg.ChunkDays = 4 })
	first, err := c.Sync(ctx(t), customer, jan1, jan10)
	if err != nil {
		t.Fatal(err)
	}
	// A fresh client (as a new workflow run would have) over the same range.
	second, err := setup(t, fake, nil).Sync(ctx(t), customer, jan1, jan10)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(first, second) {
		t.Fatal("rerun over the same range produced different rows")
	}
	// A different seed must give different data, or the check above is vacuous.
	other, err := setup(t, NewFake(99), nil).Sync(ctx(t), customer, jan1, jan10)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(first, other) {
		t.Fatal("different seeds produced identical rows")
	}
}

func TestUnsupportedVersionIsPlainError(t *testing.T) {
	fake := NewFake(8)
	c := setup(t, fake, func(cfg *Config) { cfg.APIVersion = "v1" })
	_, err := c.CampaignDays(ctx(t), customer, jan1, jan1)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || len(apiErr.Codes) != 1 || apiErr.Codes[0] != "requestError:UNSUPPORTED_VERSION" {
		t.Fatalf("err = %v, want requestError:UNSUPPORTED_VERSION", err)
	}
	if errors.Is(err, connectors.ErrReauthorize) {
		t.Fatal("a config error must not ask for re-authorisation")
	}
	if _, stream := fake.Counts(); stream != 1 {
		t.Errorf("stream requests = %d, want 1 (4xx not retried)", stream)
	}
}

func TestParseStreamErrorShapes(t *testing.T) {
	const inner = `{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.ads.googleads.v23.errors.GoogleAdsFailure","errors":[{"errorCode":{"quotaError":"RESOURCE_EXHAUSTED"},"message":"quota","details":{"quotaErrorDetails":{"rateScope":"ACCOUNT","retryDelay":"1.500s"}}}],"requestId":"r1"}]}}`
	for name, body := range map[string]string{
		"plain":         inner,
		"array-wrapped": "[" + inner + "]",
		"after results": `[{"results":[{"campaign":{"id":"1"}}]},` + inner + `]`,
	} {
		t.Run(name, func(t *testing.T) {
			rows, apiErr, err := parseStream(429, "hdr", []byte(body))
			if err != nil || rows != nil || apiErr == nil {
				t.Fatalf("rows %v apiErr %v err %v", rows, apiErr, err)
			}
			if apiErr.RetryDelay != 1500*time.Millisecond || apiErr.RequestID != "r1" ||
				!apiErr.hasCategory("quotaError") || apiErr.Status != "RESOURCE_EXHAUSTED" {
				t.Fatalf("parsed %+v", apiErr)
			}
		})
	}
	if _, _, err := parseStream(502, "", []byte("<html>bad gateway</html>")); err == nil {
		t.Fatal("a non-JSON body must be an error")
	}
}

func TestDecimalToMicros(t *testing.T) {
	for in, want := range map[string]int64{
		"":                     0,
		"0":                    0,
		"42.5":                 42_500_000,
		"0.29":                 290_000,
		"2.01":                 2_010_000, // float64: 2.01*1e6 = 2009999.9999999998
		"1.000001":             1_000_001, // float64: 1000000.9999999999
		"1234567.89":           1_234_567_890_000,
		"1e3":                  1_000_000_000,
		"0.0000005":            1, // half a micro rounds away from zero
		"0.0000004":            0,
		"-0.0000005":           -1,
		"9223372036854.775807": 9223372036854775807,
	} {
		got, err := connectors.DecimalToMicros(in)
		if err != nil || got != want {
			t.Errorf("connectors.DecimalToMicros(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"abc", "9223372036854.775808"} {
		if _, err := connectors.DecimalToMicros(bad); err == nil {
			t.Errorf("connectors.DecimalToMicros(%q) succeeded, want error", bad)
		}
	}
	// Guard the premise of the cases above: a float multiply truncates 2.01 wrongly.
	if v, _ := strconv.ParseFloat("2.01", 64); int64(v*1e6) == 2_010_000 {
		t.Fatal("float64 multiply is exact for 2.01; pick another witness value")
	}
}

func TestLimiterPacesRequests(t *testing.T) {
	fake := NewFake(9)
	const every = 50 * time.Millisecond
	c := setup(t, fake, func(cfg *Config) {
		cfg.Limiter = rate.NewLimiter(rate.Every(every), 1)
		cfg.ChunkDays = 3
	})
	if _, err := c.Sync(ctx(t), customer, jan1, jan10); err != nil {
		t.Fatal(err)
	}
	times := fake.StreamTimes()
	if len(times) != 5 { // currency + 4 chunks
		t.Fatalf("stream requests = %d, want 5", len(times))
	}
	// Allow a little timer slack; an unpaced client sends these within ~1ms.
	if span, min := times[4].Sub(times[0]), 4*every-10*time.Millisecond; span < min {
		t.Errorf("5 requests took %v, want ≥ %v at one per %v", span, min, every)
	}
}

func TestDefaultLimiterFitsDailyQuota(t *testing.T) {
	l := DefaultLimiter()
	if perDay := float64(l.Limit()) * 86400; perDay > 15000 {
		t.Errorf("default limit allows %.0f ops/day, more than Basic access's 15,000", perDay)
	}
}
