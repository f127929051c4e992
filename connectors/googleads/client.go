// Package googleads pulls daily campaign performance from the Google Ads REST API
// (GAQL over googleAds:searchStream) into connectors.CampaignDay records, and holds a
// fake of that API for tests and local development.
package googleads

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/time/rate"

	"github.com/touchpoint/touchpoint/connectors"
)

// Platform is the value of CampaignDay.Platform and ThrottledError.Platform.
const Platform = "google_ads"

// Defaults for Config's zero values.
const (
	DefaultTokenURL   = "https://oauth2.googleapis.com/token"
	DefaultBaseURL    = "https://googleads.googleapis.com"
	DefaultAPIVersion = "v23"
	// DefaultChunkDays matches Airbyte's step (P14D) and the default 14-day
	// conversion lookback, so an incremental run is a single query.
	DefaultChunkDays = 14
)

// DefaultLimiter returns the limiter used when Config.Limiter is nil. Basic access
// allows 15,000 operations per sliding 24h per developer token, and one
// searchStream query is one operation however many rows it returns. Spreading that
// budget evenly gives one query per 5.76s; the burst of 50 lets a sync (a currency
// lookup plus one query per 14-day chunk, so ~50 for a two-year backfill) start at
// once while the long-run rate stays inside the daily quota. Share one limiter
// between all clients using the same developer token.
func DefaultLimiter() *rate.Limiter {
	return rate.NewLimiter(rate.Every(24*time.Hour/15000), 50)
}

// Config configures a Client. Credentials are those of one connection.
type Config struct {
	TokenURL        string // OAuth2 token endpoint; DefaultTokenURL if empty
	BaseURL         string // API origin; DefaultBaseURL if empty
	APIVersion      string // e.g. "v23"; DefaultAPIVersion if empty
	DeveloperToken  string
	LoginCustomerID string // manager (MCC) id, digits only; empty when not going through a manager
	ClientID        string
	ClientSecret    string
	RefreshToken    string

	HTTPClient *http.Client  // http.DefaultClient if nil
	Limiter    *rate.Limiter // DefaultLimiter() if nil

	MaxRetries   int           // retries of a 5xx or transport error; 3 if zero
	RetryBackoff time.Duration // first back-off, doubled each retry; 1s if zero
	// ThrottleBackoff is the wait reported when a quota error carries no
	// retryDelay; 30s if zero.
	ThrottleBackoff  time.Duration
	ChunkDays        int // days per query in Sync; DefaultChunkDays if zero
	MaxThrottleWaits int // throttled waits Sync tolerates per chunk; 5 if zero
}

// Client reads campaign performance for the customers one connection can reach.
type Client struct {
	cfg  Config
	doer *connectors.Doer

	mu       sync.Mutex
	currency map[string]string // customer id → currency_code; it never changes
}

// New validates cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.DeveloperToken == "" || cfg.ClientID == "" || cfg.RefreshToken == "" {
		return nil, errors.New("googleads: developer token, client id and refresh token are required")
	}
	connectors.SetDefault(&cfg.TokenURL, DefaultTokenURL)
	connectors.SetDefault(&cfg.BaseURL, DefaultBaseURL)
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	connectors.SetDefault(&cfg.APIVersion, DefaultAPIVersion)
	cfg.LoginCustomerID = strings.ReplaceAll(cfg.LoginCustomerID, "-", "")
	connectors.SetDefault(&cfg.MaxRetries, 3)
	connectors.SetDefault(&cfg.RetryBackoff, time.Second)
	connectors.SetDefault(&cfg.ThrottleBackoff, 30*time.Second)
	connectors.SetDefault(&cfg.ChunkDays, DefaultChunkDays)
	connectors.SetDefault(&cfg.MaxThrottleWaits, 5)
	hc := cfg.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	lim := cfg.Limiter
	if lim == nil {
		lim = DefaultLimiter()
	}
	oc := &oauth2.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		Endpoint:     oauth2.Endpoint{TokenURL: cfg.TokenURL, AuthStyle: oauth2.AuthStyleInParams},
		Scopes:       []string{"https://www.googleapis.com/auth/adwords"},
	}
	// Quota errors are returned at once (MaxThrottleWaits 0): Sync waits them
	// out per chunk, CampaignDays leaves them to the caller.
	doer := &connectors.Doer{
		Platform:        Platform,
		HTTP:            hc,
		Limiter:         lim,
		Tokens:          connectors.NewRefreshTokens(oc, cfg.RefreshToken, hc),
		MaxRetries:      cfg.MaxRetries,
		Backoff:         cfg.RetryBackoff,
		ThrottleBackoff: cfg.ThrottleBackoff,
	}
	return &Client{cfg: cfg, doer: doer, currency: map[string]string{}}, nil
}

