package connectors

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// Response is one HTTP answer, read in full so a classifier can look at the body
// and the caller can decode it after the loop.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Outcome is what the retry loop does with a response.
type Outcome int

const (
	// Done: success, return the response.
	Done Outcome = iota
	// Retry: transient (5xx, an unparseable answer); retried with back-off.
	Retry
	// Refresh: the access token was refused. The loop drops it and tries once
	// more with a new one; refused again (or with no token source) it becomes
	// Reauthorize.
	Refresh
	// Reauthorize: the grant or credentials are refused; only a person can fix it.
	Reauthorize
	// Throttle: the platform asked to slow down.
	Throttle
	// Fail: a permanent error, returned as it is.
	Fail
)

// Verdict is a classifier's judgement of one response.
type Verdict struct {
	Outcome Outcome
	// Err describes a response that is not Done (usually the platform's
	// *APIError); it is wrapped into what Do returns and becomes the Detail of a
	// *ThrottledError.
	Err error
	// RetryAfter is the wait the platform named for a Throttle, if Hinted. A
	// hinted zero ("Retry-After: 0") is a real answer, distinct from no hint.
	RetryAfter time.Duration
	Hinted     bool
}

// Succeeded is the verdict for a response to return.
func Succeeded() Verdict { return Verdict{Outcome: Done} }

// Transient is the verdict for a failure worth retrying (5xx, unreadable answer).
func Transient(err error) Verdict { return Verdict{Outcome: Retry, Err: err} }

// TokenRefused is the verdict for an access token the API refused.
func TokenRefused(err error) Verdict { return Verdict{Outcome: Refresh, Err: err} }

// GrantRefused is the verdict for credentials only a person can fix.
func GrantRefused(err error) Verdict { return Verdict{Outcome: Reauthorize, Err: err} }

// Permanent is the verdict for an error that retrying cannot fix.
func Permanent(err error) Verdict { return Verdict{Outcome: Fail, Err: err} }

// ThrottledNoHint is the verdict for a throttle that names no wait.
func ThrottledNoHint(err error) Verdict { return Verdict{Outcome: Throttle, Err: err} }

// ThrottledFor is the verdict for a throttle asking to wait d.
func ThrottledFor(err error, d time.Duration) Verdict {
	return Verdict{Outcome: Throttle, Err: err, RetryAfter: d, Hinted: true}
}

// Classifier judges one response. It may also decode the body into the caller's
// result (a closure), since some platforms put errors inside a 200 body.
type Classifier func(*Response) Verdict

// TokenSource supplies bearer tokens and drops one the API refused, which
// oauth2.ReuseTokenSource cannot do.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
	Invalidate(token string)
}

