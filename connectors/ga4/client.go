// Package ga4 pulls daily campaign traffic from the Google Analytics Data API v1
// (properties/{id}:runReport) into connectors.CampaignDay records, reads the
// near-real-time view through runRealtimeReport, and holds a fake of that API for
// tests and local development.
//
// Mapping choices (GA4 is an analytics source, not an ad platform):
//   - CampaignID/CampaignName are the sessionCampaignId/sessionCampaignName
//     dimensions (session-scoped attribution; "(not set)" and "(direct)" campaigns
//     are kept as GA4 reports them);
//   - Clicks is sessions: the visits the campaign brought; Impressions is 0, since
//     GA4 records no ad impressions for non-Google campaigns;
//   - Conversions is the conversions metric (fractional values kept);
//   - RevenueMicros is totalRevenue, converted exactly from its decimal string;
//   - CostMicros is 0: GA4 has no cost for campaigns outside linked Google Ads;
//   - Currency is the property's metadata.currencyCode; AccountID is the property id.
//
// The realtime API has no campaign dimensions, so runRealtimeReport feeds a
// per-minute activity view (RealtimeMinute), not CampaignDay rows.
package ga4

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/time/rate"

	"github.com/touchpoint/touchpoint/connectors"
)

// Platform is the value of CampaignDay.Platform and ThrottledError.Platform.
const Platform = "ga4"

// Defaults for Config's zero values.
const (
	DefaultTokenURL   = "https://oauth2.googleapis.com/token"
	DefaultBaseURL    = "https://analyticsdata.googleapis.com"
	DefaultAPIVersion = "v1beta"
	// DefaultPageSize is Airbyte's page size (the API caps limit at 250,000).
	DefaultPageSize = 100000
)

// DefaultLimiter returns the limiter used when Config.Limiter is nil. A standard
// property allows 40,000 tokens an hour and 14,000 per project per property per hour;
// a small daily campaign report costs ~10 tokens, so one request every 3s (1,200 an
// hour, ~12,000 tokens) stays under the per-project hourly quota, and a burst of 10
// matches the 10 concurrent requests allowed.
func DefaultLimiter() *rate.Limiter { return rate.NewLimiter(rate.Every(3*time.Second), 10) }

// Config configures a Client. Credentials are those of one connection.
type Config struct {
	TokenURL     string // DefaultTokenURL if empty
	BaseURL      string // DefaultBaseURL if empty
	APIVersion   string // DefaultAPIVersion if empty
	ClientID     string
	ClientSecret string
	RefreshToken string

	HTTPClient *http.Client  // http.DefaultClient if nil
	Limiter    *rate.Limiter // DefaultLimiter() if nil

	PageSize     int           // rows per runReport page; DefaultPageSize if zero
	MaxRetries   int           // retries of a 5xx or transport error; 3 if zero
	RetryBackoff time.Duration // first back-off, doubled each retry; 1s if zero
	// ThrottleBackoff is the wait after "Exhausted concurrent requests quota" or an
	// unrecognised RESOURCE_EXHAUSTED; 30s if zero (Airbyte's value).
	ThrottleBackoff time.Duration
	// HourlyQuotaBackoff is the wait after an exhausted hourly quota (property
	// tokens per project per hour, thresholded requests, server errors); 30m if zero.
	HourlyQuotaBackoff time.Duration
	MaxThrottleWaits   int // throttled waits Sync tolerates per page; 5 if zero
}

// Client reads reports for the properties one connection can reach.
type Client struct {
	cfg  Config
	doer *connectors.Doer
}

