package meta

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/touchpoint/touchpoint/connectors"
)

const account = "1234567890"

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// newTestClient serves fake over real HTTP and returns a client with delays short
// enough for tests.
func newTestClient(t *testing.T, fake *Fake) *Client {
	t.Helper()
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	c := New(srv.URL, "v23.0", fake.Token)
	c.HTTPClient = srv.Client()
	c.Limiter = rate.NewLimiter(rate.Inf, 1)
	c.PageSize = 4
	c.PollInterval = time.Millisecond
	c.AsyncTimeout = 5 * time.Second
	c.Backoff = 10 * time.Millisecond
	c.MaxWait = time.Second
	return c
}

// want builds the expected rows from the fake's integer ground truth (cents),
// a path independent of the decimal strings the client parses.
func want(f *Fake, acct string, from, to time.Time) []connectors.CampaignDay {
	var out []connectors.CampaignDay
	for _, r := range f.rows(acct, from, to) {
		out = append(out, connectors.CampaignDay{
			Platform: Platform, AccountID: acct, CampaignID: r.campaign.id, CampaignName: r.campaign.name,
			Date: r.date, Impressions: r.impressions, Clicks: r.clicks, Conversions: float64(r.purchases),
			CostMicros: r.spendCents * 10000, RevenueMicros: r.revenueCents * 10000,
			Currency: f.AccountCurrency(acct),
		})
	}
	// The fake lists campaigns in creation order; the client promises date, then id.
	slices.SortStableFunc(out, func(a, b connectors.CampaignDay) int {
		if c := a.Date.Compare(b.Date); c != 0 {
			return c
		}
		return strings.Compare(a.CampaignID, b.CampaignID)
	})
	return out
}

func checkRows(t *testing.T, got, exp []connectors.CampaignDay) {
	t.Helper()
	if len(got) != len(exp) {
		t.Fatalf("got %d rows, want %d", len(got), len(exp))
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], exp[i]) {
			t.Fatalf("row %d:\n got %+v\nwant %+v", i, got[i], exp[i])
		}
	}
}

func TestSyncRangeReadsSeveralPages(t *testing.T) {
	fake := NewFake(1)
	c := newTestClient(t, fake)
	from, to := day("2026-03-01"), day("2026-03-07")

	got, err := c.CampaignDays(context.Background(), "act_"+account, from, to)
	if err != nil {
		t.Fatal(err)
	}
	exp := want(fake, account, from, to)
	checkRows(t, got, exp)
	st := fake.Stats()
	if wantPages := (len(exp) + c.PageSize - 1) / c.PageSize; st.SyncPages != wantPages || wantPages < 3 {
		t.Errorf("sync pages = %d, want %d (>= 3)", st.SyncPages, wantPages)
	}
	if st.ReportRuns != 0 {
		t.Errorf("a 7-day range started %d report runs, want synchronous reads", st.ReportRuns)
	}
	if st.AccountLookups != 1 {
		t.Errorf("account lookups = %d, want 1", st.AccountLookups)
	}
}

func TestLongRangeUsesAsyncReportRun(t *testing.T) {
	fake := NewFake(2)
	fake.PollsToComplete = 3
	c := newTestClient(t, fake)
	c.PageSize = 25
	from, to := day("2026-01-01"), day("2026-02-15")

	got, err := c.CampaignDays(context.Background(), account, from, to)
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, got, want(fake, account, from, to))
	st := fake.Stats()
	if st.ReportRuns != 1 || st.SyncPages != 0 {
		t.Errorf("report runs = %d, sync pages = %d; want 1 run and no sync reads", st.ReportRuns, st.SyncPages)
	}
	if st.StatusPolls != 3 {
		t.Errorf("status polls = %d, want 3 (until Job Completed)", st.StatusPolls)
	}
	if st.ReportPages < 2 {
		t.Errorf("report pages = %d, want several", st.ReportPages)
	}
}