// Doer is the request plumbing every platform client shares: pace with the limiter,
// attach a bearer token, send, classify the answer, and retry, refresh or wait
// according to the verdict. It holds no per-call state and is safe for concurrent
// use; platform differences live in Classify and the knobs below.
type Doer struct {
	Platform string        // ThrottledError.Platform
	HTTP     *http.Client  // http.DefaultClient if nil
	Limiter  *rate.Limiter // paces every attempt; nil means unpaced
	Tokens   TokenSource   // bearer tokens; nil when credentials come with the Request
	Classify Classifier    // DefaultClassify if nil; Request.Classify overrides

	MaxRetries int           // retries of Retry verdicts and transport errors
	Backoff    time.Duration // first retry back-off, doubled after each retry
	MaxBackoff time.Duration // cap on the back-off; 0 means none
	// ThrottleBackoff is the wait for a throttle that names none; zero means the
	// current retry back-off.
	ThrottleBackoff time.Duration
	// MaxThrottleWaits is how many throttles are waited out in-process; zero
	// returns *ThrottledError at once, for callers that wait at a higher level.
	MaxThrottleWaits int
	// MaxWait: a throttle asking for longer is returned rather than slept on, so a
	// workflow can sleep durably instead. Zero means no cap.
	MaxWait time.Duration
	// SharedBudget makes throttle waits count against MaxRetries (instead of
	// MaxThrottleWaits) and double the back-off like retries do.
	SharedBudget bool
	// MaxBody caps how much of a body is read; 0 means no cap.
	MaxBody int64
	// Sleep waits between attempts; connectors.Sleep if nil. Tests record delays.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Request is one logical call; Do may send it several times.
type Request struct {
	Method string
	URL    string
	Body   []byte      // resent on every attempt; nil for none
	Header http.Header // set on every attempt
	// Auth sets static credentials (Basic, an API key); Doer.Tokens, if set,
	// adds the bearer token after it.
	Auth     func(*http.Request)
	Classify Classifier // overrides Doer.Classify for this call
}

// attemptState is what the loop carries between attempts of one call.
type attemptState struct {
	retries, waits int
	backoff        time.Duration
	refreshed      bool
}

// Do sends req until a verdict ends the call. It returns the Done response; or
// an error wrapping ErrReauthorize, a bare *ThrottledError, the classifier's error
// for Fail, or "giving up after N attempts" once retries are spent.
func (d *Doer) Do(ctx context.Context, req Request) (*Response, error) {
	classify := req.Classify
	if classify == nil {
		classify = d.Classify
	}
	if classify == nil {
		classify = DefaultClassify
	}
	st := &attemptState{backoff: d.Backoff}
	for {
		if d.Limiter != nil {
			if err := d.Limiter.Wait(ctx); err != nil {
				return nil, fmt.Errorf("rate limiter: %w", err)
			}
		}
		token := ""
		if d.Tokens != nil {
			var err error
			if token, err = d.Tokens.Token(ctx); err != nil {
				return nil, err
			}
		}
		resp, err := d.send(ctx, req, token)
		var v Verdict
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL, ctx.Err())
			}
			v = Transient(err) // transport errors are as transient as a 5xx
		} else {
			v = classify(resp)
		}
		again, err := d.next(ctx, st, v, token)
		if err != nil {
			return nil, err
		}
		if !again {
			return resp, nil
		}
	}
}

// next acts on a verdict: it reports whether to send again (after any wait) and
// the error to return when not.
func (d *Doer) next(ctx context.Context, st *attemptState, v Verdict, token string) (bool, error) {
	switch v.Outcome {
	case Done:
		return false, nil
	case Refresh:
		// A token that looked valid was refused (expired early, revoked): one
		// fresh token may fix it, a second refusal means the grant is bad.
		if d.Tokens != nil && !st.refreshed {
			st.refreshed = true
			d.Tokens.Invalidate(token)
			return true, nil
		}
		return false, reauthorize(v.Err)
	case Reauthorize:
		return false, reauthorize(v.Err)
	case Throttle:
		return d.throttled(ctx, st, v)
	case Retry:
		return d.retry(ctx, st, v.Err)
	default:
		if v.Err == nil {
			return false, errors.New("request failed")
		}
		return false, v.Err
	}
}

// reauthorize makes err say ErrReauthorize, once.
func reauthorize(err error) error {
	switch {
	case err == nil:
		return ErrReauthorize
	case errors.Is(err, ErrReauthorize):
		return err
	}
	return fmt.Errorf("%w: %w", ErrReauthorize, err)
}

// throttled waits out a throttle within budget, or returns it as *ThrottledError.
func (d *Doer) throttled(ctx context.Context, st *attemptState, v Verdict) (bool, error) {
	delay := v.RetryAfter
	if !v.Hinted {
		delay = d.ThrottleBackoff
		if delay == 0 {
			delay = st.backoff
		}
	}
	te := &ThrottledError{Platform: d.Platform, RetryAfter: delay}
	if v.Err != nil {
		te.Detail = v.Err.Error()
	}
	used, budget := st.waits, d.MaxThrottleWaits
	if d.SharedBudget {
		used, budget = st.retries, d.MaxRetries
	}
	if used >= budget || (d.MaxWait > 0 && delay > d.MaxWait) {
		return false, te
	}
	if d.SharedBudget {
		st.retries++
		st.backoff = d.grow(st.backoff)
	} else {
		st.waits++
	}
	if err := d.sleep(ctx, delay); err != nil {
		return false, fmt.Errorf("waiting out throttle: %w", err)
	}
	return true, nil
}