// New validates cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.ClientID == "" || cfg.RefreshToken == "" {
		return nil, errors.New("ga4: client id and refresh token are required")
	}
	connectors.SetDefault(&cfg.TokenURL, DefaultTokenURL)
	connectors.SetDefault(&cfg.BaseURL, DefaultBaseURL)
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	connectors.SetDefault(&cfg.APIVersion, DefaultAPIVersion)
	connectors.SetDefault(&cfg.PageSize, DefaultPageSize)
	connectors.SetDefault(&cfg.MaxRetries, 3)
	connectors.SetDefault(&cfg.RetryBackoff, time.Second)
	connectors.SetDefault(&cfg.ThrottleBackoff, 30*time.Second)
	connectors.SetDefault(&cfg.HourlyQuotaBackoff, 30*time.Minute)
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
		Scopes:       []string{"https://www.googleapis.com/auth/analytics.readonly"},
	}
	// Quota errors are returned at once (MaxThrottleWaits 0) and waited out by
	// callWaiting; Realtime leaves them to its caller.
	return &Client{cfg: cfg, doer: &connectors.Doer{
		Platform:   Platform,
		HTTP:       hc,
		Limiter:    lim,
		Tokens:     connectors.NewRefreshTokens(oc, cfg.RefreshToken, hc),
		MaxRetries: cfg.MaxRetries,
		Backoff:    cfg.RetryBackoff,
	}}, nil
}

// APIError is a Google API error body.
type APIError struct {
	HTTPStatus int
	Code       int    `json:"code"`
	Message    string `json:"message"`
	Status     string `json:"status"`
}

func (e *APIError) Error() string {
	return fmt.Sprintf("GA4 Data API %d %s: %s", e.HTTPStatus, e.Status, e.Message)
}

// Report is the part of a RunReportResponse / RunRealtimeReportResponse the
// client reads. All values are strings on the wire.
type Report struct {
	DimensionHeaders []struct {
		Name string `json:"name"`
	} `json:"dimensionHeaders"`
	MetricHeaders []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"metricHeaders"`
	Rows []struct {
		DimensionValues []struct {
			Value string `json:"value"`
		} `json:"dimensionValues"`
		MetricValues []struct {
			Value string `json:"value"`
		} `json:"metricValues"`
	} `json:"rows"`
	RowCount int `json:"rowCount"`
	Metadata struct {
		CurrencyCode string `json:"currencyCode"`
		TimeZone     string `json:"timeZone"`
	} `json:"metadata"`
	PropertyQuota map[string]struct {
		Consumed  int `json:"consumed"`
		Remaining int `json:"remaining"`
	} `json:"propertyQuota"`
}

// call POSTs one request to properties/{id}:{method}. It refreshes the token once
// on a 401, retries 5xx and transport errors, and returns connectors.ErrReauthorize
// for refused credentials and *connectors.ThrottledError for RESOURCE_EXHAUSTED.
func (c *Client) call(ctx context.Context, propertyID, method string, body any) (*Report, error) {
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("ga4: encode request: %w", err)
	}
	resp, err := c.doer.Do(ctx, connectors.Request{
		Method:   http.MethodPost,
		URL:      fmt.Sprintf("%s/%s/properties/%s:%s", c.cfg.BaseURL, c.cfg.APIVersion, propertyID, method),
		Body:     payload,
		Header:   http.Header{"Content-Type": {"application/json"}},
		Classify: c.classify,
	})
	var te *connectors.ThrottledError
	if errors.As(err, &te) {
		return nil, te
	}
	if err != nil {
		return nil, fmt.Errorf("ga4: property %s: %s: %w", propertyID, method, err)
	}
	var rep Report
	if err := json.Unmarshal(resp.Body, &rep); err != nil {
		return nil, fmt.Errorf("ga4: decode %s: %w", method, err)
	}
	return &rep, nil
}

// decodeAPIError reads a Google error body {"error":{...}}, or keeps the start
// of a body that is not one.
func decodeAPIError(r *connectors.Response) *APIError {
	var wrapped struct {
		Error *APIError `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &wrapped)
	apiErr := wrapped.Error
	if apiErr == nil {
		apiErr = &APIError{Message: fmt.Sprintf("%.200s", r.Body)}
	}
	apiErr.HTTPStatus = r.Status
	return apiErr
}

// classify judges a Data API answer; only a 200 carries a report.
func (c *Client) classify(r *connectors.Response) connectors.Verdict {
	if r.Status == http.StatusOK {
		return connectors.Succeeded()
	}
	apiErr := decodeAPIError(r)
	switch {
	case r.Status == http.StatusUnauthorized || apiErr.Status == "UNAUTHENTICATED":
		return connectors.TokenRefused(apiErr)
	case r.Status == http.StatusForbidden || apiErr.Status == "PERMISSION_DENIED":
		// The user lost access to the property.
		return connectors.GrantRefused(apiErr)
	case r.Status == http.StatusTooManyRequests || apiErr.Status == "RESOURCE_EXHAUSTED":
		return connectors.ThrottledFor(apiErr, c.quotaDelay(apiErr.Message))
	case r.Status < 500:
		return connectors.Permanent(apiErr)
	}
	return connectors.Transient(apiErr)
}