func TestThrottleThenSuccessAfterBackoff(t *testing.T) {
	fake := NewFake(3)
	c := newTestClient(t, fake)
	from, to := day("2026-03-01"), day("2026-03-03")
	// Two throttles without a regain estimate: the client waits its own back-off,
	// 10ms then 20ms, before the third try succeeds.
	fake.FailNext(ThrottleFault(80000, 0), ThrottleFault(17, 0))

	start := time.Now()
	got, err := c.CampaignDays(context.Background(), account, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 30*time.Millisecond {
		t.Errorf("finished in %v, want at least the 30ms of back-off", el)
	}
	checkRows(t, got, want(fake, account, from, to))
	if st := fake.Stats(); st.Faults != 2 {
		t.Errorf("faults served = %d, want 2", st.Faults)
	}
}

func TestLongThrottleReturnsThrottledErrorWithRegainTime(t *testing.T) {
	fake := NewFake(4)
	c := newTestClient(t, fake)
	fake.FailNext(ThrottleFault(80004, 7))

	start := time.Now()
	_, err := c.CampaignDays(context.Background(), account, day("2026-03-01"), day("2026-03-02"))
	var th *connectors.ThrottledError
	if !errors.As(err, &th) {
		t.Fatalf("err = %v, want *connectors.ThrottledError", err)
	}
	if th.RetryAfter != 7*time.Minute || th.Platform != Platform {
		t.Errorf("RetryAfter = %v, platform %q; want 7m from estimated_time_to_regain_access, %q", th.RetryAfter, th.Platform, Platform)
	}
	if time.Since(start) > 500*time.Millisecond {
		t.Errorf("client slept on a 7-minute throttle instead of returning it")
	}
}

func TestRetriesExhaustedOnThrottleReturnsThrottledError(t *testing.T) {
	fake := NewFake(4)
	c := newTestClient(t, fake)
	c.MaxRetries = 2
	fake.FailNext(ThrottleFault(613, 0), ThrottleFault(613, 0), ThrottleFault(613, 0), ThrottleFault(613, 0))

	_, err := c.CampaignDays(context.Background(), account, day("2026-03-01"), day("2026-03-02"))
	var th *connectors.ThrottledError
	if !errors.As(err, &th) || th.RetryAfter <= 0 {
		t.Fatalf("err = %v, want *connectors.ThrottledError with a back-off", err)
	}
	if st := fake.Stats(); st.Faults != 3 {
		t.Errorf("requests throttled = %d, want 3 (1 try + 2 retries)", st.Faults)
	}
}

func TestLimiterPacesRequests(t *testing.T) {
	fake := NewFake(5)
	c := newTestClient(t, fake)
	c.Limiter = rate.NewLimiter(rate.Every(20*time.Millisecond), 1)
	from, to := day("2026-03-01"), day("2026-03-04")

	start := time.Now()
	if _, err := c.CampaignDays(context.Background(), account, from, to); err != nil {
		t.Fatal(err)
	}
	n := fake.Stats().Requests
	if min := time.Duration(n-1) * 20 * time.Millisecond; time.Since(start) < min || n < 3 {
		t.Errorf("%d requests took %v, want >= %v", n, time.Since(start), min)
	}
}

func TestServerErrorIsRetried(t *testing.T) {
	fake := NewFake(6)
	c := newTestClient(t, fake)
	from, to := day("2026-03-01"), day("2026-03-05")
	got, err := c.CampaignDays(context.Background(), account, from, to)
	if err != nil {
		t.Fatal(err)
	}
	fake2 := NewFake(6)
	c2 := newTestClient(t, fake2)
	// The 500 hits the account lookup, the first request of the sync.
	fake2.FailNext(ServerErrorFault())
	got2, err := c2.CampaignDays(context.Background(), account, from, to)
	if err != nil {
		t.Fatalf("a single 500 failed the sync: %v", err)
	}
	checkRows(t, got2, got)
	if st := fake2.Stats(); st.Faults != 1 || st.Requests != fake.Stats().Requests+1 {
		t.Errorf("faults %d, requests %d; want 1 fault and one extra request", st.Faults, st.Requests)
	}
}

func TestPersistentServerErrorFails(t *testing.T) {
	fake := NewFake(6)
	c := newTestClient(t, fake)
	c.MaxRetries = 1
	fake.FailNext(ServerErrorFault(), ServerErrorFault())
	_, err := c.CampaignDays(context.Background(), account, day("2026-03-01"), day("2026-03-02"))
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusInternalServerError {
		t.Fatalf("err = %v, want the 500 as *APIError", err)
	}
}

func TestInvalidTokenFailsFast(t *testing.T) {
	fake := NewFake(7)
	c := newTestClient(t, fake)
	c.AccessToken = "not-the-token"

	_, err := c.CampaignDays(context.Background(), account, day("2026-03-01"), day("2026-03-02"))
	if !errors.Is(err, connectors.ErrReauthorize) {
		t.Fatalf("err = %v, want ErrReauthorize", err)
	}
	if st := fake.Stats(); st.Requests != 1 {
		t.Errorf("requests = %d, want 1: an invalid token must not be retried", st.Requests)
	}
}

// Meta long-lived tokens cannot be refreshed, so a token expiring mid-sync ends
// the sync with ErrReauthorize and no partial rows.
func TestTokenExpiringMidSyncNeedsReauthorisation(t *testing.T) {
	fake := NewFake(8)
	c := newTestClient(t, fake)
	fake.ExpireTokenAfter(3) // account lookup and two pages succeed

	rows, err := c.CampaignDays(context.Background(), account, day("2026-03-01"), day("2026-03-07"))
	if !errors.Is(err, connectors.ErrReauthorize) {
		t.Fatalf("err = %v, want ErrReauthorize", err)
	}
	if rows != nil {
		t.Errorf("got %d partial rows, want none", len(rows))
	}
	if st := fake.Stats(); st.Requests != 4 || st.AuthFailures != 1 {
		t.Errorf("requests %d, auth failures %d; want 4 and 1 (no retry after 190)", st.Requests, st.AuthFailures)
	}
}

func TestRerunProducesIdenticalRows(t *testing.T) {
	from, to := day("2026-02-01"), day("2026-02-28") // async path
	fake := NewFake(9)
	c := newTestClient(t, fake)
	first, err := c.CampaignDays(context.Background(), account, from, to)
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.CampaignDays(context.Background(), account, from, to)
	if err != nil {
		t.Fatal(err)
	}
	// A fresh fake with the same seed stands for a restarted platform.
	third, err := newTestClient(t, NewFake(9)).CampaignDays(context.Background(), account, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) == 0 || !reflect.DeepEqual(first, second) || !reflect.DeepEqual(first, third) {
		t.Fatalf("reruns differ: %d, %d, %d rows", len(first), len(second), len(third))
	}
	// Sync and async reads of one range agree too.
	c.AsyncAfterDays = 100
	sync, err := c.CampaignDays(context.Background(), account, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(first, sync) {
		t.Fatal("sync read differs from async read")
	}
}

func TestCurrencyComesFromTheAccount(t *testing.T) {
	fake := NewFake(10)
	c := newTestClient(t, fake)
	seen := map[string]bool{}
	for _, acct := range []string{"1", "2", "3", "4", "5", "6", "7", "8"} {
		rows, err := c.CampaignDays(context.Background(), acct, day("2026-03-01"), day("2026-03-01"))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if r.Currency != fake.AccountCurrency(acct) {
				t.Fatalf("act_%s row currency %q, want %q", acct, r.Currency, fake.AccountCurrency(acct))
			}
			seen[r.Currency] = true
		}
	}
	if len(seen) < 2 {
		t.Errorf("all accounts had one currency %v; the test cannot tell them apart", seen)
	}
}

func TestParseMicros(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"5339.5", 5_339_500_000, true},
		{"0.29", 290_000, true}, // 0.29*1e6 as float64 truncates to 289999
		{"0.57", 570_000, true},
		{"12", 12_000_000, true},
		{"0.000001", 1, true},
		{"1.2300000", 1_230_000, true},
		{"-4.01", -4_010_000, true},
		{".5", 500_000, true},
		{"", 0, true},
		{"9223372036854.775807", 9223372036854775807, true},
		{"9223372036854.775808", 0, false},
		{"1.0000001", 0, false},
		{"1e3", 0, false},
		{"1,5", 0, false},
		{"-", 0, false},
		{".", 0, false},
	} {
		got, err := parseMicros(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseMicros(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestPurchaseIsNotDoubleCounted(t *testing.T) {
	r := insightRow{
		CampaignID: "1", DateStart: "2026-03-01", DateStop: "2026-03-01", Spend: "1.1",
		Actions: []action{{"offsite_conversion.fb_pixel_purchase", "3"}, {"purchase", "3"}, {"link_click", "40"}},
		ActionValues: []action{
			{"offsite_conversion.fb_pixel_purchase", "59.97"}, {"purchase", "59.97"},
		},
	}
	d, err := r.normalise("1", "EUR")
	if err != nil {
		t.Fatal(err)
	}
	if d.Conversions != 3 || d.RevenueMicros != 59_970_000 || d.CostMicros != 1_100_000 {
		t.Errorf("got conversions %v revenue %d cost %d; want 3, 59970000, 1100000", d.Conversions, d.RevenueMicros, d.CostMicros)
	}
}

func TestFailedReportRunIsAnError(t *testing.T) {
	fake := NewFake(11)
	fake.FailReportRuns = true
	c := newTestClient(t, fake)
	_, err := c.CampaignDays(context.Background(), account, day("2026-01-01"), day("2026-01-31"))
	if err == nil || !strings.Contains(err.Error(), "Job Failed") {
		t.Fatalf("err = %v, want the failed report run", err)
	}
	if st := fake.Stats(); st.ReportPages != 0 {
		t.Errorf("read %d pages of a failed run", st.ReportPages)
	}
}

func TestCancelDuringThrottleWaitStops(t *testing.T) {
	fake := NewFake(12)
	c := newTestClient(t, fake)
	c.Backoff = time.Minute
	c.MaxWait = time.Hour
	fake.FailNext(ThrottleFault(4, 0))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()

	start := time.Now()
	_, err := c.CampaignDays(ctx, account, day("2026-03-01"), day("2026-03-01"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	if time.Since(start) > time.Second {
		t.Error("the back-off ignored the context")
	}
}

func TestHeavyPageIsHalvedUntilItFits(t *testing.T) {
	fake := NewFake(13)
	fake.MaxPageSize = 3
	c := newTestClient(t, fake)
	c.PageSize = 12
	from, to := day("2026-03-01"), day("2026-03-06")

	got, err := c.CampaignDays(context.Background(), account, from, to)
	if err != nil {
		t.Fatal(err)
	}
	exp := want(fake, account, from, to)
	checkRows(t, got, exp)
	// 12 -> 6 -> 3 costs two failed requests, then the page size stays at 3.
	if st := fake.Stats(); st.SyncPages != (len(exp)+2)/3 {
		t.Errorf("sync pages = %d, want %d pages of 3", st.SyncPages, (len(exp)+2)/3)
	}
}
