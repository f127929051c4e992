package connectors

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/time/rate"
)

// script answers request i with statuses[i] (the last one repeating), with
// Retry-After set when retryAfter is not empty, and counts requests.
type script struct {
	statuses   []int
	retryAfter string
	calls      atomic.Int32
	auth       []string // Authorization header of each request
	mu         sync.Mutex
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := int(s.calls.Add(1)) - 1
	s.mu.Lock()
	s.auth = append(s.auth, r.Header.Get("Authorization"))
	s.mu.Unlock()
	st := s.statuses[min(i, len(s.statuses)-1)]
	if st == http.StatusTooManyRequests && s.retryAfter != "" {
		w.Header().Set("Retry-After", s.retryAfter)
	}
	w.WriteHeader(st)
	_, _ = w.Write([]byte(`{"n":` + strconv.Itoa(i) + `}`))
}

// recorder is a Doer.Sleep that records each wait instead of sleeping.
type recorder struct{ waits []time.Duration }

func (r *recorder) sleep(ctx context.Context, d time.Duration) error {
	r.waits = append(r.waits, d)
	return ctx.Err()
}

// fakeTokens hands out "t1", "t2", ... and counts invalidations.
type fakeTokens struct {
	mu          sync.Mutex
	n           int
	current     string
	invalidated []string
}

func (f *fakeTokens) Token(context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.current == "" {
		f.n++
		f.current = "t" + strconv.Itoa(f.n)
	}
	return f.current, nil
}

func (f *fakeTokens) Invalidate(token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.invalidated = append(f.invalidated, token)
	if f.current == token {
		f.current = ""
	}
}

func newDoer(t *testing.T, s *script) (*Doer, *recorder, string) {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	rec := &recorder{}
	return &Doer{
		Platform:        "test",
		HTTP:            srv.Client(),
		MaxRetries:      3,
		Backoff:         10 * time.Millisecond,
		ThrottleBackoff: time.Minute,
		Sleep:           rec.sleep,
	}, rec, srv.URL
}

func get(url string) Request { return Request{Method: http.MethodGet, URL: url} }

func TestDoRetriesServerErrorsThenSucceeds(t *testing.T) {
	s := &script{statuses: []int{500, 503, 200}}
	d, rec, url := newDoer(t, s)
	resp, err := d.Do(context.Background(), get(url))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 200 || string(resp.Body) != `{"n":2}` {
		t.Errorf("got %d %s, want the third answer", resp.Status, resp.Body)
	}
	if want := []time.Duration{10 * time.Millisecond, 20 * time.Millisecond}; !slices.Equal(rec.waits, want) {
		t.Errorf("waits %v, want doubling back-off %v", rec.waits, want)
	}
}

func TestDoGivesUpAfterMaxRetries(t *testing.T) {
	s := &script{statuses: []int{502}}
	d, _, url := newDoer(t, s)
	d.MaxRetries = 2
	_, err := d.Do(context.Background(), get(url))
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 502 {
		t.Fatalf("err = %v, want the 502 as *StatusError", err)
	}
	if n := s.calls.Load(); n != 3 {
		t.Errorf("requests = %d, want 3 (1 try + 2 retries)", n)
	}
}

func TestDoDoesNotRetryClientErrors(t *testing.T) {
	s := &script{statuses: []int{400, 200}}
	d, rec, url := newDoer(t, s)
	if _, err := d.Do(context.Background(), get(url)); err == nil || errors.Is(err, ErrReauthorize) {
		t.Fatalf("err = %v, want a plain failure", err)
	}
	if n := s.calls.Load(); n != 1 || len(rec.waits) != 0 {
		t.Errorf("requests %d, waits %v; want 1 and none", n, rec.waits)
	}
}

func TestDoRetriesTransportErrors(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			// Promise more body than is sent: the client sees a truncated read.
			w.Header().Set("Content-Length", "100")
			_, _ = w.Write([]byte("{"))
			return
		}
		_, _ = w.Write([]byte("{}"))
	}))
	t.Cleanup(srv.Close)
	rec := &recorder{}
	d := &Doer{HTTP: srv.Client(), MaxRetries: 1, Backoff: time.Millisecond, Sleep: rec.sleep}
	if _, err := d.Do(context.Background(), get(srv.URL)); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 || len(rec.waits) != 1 {
		t.Errorf("requests %d, waits %v; want 2 and one back-off", calls.Load(), rec.waits)
	}
}