// quotaDelay picks the wait for a RESOURCE_EXHAUSTED message, as Airbyte does: the
// concurrent-requests quota frees up in seconds, the hourly ones only within the hour.
func (c *Client) quotaDelay(msg string) time.Duration {
	m := strings.ToLower(msg)
	if strings.Contains(m, "per hour") || strings.Contains(m, "thresholded") || strings.Contains(m, "server errors") {
		return c.cfg.HourlyQuotaBackoff
	}
	return c.cfg.ThrottleBackoff
}

// callWaiting is call, waiting out up to MaxThrottleWaits throttles.
func (c *Client) callWaiting(ctx context.Context, propertyID, method string, body any) (*Report, error) {
	var rep *Report
	err := connectors.WaitOutThrottles(ctx, c.cfg.MaxThrottleWaits, func() (err error) {
		rep, err = c.call(ctx, propertyID, method, body)
		return err
	})
	return rep, err
}

type named struct {
	Name string `json:"name"`
}

var (
	campaignDimensions = []named{{"date"}, {"sessionCampaignId"}, {"sessionCampaignName"}}
	campaignMetrics    = []named{{"sessions"}, {"conversions"}, {"totalRevenue"}}
)

// Sync reads [from, to] (property time zone days, taken as UTC calendar days),
// paging by offset/limit until offset reaches rowCount, waiting out quota errors.
// Rows are ordered by date then campaign id.
func (c *Client) Sync(ctx context.Context, propertyID string, from, to time.Time) ([]connectors.CampaignDay, error) {
	from, to = day(from), day(to)
	if to.Before(from) {
		return nil, fmt.Errorf("ga4: empty range %s..%s", from.Format(time.DateOnly), to.Format(time.DateOnly))
	}
	var out []connectors.CampaignDay
	for offset := 0; ; {
		req := map[string]any{
			"dateRanges":          []map[string]string{{"startDate": from.Format(time.DateOnly), "endDate": to.Format(time.DateOnly)}},
			"dimensions":          campaignDimensions,
			"metrics":             campaignMetrics,
			"orderBys":            []map[string]any{{"dimension": map[string]string{"dimensionName": "date"}}, {"dimension": map[string]string{"dimensionName": "sessionCampaignId"}}},
			"limit":               strconv.Itoa(c.cfg.PageSize),
			"offset":              strconv.Itoa(offset),
			"keepEmptyRows":       false,
			"returnPropertyQuota": true,
		}
		rep, err := c.callWaiting(ctx, propertyID, "runReport", req)
		if err != nil {
			return nil, err
		}
		rows, err := normalise(rep, propertyID)
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
		offset += len(rep.Rows)
		if len(rep.Rows) == 0 || offset >= rep.RowCount {
			break
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Date.Equal(out[j].Date) {
			return out[i].Date.Before(out[j].Date)
		}
		return out[i].CampaignID < out[j].CampaignID
	})
	return out, nil
}

func index(headers []string, name string) (int, error) {
	for i, h := range headers {
		if h == name {
			return i, nil
		}
	}
	return 0, fmt.Errorf("ga4: response lacks %s", name)
}

