// Package meta reads campaign-level daily performance from the Meta (Facebook)
// Marketing API insights endpoint and normalises it into connectors.CampaignDay.
//
// Tokens: Meta has no refresh flow for the long-lived (~60-day) user tokens or
// system-user tokens a connection stores, so there is nothing to refresh. A token
// that expires or is revoked, including in the middle of a sync, surfaces as
// connectors.ErrReauthorize (Graph error code 190) and the sync stops without
// returning partial rows; a person must connect the account again.
package meta

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/touchpoint/touchpoint/connectors"
)

// Platform is the CampaignDay.Platform value for Meta rows.
const Platform = "meta"

// DefaultRate is the client-side request rate. The binding Meta limit for insights
// is the ads_insights business-use-case quota: about 600 calls an hour plus 400 per
// active ad on standard access. Its floor, 600/hour, is one call every 6 seconds;
// the burst of 10 lets a small sync finish at once while the sustained pace stays
// under the floor for any account size.
var DefaultRate = rate.Every(6 * time.Second)

// DefaultBurst goes with DefaultRate.
const DefaultBurst = 10

// insightsFields are the fields requested from the insights edge.
var insightsFields = []string{
	"account_id", "campaign_id", "campaign_name", "impressions", "clicks",
	"spend", "actions", "action_values",
}

// Client reads insights for ad accounts with one access token. A Client is safe
// for concurrent use; its limiter is shared by all calls, so give each token its
// own Client.
type Client struct {
	// BaseURL is the Graph host, e.g. https://graph.facebook.com.
	BaseURL string
	// Version is the Graph API version path segment, e.g. "v23.0".
	Version string
	// AccessToken is the long-lived user or system-user token.
	AccessToken string
	// HTTPClient sends requests; http.DefaultClient when nil.
	HTTPClient *http.Client
	// Limiter paces every request, retries included; nil means unpaced.
	Limiter *rate.Limiter

	// PageSize is the limit parameter; Airbyte and Meta's examples use 100.
	PageSize int
	// AsyncAfterDays: ranges spanning more days than this use an async report
	// run, because synchronous insights over long ranges time out or are refused
	// with "reduce the amount of data".
	AsyncAfterDays int
	// PollInterval is the wait between report-run status polls.
	PollInterval time.Duration
	// AsyncTimeout bounds how long a report run may take before giving up.
	AsyncTimeout time.Duration

	// MaxRetries is how many times a throttled, 5xx or transient request is
	// retried before the error is returned.
	MaxRetries int
	// Backoff is the first retry delay; it doubles on each further retry.
	Backoff time.Duration
	// MaxWait is the longest wait the client does in-process. A throttle asking
	// for longer is returned as *connectors.ThrottledError, so that the workflow
	// can sleep durably instead of holding an activity open.
	MaxWait time.Duration
}

// New returns a Client with production defaults.
func New(baseURL, version, accessToken string) *Client {
	return &Client{
		BaseURL:        strings.TrimRight(baseURL, "/"),
		Version:        version,
		AccessToken:    accessToken,
		Limiter:        rate.NewLimiter(DefaultRate, DefaultBurst),
		PageSize:       100,
		AsyncAfterDays: 7,
		PollInterval:   5 * time.Second,
		AsyncTimeout:   60 * time.Minute, // Airbyte's default insights_job_timeout
		MaxRetries:     5,
		Backoff:        5 * time.Second,
		MaxWait:        2 * time.Minute,
	}
}

// APIError is a Graph API error response that is neither an auth nor a throttle
// error (those map to connectors.ErrReauthorize and *connectors.ThrottledError).
type APIError struct {
	Status    int
	Code      int    `json:"code"`
	Subcode   int    `json:"error_subcode"`
	Type      string `json:"type"`
	Message   string `json:"message"`
	Transient bool   `json:"is_transient"`
	TraceID   string `json:"fbtrace_id"`
}