// APIError is a Google Ads error response, from either the plain or the
// array-wrapped (streaming) form.
type APIError struct {
	HTTPStatus int
	Status     string // RPC status, e.g. RESOURCE_EXHAUSTED
	Message    string
	Codes      []string      // "category:ENUM" of each GoogleAdsError, e.g. "quotaError:RESOURCE_EXHAUSTED"
	RetryDelay time.Duration // from quotaErrorDetails, 0 if absent
	RequestID  string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("google ads API %d %s %v: %s (request %s)", e.HTTPStatus, e.Status, e.Codes, e.Message, e.RequestID)
}

func (e *APIError) hasCategory(cats ...string) bool {
	for _, c := range e.Codes {
		for _, cat := range cats {
			if strings.HasPrefix(c, cat+":") {
				return true
			}
		}
	}
	return false
}

type wireError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
	Details []struct {
		Errors []struct {
			ErrorCode map[string]string `json:"errorCode"`
			Message   string            `json:"message"`
			Details   struct {
				QuotaErrorDetails struct {
					RetryDelay string `json:"retryDelay"`
				} `json:"quotaErrorDetails"`
			} `json:"details"`
		} `json:"errors"`
		RequestID string `json:"requestId"`
	} `json:"details"`
}

func (w *wireError) toAPIError(httpStatus int, requestID string) *APIError {
	e := &APIError{HTTPStatus: httpStatus, Status: w.Status, Message: w.Message, RequestID: requestID}
	for _, d := range w.Details {
		if d.RequestID != "" {
			e.RequestID = d.RequestID
		}
		for _, ge := range d.Errors {
			for cat, enum := range ge.ErrorCode {
				e.Codes = append(e.Codes, cat+":"+enum)
			}
			if rd := ge.Details.QuotaErrorDetails.RetryDelay; rd != "" {
				// protobuf JSON Durations ("2s", "0.5s") are valid Go durations.
				if d, err := time.ParseDuration(rd); err == nil && d > e.RetryDelay {
					e.RetryDelay = d
				}
			}
		}
	}
	return e
}

type streamBatch struct {
	Results   []json.RawMessage `json:"results"`
	RequestID string            `json:"requestId"`
	Error     *wireError        `json:"error"`
}

// parseStream decodes a searchStream body: an array of batches, any of which may be
// an error (the array-wrapped form), or a plain {"error":...} object.
func parseStream(status int, requestID string, body []byte) ([]json.RawMessage, *APIError, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var plain struct {
			Error *wireError `json:"error"`
		}
		if err := json.Unmarshal(trimmed, &plain); err != nil || plain.Error == nil {
			return nil, nil, fmt.Errorf("googleads: unexpected HTTP %d body: %.200s", status, body)
		}
		return nil, plain.Error.toAPIError(status, requestID), nil
	}
	var batches []streamBatch
	if err := json.Unmarshal(trimmed, &batches); err != nil {
		return nil, nil, fmt.Errorf("googleads: decode searchStream (HTTP %d): %w", status, err)
	}
	var rows []json.RawMessage
	for _, b := range batches {
		if b.Error != nil {
			return nil, b.Error.toAPIError(status, requestID), nil
		}
		rows = append(rows, b.Results...)
	}
	if status != http.StatusOK {
		return nil, nil, fmt.Errorf("googleads: HTTP %d without error body", status)
	}
	return rows, nil, nil
}

