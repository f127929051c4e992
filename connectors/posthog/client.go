// Package posthog pulls daily campaign aggregates from PostHog's query API (HogQL over
// POST /api/projects/{id}/query/) into connectors.CampaignDay records, and holds a
// fake of that API for tests and local development.
//
// Mapping (PostHog has no ad spend): one row per (day, properties.utm_campaign) of
// events carrying a utm_campaign; Impressions = count of Config.ImpressionEvent
// events, Clicks = count of Config.ClickEvent events, Conversions = count of
// Config.ConversionEvent events, RevenueMicros = sum of the numeric property
// Config.RevenueProperty on conversion events (converted exactly from its decimal
// text), CostMicros = 0. CampaignID and CampaignName are both the utm_campaign value.
package posthog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/touchpoint/touchpoint/connectors"
)

// Platform is the value of CampaignDay.Platform and ThrottledError.Platform.
const Platform = "posthog"

// DefaultBaseURL is the US cloud host.
const DefaultBaseURL = "https://us.posthog.com"

// DefaultLimiter keeps under the /query/ burst throttle (240/min) with a small burst.
func DefaultLimiter() *rate.Limiter { return rate.NewLimiter(rate.Every(time.Minute/240), 10) }

// Config configures a Client.
type Config struct {
	BaseURL   string // DefaultBaseURL if empty
	APIKey    string // personal API key (phx_...), sent as Bearer
	ProjectID string

	ImpressionEvent string // "$pageview" if empty
	ClickEvent      string // "$autocapture" if empty
	ConversionEvent string // "purchase" if empty
	RevenueProperty string // "revenue" if empty
	Currency        string // currency of RevenueProperty; "USD" if empty
	PageSize        int    // rows per query (LIMIT); 1000 if zero

	HTTPClient       *http.Client
	Limiter          *rate.Limiter
	MaxRetries       int           // 5xx/transport retries; 3 if zero
	RetryBackoff     time.Duration // 1s if zero, doubled each retry
	ThrottleBackoff  time.Duration // wait when 429 has no Retry-After; 30s if zero
	MaxThrottleWaits int           // 429 waits tolerated per page; 5 if zero
}

// Client reads one project's campaign aggregates.
type Client struct {
	cfg  Config
	doer *connectors.Doer
}