func (e *APIError) Error() string {
	return fmt.Sprintf("meta: HTTP %d, code %d/%d (%s): %s [trace %s]",
		e.Status, e.Code, e.Subcode, e.Type, e.Message, e.TraceID)
}

// retryable reports whether the same request may succeed later: 5xx, and the codes
// Meta marks transient (1, 2, is_transient) or Airbyte retries (104, 960 batch
// timeout). A page too heavy to compute fails the same way every time, so it is
// left to pages to ask for fewer rows.
func (e *APIError) retryable() bool {
	if e.tooMuchData() {
		return false
	}
	return e.Status >= 500 || e.Transient || e.Code == 1 || e.Code == 2 || e.Code == 104 || e.Code == 960
}

// tooMuchData is Meta's HTTP 500 asking for a smaller page.
func (e *APIError) tooMuchData() bool {
	return e.Status >= 500 && strings.Contains(e.Message, "reduce the amount of data")
}

// throttleCodes are the rate-limit error codes: app (4), user (17), API method
// (32), ad account (613) and business-use-case (80000-80014) limits.
func isThrottle(code int) bool {
	return code == 4 || code == 17 || code == 32 || code == 613 || (code >= 80000 && code <= 80014)
}

// CampaignDays returns one row per campaign and day with delivery in [from, to]
// (dates inclusive, read as calendar days in the account's timezone), sorted by
// date then campaign id. Ranges longer than AsyncAfterDays go through an async
// report run.
func (c *Client) CampaignDays(ctx context.Context, accountID string, from, to time.Time) ([]connectors.CampaignDay, error) {
	account := strings.TrimPrefix(accountID, "act_")
	if account == "" {
		return nil, errors.New("meta: empty account id")
	}
	since, until := from.Format(time.DateOnly), to.Format(time.DateOnly)
	if until < since {
		return nil, fmt.Errorf("meta: range %s..%s ends before it starts", since, until)
	}
	currency, err := c.currency(ctx, account)
	if err != nil {
		return nil, err
	}

	tr, err := json.Marshal(map[string]string{"since": since, "until": until})
	if err != nil {
		return nil, fmt.Errorf("meta: encode time_range: %w", err)
	}
	params := url.Values{
		"level":          {"campaign"},
		"time_increment": {"1"},
		"time_range":     {string(tr)},
		"fields":         {strings.Join(insightsFields, ",")},
		"limit":          {strconv.Itoa(c.PageSize)},
	}

	var raw []insightRow
	days := int(civilDay(to).Sub(civilDay(from)).Hours()/24) + 1
	if days > c.AsyncAfterDays {
		runID, err := c.startReportRun(ctx, account, params)
		if err != nil {
			return nil, err
		}
		if err := c.awaitReportRun(ctx, runID); err != nil {
			return nil, err
		}
		raw, err = c.pages(ctx, "/"+runID+"/insights", url.Values{"limit": {strconv.Itoa(c.PageSize)}})
		if err != nil {
			return nil, fmt.Errorf("meta: report run %s: %w", runID, err)
		}
	} else {
		raw, err = c.pages(ctx, "/act_"+account+"/insights", params)
		if err != nil {
			return nil, fmt.Errorf("meta: insights for act_%s: %w", account, err)
		}
	}

	out := make([]connectors.CampaignDay, 0, len(raw))
	for _, r := range raw {
		day, err := r.normalise(account, currency)
		if err != nil {
			return nil, fmt.Errorf("meta: act_%s campaign %s %s: %w", account, r.CampaignID, r.DateStart, err)
		}
		out = append(out, day)
	}
	// Sort so reruns compare equal whatever order the API or report run used.
	slices.SortFunc(out, func(a, b connectors.CampaignDay) int {
		if c := a.Date.Compare(b.Date); c != 0 {
			return c
		}
		return strings.Compare(a.CampaignID, b.CampaignID)
	})
	return out, nil
}