func TestDoRefreshesTokenOnceOn401(t *testing.T) {
	s := &script{statuses: []int{401, 200}}
	d, rec, url := newDoer(t, s)
	tokens := &fakeTokens{}
	d.Tokens = tokens
	if _, err := d.Do(context.Background(), get(url)); err != nil {
		t.Fatal(err)
	}
	if want := []string{"Bearer t1", "Bearer t2"}; !slices.Equal(s.auth, want) {
		t.Errorf("Authorization headers %v, want %v", s.auth, want)
	}
	if !slices.Equal(tokens.invalidated, []string{"t1"}) {
		t.Errorf("invalidated %v, want [t1]", tokens.invalidated)
	}
	if len(rec.waits) != 0 {
		t.Errorf("waited %v before the refresh, want no back-off", rec.waits)
	}
}

func TestDoSecond401NeedsReauthorisation(t *testing.T) {
	s := &script{statuses: []int{401}}
	d, _, url := newDoer(t, s)
	tokens := &fakeTokens{}
	d.Tokens = tokens
	_, err := d.Do(context.Background(), get(url))
	if !errors.Is(err, ErrReauthorize) {
		t.Fatalf("err = %v, want ErrReauthorize", err)
	}
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 401 {
		t.Errorf("err = %v, want the 401 kept as detail", err)
	}
	if n := s.calls.Load(); n != 2 || len(tokens.invalidated) != 1 {
		t.Errorf("requests %d, invalidations %d; want 2 and 1", n, len(tokens.invalidated))
	}
}

func TestDo401WithoutTokenSourceNeedsReauthorisation(t *testing.T) {
	s := &script{statuses: []int{401, 200}}
	d, _, url := newDoer(t, s)
	if _, err := d.Do(context.Background(), get(url)); !errors.Is(err, ErrReauthorize) {
		t.Fatalf("err = %v, want ErrReauthorize", err)
	}
	if n := s.calls.Load(); n != 1 {
		t.Errorf("requests = %d, want 1: static credentials cannot be refreshed", n)
	}
}

func TestDoWaitsRetryAfterThenSucceeds(t *testing.T) {
	s := &script{statuses: []int{429, 200}, retryAfter: "2"}
	d, rec, url := newDoer(t, s)
	d.MaxThrottleWaits = 1
	if _, err := d.Do(context.Background(), get(url)); err != nil {
		t.Fatal(err)
	}
	if want := []time.Duration{2 * time.Second}; !slices.Equal(rec.waits, want) {
		t.Errorf("waits %v, want the Retry-After %v", rec.waits, want)
	}
}

func TestDoRetryAfterZeroIsNotMissing(t *testing.T) {
	s := &script{statuses: []int{429, 200}, retryAfter: "0"}
	d, rec, url := newDoer(t, s)
	d.MaxThrottleWaits = 1
	if _, err := d.Do(context.Background(), get(url)); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rec.waits, []time.Duration{0}) {
		t.Errorf("waits %v, want [0], not ThrottleBackoff", rec.waits)
	}
}

func TestDoReturnsThrottleWhenNotWaiting(t *testing.T) {
	s := &script{statuses: []int{429}}
	d, rec, url := newDoer(t, s)
	_, err := d.Do(context.Background(), get(url))
	var te *ThrottledError
	if !errors.As(err, &te) || te.Platform != "test" || te.RetryAfter != time.Minute {
		t.Fatalf("err = %v, want *ThrottledError after ThrottleBackoff", err)
	}
	if s.calls.Load() != 1 || len(rec.waits) != 0 {
		t.Errorf("requests %d, waits %v; want 1 and none", s.calls.Load(), rec.waits)
	}
}

func TestDoReturnsThrottleLongerThanMaxWait(t *testing.T) {
	s := &script{statuses: []int{429}, retryAfter: "3600"}
	d, rec, url := newDoer(t, s)
	d.MaxThrottleWaits, d.MaxWait = 5, time.Minute
	_, err := d.Do(context.Background(), get(url))
	var te *ThrottledError
	if !errors.As(err, &te) || te.RetryAfter != time.Hour {
		t.Fatalf("err = %v, want the hour-long throttle returned", err)
	}
	if len(rec.waits) != 0 {
		t.Errorf("waited %v, want none", rec.waits)
	}
}

func TestDoSharedBudget(t *testing.T) {
	// Meta's policy: throttles and retries draw on MaxRetries together, a
	// throttle without a hint waits the current back-off, and both double it.
	s := &script{statuses: []int{429, 500, 429, 429}}
	d, rec, url := newDoer(t, s)
	d.MaxRetries, d.ThrottleBackoff, d.SharedBudget = 3, 0, true
	d.MaxBackoff, d.MaxWait = 40*time.Millisecond, time.Second
	_, err := d.Do(context.Background(), get(url))
	var te *ThrottledError
	if !errors.As(err, &te) || te.RetryAfter != 40*time.Millisecond {
		t.Fatalf("err = %v, want *ThrottledError at the capped back-off", err)
	}
	if want := []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond}; !slices.Equal(rec.waits, want) {
		t.Errorf("waits %v, want %v", rec.waits, want)
	}
	if n := s.calls.Load(); n != 4 {
		t.Errorf("requests = %d, want 4 (1 try + 3 retries)", n)
	}
}