// search runs one GAQL query and returns the rows of all batches. It refreshes the
// access token once if the API rejects it, retries 5xx and transport errors with
// exponential back-off, and turns auth failures into connectors.ErrReauthorize and
// quota errors into *connectors.ThrottledError.
func (c *Client) search(ctx context.Context, customerID, query string) ([]json.RawMessage, error) {
	customerID = strings.ReplaceAll(customerID, "-", "")
	payload, err := json.Marshal(map[string]string{"query": query})
	if err != nil {
		return nil, fmt.Errorf("googleads: encode query: %w", err)
	}
	hdr := http.Header{"Developer-Token": {c.cfg.DeveloperToken}, "Content-Type": {"application/json"}}
	if c.cfg.LoginCustomerID != "" {
		hdr.Set("login-customer-id", c.cfg.LoginCustomerID)
	}
	var rows []json.RawMessage
	_, err = c.doer.Do(ctx, connectors.Request{
		Method: http.MethodPost,
		URL:    fmt.Sprintf("%s/%s/customers/%s/googleAds:searchStream", c.cfg.BaseURL, c.cfg.APIVersion, customerID),
		Body:   payload,
		Header: hdr,
		// searchStream can report an error inside a 200 array, so the body is
		// parsed to classify it, and the rows kept.
		Classify: func(r *connectors.Response) connectors.Verdict {
			var v connectors.Verdict
			rows, v = classify(r)
			return v
		},
	})
	var te *connectors.ThrottledError
	if errors.As(err, &te) {
		return nil, te // returned bare, as CampaignDays documents
	}
	if err != nil {
		return nil, fmt.Errorf("googleads: customer %s: %w", customerID, err)
	}
	return rows, nil
}

// classify parses a searchStream answer and judges it.
func classify(r *connectors.Response) ([]json.RawMessage, connectors.Verdict) {
	rows, apiErr, err := parseStream(r.Status, r.Header.Get("request-id"), r.Body)
	switch {
	case err != nil:
		// An unparseable body (a proxy's HTML page) is as transient as a 5xx.
		return nil, connectors.Transient(err)
	case apiErr == nil:
		return rows, connectors.Succeeded()
	case apiErr.HTTPStatus == http.StatusUnauthorized || apiErr.Status == "UNAUTHENTICATED":
		return nil, connectors.TokenRefused(apiErr)
	case apiErr.hasCategory("authenticationError", "authorizationError"):
		// Unapproved developer token, or the user lost access to the customer
		// or manager: only reconnecting or reconfiguring fixes it.
		return nil, connectors.GrantRefused(apiErr)
	case apiErr.Status == "RESOURCE_EXHAUSTED" || apiErr.HTTPStatus == http.StatusTooManyRequests || apiErr.hasCategory("quotaError"):
		// Google sends no Retry-After header; the delay is only in
		// quotaErrorDetails.retryDelay, if at all.
		if apiErr.RetryDelay > 0 {
			return nil, connectors.ThrottledFor(apiErr, apiErr.RetryDelay)
		}
		return nil, connectors.ThrottledNoHint(apiErr)
	case apiErr.HTTPStatus >= 500:
		return nil, connectors.Transient(apiErr)
	default:
		return nil, connectors.Permanent(apiErr)
	}
}

// Currency returns the customer's currency_code, which every money metric is in.
func (c *Client) Currency(ctx context.Context, customerID string) (string, error) {
	c.mu.Lock()
	cur, ok := c.currency[customerID]
	c.mu.Unlock()
	if ok {
		return cur, nil
	}
	rows, err := c.search(ctx, customerID, "SELECT customer.currency_code FROM customer LIMIT 1")
	if err != nil {
		return "", err
	}
	var row struct {
		Customer struct {
			CurrencyCode string `json:"currencyCode"`
		} `json:"customer"`
	}
	if len(rows) != 1 {
		return "", fmt.Errorf("googleads: customer %s: currency query returned %d rows", customerID, len(rows))
	}
	if err := json.Unmarshal(rows[0], &row); err != nil || row.Customer.CurrencyCode == "" {
		return "", fmt.Errorf("googleads: customer %s: no currency_code in %s", customerID, rows[0])
	}
	c.mu.Lock()
	c.currency[customerID] = row.Customer.CurrencyCode
	c.mu.Unlock()
	return row.Customer.CurrencyCode, nil
}