// retry backs off before another attempt, or gives up once MaxRetries are spent.
func (d *Doer) retry(ctx context.Context, st *attemptState, cause error) (bool, error) {
	if st.retries >= d.MaxRetries {
		return false, fmt.Errorf("giving up after %d attempts: %w", st.retries+1, cause)
	}
	st.retries++
	wait := st.backoff
	st.backoff = d.grow(st.backoff)
	if err := d.sleep(ctx, wait); err != nil {
		return false, fmt.Errorf("waiting to retry: %w", err)
	}
	return true, nil
}

func (d *Doer) grow(b time.Duration) time.Duration {
	b *= 2
	if d.MaxBackoff > 0 && b > d.MaxBackoff {
		b = d.MaxBackoff
	}
	return b
}

func (d *Doer) sleep(ctx context.Context, wait time.Duration) error {
	if d.Sleep != nil {
		return d.Sleep(ctx, wait)
	}
	return Sleep(ctx, wait)
}

// send makes one attempt and reads the whole body.
func (d *Doer) send(ctx context.Context, r Request, token string) (*Response, error) {
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	for k, vs := range r.Header {
		req.Header[http.CanonicalHeaderKey(k)] = vs
	}
	if r.Auth != nil {
		r.Auth(req)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	hc := d.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err // *url.Error already names the method and URL
	}
	defer resp.Body.Close()
	var rd io.Reader = resp.Body
	if d.MaxBody > 0 {
		rd = io.LimitReader(resp.Body, d.MaxBody)
	}
	data, err := io.ReadAll(rd)
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", r.Method, r.URL, err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// StatusError is the error DefaultClassify gives a non-2xx answer.
type StatusError struct {
	Status int
	Body   string // the start of the body
}

func (e *StatusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Body) }

// DefaultClassify judges by status alone: 2xx done, 401 refresh, 403 reauthorise,
// 429 throttle (for Retry-After if sent), 5xx retry, anything else fails.
func DefaultClassify(r *Response) Verdict {
	err := &StatusError{Status: r.Status, Body: fmt.Sprintf("%.200s", r.Body)}
	switch {
	case r.Status >= 200 && r.Status < 300:
		return Succeeded()
	case r.Status == http.StatusUnauthorized:
		return TokenRefused(err)
	case r.Status == http.StatusForbidden:
		return GrantRefused(err)
	case r.Status == http.StatusTooManyRequests:
		if d, ok := RetryAfter(r.Header); ok {
			return ThrottledFor(err, d)
		}
		return ThrottledNoHint(err)
	case r.Status >= 500:
		return Transient(err)
	default:
		return Permanent(err)
	}
}

// RetryAfter reads a Retry-After header, in seconds or as an HTTP date.
func RetryAfter(h http.Header) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

// WaitOutThrottles runs fn, and runs it again after sleeping for the delay of each
// *ThrottledError it returns, up to maxWaits times. Clients whose calls return
// throttles (so a workflow may sleep durably) use it where waiting in-process is
// cheaper than re-reading finished work.
func WaitOutThrottles(ctx context.Context, maxWaits int, fn func() error) error {
	for waits := 0; ; waits++ {
		err := fn()
		var te *ThrottledError
		if !errors.As(err, &te) || waits >= maxWaits {
			return err
		}
		if err := Sleep(ctx, te.RetryAfter); err != nil {
			return fmt.Errorf("%s: waiting out throttle: %w", te.Platform, err)
		}
	}
}