func normalise(rep *Report, propertyID string) ([]connectors.CampaignDay, error) {
	dims := make([]string, len(rep.DimensionHeaders))
	for i, h := range rep.DimensionHeaders {
		dims[i] = h.Name
	}
	mets := make([]string, len(rep.MetricHeaders))
	for i, h := range rep.MetricHeaders {
		mets[i] = h.Name
	}
	var idx [6]int
	for i, n := range []string{"date", "sessionCampaignId", "sessionCampaignName"} {
		var err error
		if idx[i], err = index(dims, n); err != nil && len(rep.Rows) > 0 {
			return nil, err
		}
	}
	for i, n := range []string{"sessions", "conversions", "totalRevenue"} {
		var err error
		if idx[3+i], err = index(mets, n); err != nil && len(rep.Rows) > 0 {
			return nil, err
		}
	}
	out := make([]connectors.CampaignDay, 0, len(rep.Rows))
	for _, r := range rep.Rows {
		if len(r.DimensionValues) != len(dims) || len(r.MetricValues) != len(mets) {
			return nil, fmt.Errorf("ga4: property %s: malformed row", propertyID)
		}
		dv := func(i int) string { return r.DimensionValues[idx[i]].Value }
		mv := func(i int) string { return r.MetricValues[idx[i]].Value }
		d, err := time.Parse("20060102", dv(0))
		if err != nil {
			return nil, fmt.Errorf("ga4: property %s: date: %w", propertyID, err)
		}
		sessions, err := parseInt(mv(3))
		if err != nil {
			return nil, fmt.Errorf("ga4: property %s: sessions: %w", propertyID, err)
		}
		var conv float64
		if s := mv(4); s != "" {
			if conv, err = strconv.ParseFloat(s, 64); err != nil {
				return nil, fmt.Errorf("ga4: property %s: conversions: %w", propertyID, err)
			}
		}
		rev, err := connectors.DecimalToMicros(mv(5))
		if err != nil {
			return nil, fmt.Errorf("ga4: property %s: totalRevenue: %w", propertyID, err)
		}
		out = append(out, connectors.CampaignDay{
			Platform: Platform, AccountID: propertyID, CampaignID: dv(1), CampaignName: dv(2), Date: d,
			Impressions: 0, Clicks: sessions, Conversions: conv, CostMicros: 0, RevenueMicros: rev,
			Currency: rep.Metadata.CurrencyCode,
		})
	}
	return out, nil
}

// parseInt parses an integer metric; GA4 may render integers as "12" or "12.0".
func parseInt(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok || !r.IsInt() || !r.Num().IsInt64() {
		return 0, fmt.Errorf("not an integer: %q", s)
	}
	return r.Num().Int64(), nil
}

// RealtimeMinute is the property's activity in one minute of the last 30.
type RealtimeMinute struct {
	MinutesAgo  int
	ActiveUsers int64
	EventCount  int64
	Conversions float64
}

// Realtime runs runRealtimeReport over the last `minutes` minutes (1–30 on a
// standard property) by minutesAgo, for the near-real-time view. It uses the
// separate Realtime quota; a quota error is returned as *connectors.ThrottledError.
// Minutes without activity are absent; the result is ordered by MinutesAgo.
func (c *Client) Realtime(ctx context.Context, propertyID string, minutes int) ([]RealtimeMinute, error) {
	if minutes < 1 || minutes > 60 {
		return nil, fmt.Errorf("ga4: realtime window of %d minutes", minutes)
	}
	req := map[string]any{
		"dimensions":          []named{{"minutesAgo"}},
		"metrics":             []named{{"activeUsers"}, {"eventCount"}, {"conversions"}},
		"minuteRanges":        []map[string]int{{"startMinutesAgo": minutes - 1, "endMinutesAgo": 0}},
		"limit":               "100",
		"returnPropertyQuota": true,
	}
	rep, err := c.call(ctx, propertyID, "runRealtimeReport", req)
	if err != nil {
		return nil, err
	}
	out := make([]RealtimeMinute, 0, len(rep.Rows))
	for _, r := range rep.Rows {
		if len(r.DimensionValues) != 1 || len(r.MetricValues) != 3 {
			return nil, fmt.Errorf("ga4: property %s: malformed realtime row", propertyID)
		}
		var m RealtimeMinute
		var errs [4]error
		m.MinutesAgo, errs[0] = strconv.Atoi(r.DimensionValues[0].Value)
		m.ActiveUsers, errs[1] = parseInt(r.MetricValues[0].Value)
		m.EventCount, errs[2] = parseInt(r.MetricValues[1].Value)
		m.Conversions, errs[3] = strconv.ParseFloat(r.MetricValues[2].Value, 64)
		if err := errors.Join(errs[:]...); err != nil {
			return nil, fmt.Errorf("ga4: property %s: realtime row: %w", propertyID, err)
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MinutesAgo < out[j].MinutesAgo })
	return out, nil
}

func day(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