func TestDoClassifierDecidesOnBody(t *testing.T) {
	s := &script{statuses: []int{200}}
	d, _, url := newDoer(t, s)
	req := get(url)
	// A 200 whose body carries an error, as Google's searchStream can send.
	req.Classify = func(r *Response) Verdict {
		if string(r.Body) == `{"n":0}` {
			return GrantRefused(errors.New("error inside a 200"))
		}
		return Succeeded()
	}
	if _, err := d.Do(context.Background(), req); !errors.Is(err, ErrReauthorize) {
		t.Fatalf("err = %v, want the classifier's ErrReauthorize", err)
	}
}

func TestDoCancelStopsWaiting(t *testing.T) {
	for name, s := range map[string]*script{
		"back-off": {statuses: []int{503}},
		"throttle": {statuses: []int{429}, retryAfter: "3600"},
	} {
		t.Run(name, func(t *testing.T) {
			d, _, url := newDoer(t, s)
			d.Backoff, d.MaxThrottleWaits = time.Hour, 1
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			// Cancel as the hour-long wait starts; the real Sleep must return.
			d.Sleep = func(ctx context.Context, wait time.Duration) error {
				cancel()
				return Sleep(ctx, wait)
			}
			_, err := d.Do(ctx, get(url))
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			if n := s.calls.Load(); n != 1 {
				t.Errorf("requests = %d, want 1", n)
			}
		})
	}
}

func TestDoLimiterErrorStops(t *testing.T) {
	s := &script{statuses: []int{200}}
	d, _, url := newDoer(t, s)
	d.Limiter = rate.NewLimiter(rate.Every(time.Hour), 1)
	d.Limiter.Allow() // spend the burst: the next request waits an hour
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Do(ctx, get(url)); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if n := s.calls.Load(); n != 0 {
		t.Errorf("requests = %d, want none past the limiter", n)
	}
}

func TestRetryAfter(t *testing.T) {
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		header string
		ok     bool
		min    time.Duration
		max    time.Duration
	}{
		{"", false, 0, 0},
		{"7", true, 7 * time.Second, 7 * time.Second},
		{" 0 ", true, 0, 0},
		{"-1", false, 0, 0},
		{"soon", false, 0, 0},
		{future, true, 58 * time.Minute, time.Hour},
	} {
		h := http.Header{}
		if tc.header != "" {
			h.Set("Retry-After", tc.header)
		}
		d, ok := RetryAfter(h)
		if ok != tc.ok || d < tc.min || d > tc.max {
			t.Errorf("RetryAfter(%q) = %v, %v; want %v in [%v, %v]", tc.header, d, ok, tc.ok, tc.min, tc.max)
		}
	}
}

func TestWaitOutThrottles(t *testing.T) {
	calls := 0
	err := WaitOutThrottles(context.Background(), 2, func() error {
		calls++
		if calls < 3 {
			return &ThrottledError{Platform: "test", RetryAfter: time.Millisecond}
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("err %v after %d calls, want success on the third", err, calls)
	}
	calls = 0
	err = WaitOutThrottles(context.Background(), 1, func() error {
		calls++
		return &ThrottledError{Platform: "test", RetryAfter: time.Millisecond}
	})
	var te *ThrottledError
	if !errors.As(err, &te) || calls != 2 {
		t.Errorf("err %v after %d calls, want the throttle after 2", err, calls)
	}
}

func TestCachedTokensInvalidateOnlyCurrent(t *testing.T) {
	n := 0
	ct := &CachedTokens{Fetch: func(context.Context) (*oauth2.Token, error) {
		n++
		return &oauth2.Token{AccessToken: "t" + strconv.Itoa(n), Expiry: time.Now().Add(time.Hour)}, nil
	}}
	ctx := context.Background()
	first, _ := ct.Token(ctx)
	ct.Invalidate(first)
	second, _ := ct.Token(ctx)
	ct.Invalidate(first) // a late caller refused the old token: keep the new one
	third, _ := ct.Token(ctx)
	if first != "t1" || second != "t2" || third != "t2" || n != 2 {
		t.Errorf("tokens %s %s %s after %d fetches, want t1 t2 t2 after 2", first, second, third, n)
	}
}

func TestRefreshTokensRefusedGrant(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
	}))
	t.Cleanup(srv.Close)
	cfg := &oauth2.Config{ClientID: "id", Endpoint: oauth2.Endpoint{TokenURL: srv.URL, AuthStyle: oauth2.AuthStyleInParams}}
	_, err := NewRefreshTokens(cfg, "refresh", srv.Client()).Token(context.Background())
	if !errors.Is(err, ErrReauthorize) {
		t.Fatalf("err = %v, want ErrReauthorize", err)
	}
}