func civilDay(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// currency asks the account for its currency: insights amounts carry none.
func (c *Client) currency(ctx context.Context, account string) (string, error) {
	var acc struct {
		Currency string `json:"currency"`
	}
	if err := c.call(ctx, http.MethodGet, "/act_"+account, url.Values{"fields": {"currency"}}, &acc); err != nil {
		return "", fmt.Errorf("meta: currency of act_%s: %w", account, err)
	}
	if acc.Currency == "" {
		return "", fmt.Errorf("meta: act_%s has no currency", account)
	}
	return acc.Currency, nil
}

type page struct {
	Data   []insightRow `json:"data"`
	Paging struct {
		Cursors struct {
			After string `json:"after"`
		} `json:"cursors"`
		Next string `json:"next"`
	} `json:"paging"`
}

// pages reads every page of an insights edge. It follows cursors.after with its
// own parameters rather than fetching paging.next verbatim: next is a full URL
// that may point at another host and, from Meta, embeds the access token; the
// presence of next is only used as the "more rows" signal.
func (c *Client) pages(ctx context.Context, path string, params url.Values) ([]insightRow, error) {
	var rows []insightRow
	q := cloneValues(params)
	for {
		var p page
		if err := c.call(ctx, http.MethodGet, path, q, &p); err != nil {
			// Halve the page, as Airbyte does, until Meta can compute it; the
			// after cursor is kept, so no row is skipped or read twice.
			var apiErr *APIError
			if limit, _ := strconv.Atoi(q.Get("limit")); errors.As(err, &apiErr) && apiErr.tooMuchData() && limit > 1 {
				q.Set("limit", strconv.Itoa(limit/2))
				continue
			}
			return nil, err
		}
		rows = append(rows, p.Data...)
		if p.Paging.Next == "" || len(p.Data) == 0 {
			return rows, nil
		}
		if p.Paging.Cursors.After == "" || p.Paging.Cursors.After == q.Get("after") {
			return nil, fmt.Errorf("meta: %s: next page without a new after cursor", path)
		}
		q.Set("after", p.Paging.Cursors.After)
	}
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

func (c *Client) startReportRun(ctx context.Context, account string, params url.Values) (string, error) {
	var run struct {
		ID string `json:"report_run_id"`
	}
	if err := c.call(ctx, http.MethodPost, "/act_"+account+"/insights", params, &run); err != nil {
		return "", fmt.Errorf("meta: start report run for act_%s: %w", account, err)
	}
	if run.ID == "" {
		return "", fmt.Errorf("meta: start report run for act_%s: no report_run_id", account)
	}
	return run.ID, nil
}

// awaitReportRun polls a report run until Meta says it completed.
func (c *Client) awaitReportRun(ctx context.Context, runID string) error {
	ctx, cancel := context.WithTimeout(ctx, c.AsyncTimeout)
	defer cancel()
	for {
		var st struct {
			Status    string `json:"async_status"`
			Percent   int    `json:"async_percent_completion"`
			ErrorCode int    `json:"error_code"`
		}
		params := url.Values{"fields": {"async_status,async_percent_completion,error_code"}}
		if err := c.call(ctx, http.MethodGet, "/"+runID, params, &st); err != nil {
			return fmt.Errorf("meta: poll report run %s: %w", runID, err)
		}
		switch st.Status {
		case "Job Completed":
			return nil
		case "Job Failed", "Job Skipped":
			// A failed run is not retried here: Airbyte's answer is to split it by
			// campaign, which the caller can do by asking for shorter ranges.
			return fmt.Errorf("meta: report run %s: %s (error code %d)", runID, st.Status, st.ErrorCode)
		}
		if err := connectors.Sleep(ctx, c.PollInterval); err != nil {
			return fmt.Errorf("meta: report run %s at %d%%: %w", runID, st.Percent, err)
		}
	}
}

// call sends one Graph request, retrying throttles (when the wait is short), 5xx
// and transient errors, and decodes the JSON answer into out. Throttle waits and
// retries share MaxRetries, and the back-off doubles across both.
func (c *Client) call(ctx context.Context, method, path string, params url.Values, out any) error {
	req := connectors.Request{
		Method: method,
		URL:    c.BaseURL + "/" + c.Version + path,
		// The header keeps the token out of URLs that end up in logs and traces.
		Header:   http.Header{"Authorization": {"Bearer " + c.AccessToken}},
		Classify: classify(out),
	}
	if method == http.MethodPost {
		req.Body = []byte(params.Encode())
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else if len(params) > 0 {
		req.URL += "?" + params.Encode()
	}
	_, err := c.doer().Do(ctx, req)
	var throttled *connectors.ThrottledError
	if errors.As(err, &throttled) {
		return throttled
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

// doer is built per call from the exported fields, which callers may change
// between calls.
func (c *Client) doer() *connectors.Doer {
	return &connectors.Doer{
		Platform:   Platform,
		HTTP:       c.HTTPClient,
		Limiter:    c.Limiter,
		MaxRetries: c.MaxRetries,
		Backoff:    c.Backoff,
		MaxBackoff: c.MaxWait,
		// A throttle without a regain estimate waits the current back-off
		// (ThrottleBackoff zero); one asking for more than MaxWait is returned.
		MaxWait:      c.MaxWait,
		SharedBudget: true,
		MaxBody:      64 << 20,
	}
}

// classify judges a Graph answer, decoding a 2xx body into out. Long-lived tokens
// cannot be refreshed, so a rejected token (190) needs re-authorisation at once.
func classify(out any) connectors.Classifier {
	return func(r *connectors.Response) connectors.Verdict {
		if r.Status/100 == 2 {
			if err := json.Unmarshal(r.Body, out); err != nil {
				// Retried: a truncated answer is as transient as a reset.
				return connectors.Transient(fmt.Errorf("decode: %w", err))
			}
			return connectors.Succeeded()
		}
		apiErr := parseError(r)
		switch {
		case apiErr.Code == 190:
			return connectors.GrantRefused(apiErr)
		case isThrottle(apiErr.Code) || r.Status == http.StatusTooManyRequests:
			if wait := regainAfter(r.Header); wait > 0 {
				return connectors.ThrottledFor(apiErr, wait)
			}
			return connectors.ThrottledNoHint(apiErr)
		case apiErr.retryable():
			return connectors.Transient(apiErr)
		}
		return connectors.Permanent(apiErr)
	}
}

// parseError reads the Graph error envelope of a non-2xx answer.
func parseError(r *connectors.Response) *APIError {
	var env struct {
		Error *APIError `json:"error"`
	}
	if json.Unmarshal(r.Body, &env) != nil || env.Error == nil {
		// Not a Graph envelope (a proxy's HTML page, say): judge by status alone.
		env.Error = &APIError{Message: strings.TrimSpace(string(bytes.ToValidUTF8(r.Body[:min(len(r.Body), 200)], nil)))}
	}
	env.Error.Status = r.Status
	return env.Error
}

// regainAfter reads how long Meta says to wait from the usage headers: the largest
// estimated_time_to_regain_access (minutes) in X-Business-Use-Case-Usage, or
// reset_time_duration (seconds) in X-Ad-Account-Usage. Zero means no hint.
func regainAfter(h http.Header) time.Duration {
	var wait time.Duration
	var buc map[string][]struct {
		Regain int `json:"estimated_time_to_regain_access"`
	}
	if json.Unmarshal([]byte(h.Get("X-Business-Use-Case-Usage")), &buc) == nil {
		for _, entries := range buc {
			for _, e := range entries {
				wait = max(wait, time.Duration(e.Regain)*time.Minute)
			}
		}
	}
	var acc struct {
		Reset int `json:"reset_time_duration"`
	}
	if json.Unmarshal([]byte(h.Get("X-Ad-Account-Usage")), &acc) == nil {
		wait = max(wait, time.Duration(acc.Reset)*time.Second)
	}
	return wait
}

type action struct {
	Type  string `json:"action_type"`
	Value string `json:"value"`
}

type insightRow struct {
	AccountID    string   `json:"account_id"`
	CampaignID   string   `json:"campaign_id"`
	CampaignName string   `json:"campaign_name"`
	DateStart    string   `json:"date_start"`
	DateStop     string   `json:"date_stop"`
	Impressions  string   `json:"impressions"`
	Clicks       string   `json:"clicks"`
	Spend        string   `json:"spend"`
	Actions      []action `json:"actions"`
	ActionValues []action `json:"action_values"`
}

func (r insightRow) normalise(account, currency string) (connectors.CampaignDay, error) {
	if r.CampaignID == "" {
		return connectors.CampaignDay{}, errors.New("row without campaign_id")
	}
	if r.DateStop != "" && r.DateStop != r.DateStart {
		return connectors.CampaignDay{}, fmt.Errorf("row spans %s..%s, want one day", r.DateStart, r.DateStop)
	}
	date, err := time.Parse(time.DateOnly, r.DateStart)
	if err != nil {
		return connectors.CampaignDay{}, fmt.Errorf("date_start: %w", err)
	}
	d := connectors.CampaignDay{
		Platform: Platform, AccountID: account, CampaignID: r.CampaignID,
		CampaignName: r.CampaignName, Date: date, Currency: currency,
	}
	if d.Impressions, err = parseCount(r.Impressions); err != nil {
		return d, fmt.Errorf("impressions: %w", err)
	}
	if d.Clicks, err = parseCount(r.Clicks); err != nil {
		return d, fmt.Errorf("clicks: %w", err)
	}
	if d.CostMicros, err = parseMicros(r.Spend); err != nil {
		return d, fmt.Errorf("spend: %w", err)
	}
	if v, ok := purchase(r.ActionValues); ok {
		if d.RevenueMicros, err = parseMicros(v); err != nil {
			return d, fmt.Errorf("purchase action_value: %w", err)
		}
	}
	if v, ok := purchase(r.Actions); ok {
		if d.Conversions, err = strconv.ParseFloat(v, 64); err != nil {
			return d, fmt.Errorf("purchase action: %w", err)
		}
	}
	return d, nil
}

// purchase picks the purchase value. Meta reports the aggregate "purchase" next to
// per-source types such as the pixel's; adding them would double count, so the
// pixel type is only a fallback for accounts that lack the aggregate.
func purchase(actions []action) (string, bool) {
	for _, want := range []string{"purchase", "offsite_conversion.fb_pixel_purchase"} {
		for _, a := range actions {
			if a.Type == want {
				return a.Value, true
			}
		}
	}
	return "", false
}

// parseCount parses a count Meta sends as a string; absent means zero.
func parseCount(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	return strconv.ParseInt(s, 10, 64)
}

// parseMicros converts a decimal amount string ("5339.5", "-0.07") into micros
// exactly, by digits: a float multiply would turn "0.29" into 289999. Digits past
// the sixth decimal must be zeros, since rounding them would invent money.
func parseMicros(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	neg := false
	rest := s
	if rest[0] == '-' || rest[0] == '+' {
		neg = rest[0] == '-'
		rest = rest[1:]
	}
	whole, frac, _ := strings.Cut(rest, ".")
	if whole == "" && frac == "" {
		return 0, fmt.Errorf("invalid amount %q", s)
	}
	if len(frac) > 6 {
		if strings.Trim(frac[6:], "0") != "" {
			return 0, fmt.Errorf("amount %q has more precision than micros", s)
		}
		frac = frac[:6]
	}
	var micros int64
	for _, part := range []string{whole, frac + strings.Repeat("0", 6-len(frac))} {
		for _, ch := range part {
			if ch < '0' || ch > '9' {
				return 0, fmt.Errorf("invalid amount %q", s)
			}
			if micros > (1<<63-1-int64(ch-'0'))/10 {
				return 0, fmt.Errorf("amount %q overflows int64 micros", s)
			}
			micros = micros*10 + int64(ch-'0')
		}
	}
	if neg {
		micros = -micros
	}
	return micros, nil
}