// campaignRow is one GoogleAdsRow of the campaign query. Zero-valued metrics are
// omitted by the API, which the zero values here cover.
type campaignRow struct {
	Campaign struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"campaign"`
	Metrics struct {
		Impressions      int64String `json:"impressions"`
		Clicks           int64String `json:"clicks"`
		CostMicros       int64String `json:"costMicros"`
		Conversions      json.Number `json:"conversions"`
		ConversionsValue json.Number `json:"conversionsValue"`
	} `json:"metrics"`
	Segments struct {
		Date string `json:"date"`
	} `json:"segments"`
}

// int64String decodes the API's int64 encoding (a JSON string), and tolerates a
// bare number.
type int64String int64

func (n *int64String) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("int64 value %s: %w", b, err)
	}
	*n = int64String(v)
	return nil
}

// CampaignDays returns one record per campaign and day in [from, to] (dates in the
// account's time zone, taken as UTC calendar days) with a single searchStream query.
// A quota error is returned as *connectors.ThrottledError; see Sync to wait it out.
func (c *Client) CampaignDays(ctx context.Context, customerID string, from, to time.Time) ([]connectors.CampaignDay, error) {
	from, to = day(from), day(to)
	if to.Before(from) {
		return nil, fmt.Errorf("googleads: empty range %s..%s", from.Format(time.DateOnly), to.Format(time.DateOnly))
	}
	customerID = strings.ReplaceAll(customerID, "-", "")
	currency, err := c.Currency(ctx, customerID)
	if err != nil {
		return nil, err
	}
	query := fmt.Sprintf("SELECT campaign.id, campaign.name, segments.date, metrics.impressions, metrics.clicks, "+
		"metrics.conversions, metrics.conversions_value, metrics.cost_micros FROM campaign "+
		"WHERE segments.date BETWEEN '%s' AND '%s' ORDER BY segments.date, campaign.id",
		from.Format(time.DateOnly), to.Format(time.DateOnly))
	raw, err := c.search(ctx, customerID, query)
	if err != nil {
		return nil, err
	}
	out := make([]connectors.CampaignDay, 0, len(raw))
	for _, r := range raw {
		var row campaignRow
		if err := json.Unmarshal(r, &row); err != nil {
			return nil, fmt.Errorf("googleads: customer %s: decode row: %w", customerID, err)
		}
		d, err := time.Parse(time.DateOnly, row.Segments.Date)
		if err != nil {
			return nil, fmt.Errorf("googleads: customer %s: row date: %w", customerID, err)
		}
		var conv float64
		if row.Metrics.Conversions != "" {
			if conv, err = row.Metrics.Conversions.Float64(); err != nil {
				return nil, fmt.Errorf("googleads: customer %s: conversions: %w", customerID, err)
			}
		}
		revenue, err := connectors.DecimalToMicros(string(row.Metrics.ConversionsValue))
		if err != nil {
			return nil, fmt.Errorf("googleads: customer %s campaign %s: conversions_value: %w", customerID, row.Campaign.ID, err)
		}
		out = append(out, connectors.CampaignDay{
			Platform:      Platform,
			AccountID:     customerID,
			CampaignID:    row.Campaign.ID,
			CampaignName:  row.Campaign.Name,
			Date:          d,
			Impressions:   int64(row.Metrics.Impressions),
			Clicks:        int64(row.Metrics.Clicks),
			Conversions:   conv,
			CostMicros:    int64(row.Metrics.CostMicros),
			RevenueMicros: revenue,
			Currency:      currency,
		})
	}
	return out, nil
}

// Sync reads [from, to] in chunks of Config.ChunkDays, waiting out quota errors for
// the delay Google asked for (up to Config.MaxThrottleWaits times per chunk) so
// finished chunks are not re-read. Other errors, including
// connectors.ErrReauthorize, are returned at once.
func (c *Client) Sync(ctx context.Context, customerID string, from, to time.Time) ([]connectors.CampaignDay, error) {
	from, to = day(from), day(to)
	var out []connectors.CampaignDay
	for start := from; !start.After(to); start = start.AddDate(0, 0, c.cfg.ChunkDays) {
		end := start.AddDate(0, 0, c.cfg.ChunkDays-1)
		if end.After(to) {
			end = to
		}
		err := connectors.WaitOutThrottles(ctx, c.cfg.MaxThrottleWaits, func() error {
			rows, err := c.CampaignDays(ctx, customerID, start, end)
			if err == nil {
				out = append(out, rows...)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func day(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