// New validates cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.APIKey == "" || cfg.ProjectID == "" {
		return nil, errors.New("posthog: API key and project id are required")
	}
	connectors.SetDefault(&cfg.BaseURL, DefaultBaseURL)
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	connectors.SetDefault(&cfg.ImpressionEvent, "$pageview")
	connectors.SetDefault(&cfg.ClickEvent, "$autocapture")
	connectors.SetDefault(&cfg.ConversionEvent, "purchase")
	connectors.SetDefault(&cfg.RevenueProperty, "revenue")
	connectors.SetDefault(&cfg.Currency, "USD")
	for _, s := range []string{cfg.ImpressionEvent, cfg.ClickEvent, cfg.ConversionEvent, cfg.RevenueProperty} {
		if strings.ContainsAny(s, `'\`) {
			return nil, fmt.Errorf("posthog: invalid event or property name %q", s)
		}
	}
	connectors.SetDefault(&cfg.PageSize, 1000)
	connectors.SetDefault(&cfg.MaxRetries, 3)
	connectors.SetDefault(&cfg.RetryBackoff, time.Second)
	connectors.SetDefault(&cfg.ThrottleBackoff, 30*time.Second)
	connectors.SetDefault(&cfg.MaxThrottleWaits, 5)
	hc := cfg.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	lim := cfg.Limiter
	if lim == nil {
		lim = DefaultLimiter()
	}
	// 429s are returned at once (MaxThrottleWaits 0) and waited out per page by
	// CampaignDays; Query leaves them to its caller.
	return &Client{cfg: cfg, doer: &connectors.Doer{
		Platform:        Platform,
		HTTP:            hc,
		Limiter:         lim,
		Classify:        classify,
		MaxRetries:      cfg.MaxRetries,
		Backoff:         cfg.RetryBackoff,
		ThrottleBackoff: cfg.ThrottleBackoff,
	}}, nil
}

// APIError is PostHog's error body {"type","code","detail","attr"}.
type APIError struct {
	HTTPStatus int
	Type       string `json:"type"`
	Code       string `json:"code"`
	Detail     string `json:"detail"`
}

func (e *APIError) Error() string {
	return fmt.Sprintf("posthog API %d %s/%s: %s", e.HTTPStatus, e.Type, e.Code, e.Detail)
}

// QueryResponse is the HogQLQuery response fields the client uses.
type QueryResponse struct {
	Columns []string            `json:"columns"`
	Results [][]json.RawMessage `json:"results"`
	HasMore bool                `json:"hasMore"`
	Limit   int                 `json:"limit"`
	Offset  int                 `json:"offset"`
}

// Query runs one HogQL query. 5xx and transport errors are retried with back-off; a
// 429 is returned as *connectors.ThrottledError carrying Retry-After; 401/403 wrap
// connectors.ErrReauthorize.
func (c *Client) Query(ctx context.Context, hogql string) (*QueryResponse, error) {
	payload, err := json.Marshal(map[string]any{"query": map[string]string{"kind": "HogQLQuery", "query": hogql}, "refresh": "blocking"})
	if err != nil {
		return nil, fmt.Errorf("posthog: encode query: %w", err)
	}
	resp, err := c.doer.Do(ctx, connectors.Request{
		Method: http.MethodPost,
		URL:    fmt.Sprintf("%s/api/projects/%s/query/", c.cfg.BaseURL, c.cfg.ProjectID),
		Body:   payload,
		Header: http.Header{"Authorization": {"Bearer " + c.cfg.APIKey}, "Content-Type": {"application/json"}},
	})
	var te *connectors.ThrottledError
	if errors.As(err, &te) {
		return nil, te
	}
	if err != nil {
		return nil, fmt.Errorf("posthog: project %s: %w", c.cfg.ProjectID, err)
	}
	var qr QueryResponse
	if err := json.Unmarshal(resp.Body, &qr); err != nil {
		return nil, fmt.Errorf("posthog: decode query response: %w", err)
	}
	return &qr, nil
}

// classify judges a query answer; only a 200 carries results.
func classify(r *connectors.Response) connectors.Verdict {
	switch {
	case r.Status == http.StatusOK:
		return connectors.Succeeded()
	case r.Status == http.StatusUnauthorized || r.Status == http.StatusForbidden:
		// A personal API key cannot be refreshed.
		return connectors.GrantRefused(apiError(r.Status, r.Body))
	case r.Status == http.StatusTooManyRequests:
		if d, ok := connectors.RetryAfter(r.Header); ok {
			return connectors.ThrottledFor(apiError(r.Status, r.Body), d)
		}
		return connectors.ThrottledNoHint(apiError(r.Status, r.Body))
	case r.Status >= 500:
		return connectors.Transient(apiError(r.Status, r.Body))
	}
	return connectors.Permanent(apiError(r.Status, r.Body))
}

func apiError(status int, body []byte) *APIError {
	e := &APIError{HTTPStatus: status}
	if json.Unmarshal(body, e) != nil || e.Detail == "" {
		e.Detail = fmt.Sprintf("%.200s", body)
	}
	return e
}

// CampaignQuery is the HogQL text for one page of daily campaign aggregates over
// [from, to] (UTC days). Revenue is summed as Decimal and returned as text so it
// converts to micros exactly.
func (c *Client) CampaignQuery(from, to time.Time, limit, offset int) string {
	return fmt.Sprintf("SELECT toDate(timestamp) AS day, properties.utm_campaign AS campaign, "+
		"countIf(event = '%s') AS impressions, countIf(event = '%s') AS clicks, countIf(event = '%s') AS conversions, "+
		"toString(sumIf(toDecimal(ifNull(properties.%s, '0'), 6), event = '%s')) AS revenue "+
		"FROM events WHERE properties.utm_campaign IS NOT NULL AND properties.utm_campaign != '' "+
		"AND timestamp >= '%s' AND timestamp < '%s' "+
		"GROUP BY day, campaign ORDER BY day, campaign LIMIT %d OFFSET %d",
		c.cfg.ImpressionEvent, c.cfg.ClickEvent, c.cfg.ConversionEvent, c.cfg.RevenueProperty, c.cfg.ConversionEvent,
		from.Format(time.DateOnly), to.AddDate(0, 0, 1).Format(time.DateOnly), limit, offset)
}

// CampaignDays reads [from, to] page by page (LIMIT/OFFSET while hasMore), waiting
// out 429s for Retry-After up to Config.MaxThrottleWaits times per page.
func (c *Client) CampaignDays(ctx context.Context, from, to time.Time) ([]connectors.CampaignDay, error) {
	from, to = day(from), day(to)
	if to.Before(from) {
		return nil, fmt.Errorf("posthog: empty range %s..%s", from.Format(time.DateOnly), to.Format(time.DateOnly))
	}
	var out []connectors.CampaignDay
	for offset := 0; ; {
		var qr *QueryResponse
		err := connectors.WaitOutThrottles(ctx, c.cfg.MaxThrottleWaits, func() (err error) {
			qr, err = c.Query(ctx, c.CampaignQuery(from, to, c.cfg.PageSize, offset))
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, r := range qr.Results {
			cd, err := c.row(r)
			if err != nil {
				return nil, err
			}
			out = append(out, cd)
		}
		if !qr.HasMore || len(qr.Results) == 0 {
			return out, nil
		}
		offset += len(qr.Results)
	}
}

func (c *Client) row(r []json.RawMessage) (connectors.CampaignDay, error) {
	if len(r) != 6 {
		return connectors.CampaignDay{}, fmt.Errorf("posthog: row has %d columns, want 6", len(r))
	}
	var ds, campaign string
	var impr, clicks, conv json.Number
	var revenue any
	for i, dst := range []any{&ds, &campaign, &impr, &clicks, &conv, &revenue} {
		if err := json.Unmarshal(r[i], dst); err != nil {
			return connectors.CampaignDay{}, fmt.Errorf("posthog: column %d: %w", i, err)
		}
	}
	d, err := time.Parse(time.DateOnly, ds)
	if err != nil {
		return connectors.CampaignDay{}, fmt.Errorf("posthog: day: %w", err)
	}
	cd := connectors.CampaignDay{Platform: Platform, AccountID: c.cfg.ProjectID, CampaignID: campaign, CampaignName: campaign, Date: d, Currency: c.cfg.Currency}
	if cd.Impressions, err = impr.Int64(); err != nil {
		return cd, fmt.Errorf("posthog: impressions: %w", err)
	}
	if cd.Clicks, err = clicks.Int64(); err != nil {
		return cd, fmt.Errorf("posthog: clicks: %w", err)
	}
	if cd.Conversions, err = conv.Float64(); err != nil {
		return cd, fmt.Errorf("posthog: conversions: %w", err)
	}
	var rs string
	switch v := revenue.(type) {
	case string:
		rs = v
	case nil:
	default:
		rs = fmt.Sprint(v)
	}
	if cd.RevenueMicros, err = connectors.DecimalToMicros(rs); err != nil {
		return cd, fmt.Errorf("posthog: revenue: %w", err)
	}
	return cd, nil
}

func day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
