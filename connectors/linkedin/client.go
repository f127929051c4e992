// Package linkedin pulls daily campaign performance from the LinkedIn Marketing API
// (versioned /rest adAnalytics, campaign pivot, daily granularity) into
// connectors.CampaignDay records, and holds a fake of that API for tests and local
// development.
//
// Mapping: CampaignID is the numeric id of urn:li:sponsoredCampaign:N; Conversions is
// externalWebsiteConversions; CostMicros is costInLocalCurrency and RevenueMicros is
// conversionValueInLocalCurrency (both decimal strings, converted exactly); Currency
// is the ad account's currency. Days with no activity are absent, as LinkedIn omits
// them.
package linkedin

import (
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

	"golang.org/x/oauth2"
	"golang.org/x/time/rate"

	"github.com/touchpoint/touchpoint/connectors"
)

// Platform is the value of CampaignDay.Platform and ThrottledError.Platform.
const Platform = "linkedin"

// Defaults for Config's zero values.
const (
	DefaultTokenURL = "https://www.linkedin.com/oauth/v2/accessToken"
	DefaultBaseURL  = "https://api.linkedin.com"
	DefaultVersion  = "202601"
	// DefaultChunkDays matches Airbyte's analytics step (P30D).
	DefaultChunkDays = 30
	// DefaultCampaignsPerRequest matches Airbyte's grouping of 50 campaigns per
	// analytics request (keeps the URL short of a 414).
	DefaultCampaignsPerRequest = 50
	// MaxElements is the size at which LinkedIn silently truncates an analytics
	// response; a response this large is treated as an error.
	MaxElements = 15000
)

// DefaultLimiter returns the limiter used when Config.Limiter is nil. LinkedIn does
// not publish its daily per-application limits; one request a second with a burst
// of 10 keeps an hourly sync of a few hundred campaigns well inside the typical
// analytics allowance while never bursting hard enough to trip infra protection.
func DefaultLimiter() *rate.Limiter { return rate.NewLimiter(rate.Every(time.Second), 10) }

// Config configures a Client. Credentials are those of one connection.
type Config struct {
	TokenURL     string // DefaultTokenURL if empty
	BaseURL      string // DefaultBaseURL if empty
	Version      string // LinkedIn-Version header, YYYYMM; DefaultVersion if empty
	ClientID     string
	ClientSecret string
	RefreshToken string

	HTTPClient *http.Client  // http.DefaultClient if nil
	Limiter    *rate.Limiter // DefaultLimiter() if nil

	MaxRetries   int           // retries of a 5xx or transport error; 3 if zero
	RetryBackoff time.Duration // first back-off, doubled each retry; 1s if zero
	// ThrottleBackoff is the wait after a 429: LinkedIn sends no Retry-After. 60s if zero.
	ThrottleBackoff     time.Duration
	MaxThrottleWaits    int // throttled waits Sync tolerates per request; 5 if zero
	ChunkDays           int // DefaultChunkDays if zero
	CampaignsPerRequest int // DefaultCampaignsPerRequest if zero
	PageSize            int // campaign finder page size; 500 if zero
}

// Client reads campaign performance for the ad accounts one connection can reach.
type Client struct {
	cfg  Config
	doer *connectors.Doer
}

// New validates cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.ClientID == "" || cfg.RefreshToken == "" {
		return nil, errors.New("linkedin: client id and refresh token are required")
	}
	connectors.SetDefault(&cfg.TokenURL, DefaultTokenURL)
	connectors.SetDefault(&cfg.BaseURL, DefaultBaseURL)
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	connectors.SetDefault(&cfg.Version, DefaultVersion)
	connectors.SetDefault(&cfg.MaxRetries, 3)
	connectors.SetDefault(&cfg.RetryBackoff, time.Second)
	connectors.SetDefault(&cfg.ThrottleBackoff, time.Minute)
	connectors.SetDefault(&cfg.MaxThrottleWaits, 5)
	connectors.SetDefault(&cfg.ChunkDays, DefaultChunkDays)
	connectors.SetDefault(&cfg.CampaignsPerRequest, DefaultCampaignsPerRequest)
	connectors.SetDefault(&cfg.PageSize, 500)
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
		Scopes:       []string{"r_ads", "r_ads_reporting"},
	}
	tokens := connectors.NewRefreshTokens(oc, cfg.RefreshToken, hc,
		append(slices.Clone(connectors.RefusedGrantCodes), "invalid_request")...)
	// 429s are returned at once (MaxThrottleWaits 0) and waited out by getWaiting.
	return &Client{cfg: cfg, doer: &connectors.Doer{
		Platform:        Platform,
		HTTP:            hc,
		Limiter:         lim,
		Tokens:          tokens,
		Classify:        classify,
		MaxRetries:      cfg.MaxRetries,
		Backoff:         cfg.RetryBackoff,
		ThrottleBackoff: cfg.ThrottleBackoff, // LinkedIn sends no Retry-After
	}}, nil
}

// APIError is a LinkedIn REST error body.
type APIError struct {
	HTTPStatus       int
	ServiceErrorCode int    `json:"serviceErrorCode"`
	Code             string `json:"code"`
	Message          string `json:"message"`
}

func (e *APIError) Error() string {
	return fmt.Sprintf("linkedin API %d %s (%d): %s", e.HTTPStatus, e.Code, e.ServiceErrorCode, e.Message)
}

// get sends one GET for path?rawQuery and decodes a 200 body into out. It refreshes
// the token once on a 401, retries 5xx and transport errors, and returns
// connectors.ErrReauthorize for refused credentials and *connectors.ThrottledError
// for a 429.
func (c *Client) get(ctx context.Context, path, rawQuery string, out any) error {
	u := c.cfg.BaseURL + path
	if rawQuery != "" {
		u += "?" + rawQuery
	}
	resp, err := c.doer.Do(ctx, connectors.Request{
		Method: http.MethodGet,
		URL:    u,
		Header: http.Header{"Linkedin-Version": {c.cfg.Version}, "X-Restli-Protocol-Version": {"2.0.0"}},
	})
	var te *connectors.ThrottledError
	if errors.As(err, &te) {
		return te
	}
	if err != nil {
		return fmt.Errorf("linkedin: %s: %w", path, err)
	}
	if err := json.Unmarshal(resp.Body, out); err != nil {
		return fmt.Errorf("linkedin: decode %s: %w", path, err)
	}
	return nil
}

// classify judges a LinkedIn answer by status; only a 200 carries data.
func classify(r *connectors.Response) connectors.Verdict {
	if r.Status == http.StatusOK {
		return connectors.Succeeded()
	}
	apiErr := &APIError{}
	_ = json.Unmarshal(r.Body, apiErr)
	apiErr.HTTPStatus = r.Status
	if apiErr.Message == "" {
		apiErr.Message = fmt.Sprintf("%.200s", r.Body)
	}
	switch {
	case r.Status == http.StatusUnauthorized:
		return connectors.TokenRefused(apiErr)
	case r.Status == http.StatusForbidden:
		// The member lost access to the account or the app lost its scopes:
		// only reconnecting fixes it.
		return connectors.GrantRefused(apiErr)
	case r.Status == http.StatusTooManyRequests:
		return connectors.ThrottledNoHint(apiErr)
	case r.Status < 500:
		return connectors.Permanent(apiErr)
	}
	return connectors.Transient(apiErr)
}

// getWaiting is get, waiting out up to MaxThrottleWaits throttles.
func (c *Client) getWaiting(ctx context.Context, path, rawQuery string, out any) error {
	return connectors.WaitOutThrottles(ctx, c.cfg.MaxThrottleWaits, func() error {
		return c.get(ctx, path, rawQuery, out)
	})
}

// Account is an ad account.
type Account struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Currency string `json:"currency"`
}

// Campaign is an ad campaign of an account.
type Campaign struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// Account reads one ad account (for its currency).
func (c *Client) Account(ctx context.Context, accountID string) (Account, error) {
	var a Account
	err := c.getWaiting(ctx, "/rest/adAccounts/"+url.PathEscape(accountID), "", &a)
	return a, err
}

// Campaigns lists every campaign of the account whatever its status, following
// metadata.nextPageToken.
func (c *Client) Campaigns(ctx context.Context, accountID string) ([]Campaign, error) {
	var out []Campaign
	pageToken := ""
	for {
		q := "q=search&search=(status:(values:List(ACTIVE,PAUSED,ARCHIVED,COMPLETED,CANCELED,DRAFT,PENDING_DELETION,REMOVED)))" +
			"&pageSize=" + strconv.Itoa(c.cfg.PageSize)
		if pageToken != "" {
			q += "&pageToken=" + url.QueryEscape(pageToken)
		}
		var page struct {
			Elements []Campaign `json:"elements"`
			Metadata struct {
				NextPageToken string `json:"nextPageToken"`
			} `json:"metadata"`
		}
		if err := c.getWaiting(ctx, "/rest/adAccounts/"+url.PathEscape(accountID)+"/adCampaigns", q, &page); err != nil {
			return nil, err
		}
		out = append(out, page.Elements...)
		if page.Metadata.NextPageToken == "" || len(page.Elements) == 0 {
			return out, nil
		}
		pageToken = page.Metadata.NextPageToken
	}
}

// analyticsFields are the adAnalytics fields requested (well under the 20 limit).
const analyticsFields = "dateRange,pivotValues,impressions,clicks,costInLocalCurrency,externalWebsiteConversions,conversionValueInLocalCurrency"

type analyticsElement struct {
	PivotValues []string `json:"pivotValues"`
	DateRange   struct {
		Start struct{ Year, Month, Day int } `json:"start"`
	} `json:"dateRange"`
	Impressions                    int64       `json:"impressions"`
	Clicks                         int64       `json:"clicks"`
	CostInLocalCurrency            string      `json:"costInLocalCurrency"`
	ExternalWebsiteConversions     json.Number `json:"externalWebsiteConversions"`
	ConversionValueInLocalCurrency string      `json:"conversionValueInLocalCurrency"`
}

const campaignURN = "urn:li:sponsoredCampaign:"

func rangeParam(from, to time.Time) string {
	return fmt.Sprintf("(start:(year:%d,month:%d,day:%d),end:(year:%d,month:%d,day:%d))",
		from.Year(), int(from.Month()), from.Day(), to.Year(), int(to.Month()), to.Day())
}

// analytics runs one adAnalytics request for campaigns over [from, to].
func (c *Client) analytics(ctx context.Context, campaigns []Campaign, from, to time.Time) ([]analyticsElement, error) {
	urns := make([]string, len(campaigns))
	for i, cp := range campaigns {
		urns[i] = url.QueryEscape(campaignURN + strconv.FormatInt(cp.ID, 10))
	}
	q := "q=analytics&pivot=(value:CAMPAIGN)&timeGranularity=(value:DAILY)&dateRange=" + rangeParam(from, to) +
		"&campaigns=List(" + strings.Join(urns, ",") + ")&fields=" + analyticsFields
	var resp struct {
		Elements []analyticsElement `json:"elements"`
	}
	if err := c.getWaiting(ctx, "/rest/adAnalytics", q, &resp); err != nil {
		return nil, err
	}
	if len(resp.Elements) >= MaxElements {
		return nil, fmt.Errorf("linkedin: adAnalytics returned %d elements, the truncation limit; use smaller chunks", len(resp.Elements))
	}
	return resp.Elements, nil
}

// Sync reads [from, to] for every campaign of the account, in chunks of ChunkDays
// and groups of CampaignsPerRequest campaigns, waiting out 429s. Rows are ordered by
// date, then campaign id.
func (c *Client) Sync(ctx context.Context, accountID string, from, to time.Time) ([]connectors.CampaignDay, error) {
	from, to = day(from), day(to)
	if to.Before(from) {
		return nil, fmt.Errorf("linkedin: empty range %s..%s", from.Format(time.DateOnly), to.Format(time.DateOnly))
	}
	acct, err := c.Account(ctx, accountID)
	if err != nil {
		return nil, err
	}
	campaigns, err := c.Campaigns(ctx, accountID)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, cp := range campaigns {
		names[strconv.FormatInt(cp.ID, 10)] = cp.Name
	}
	var out []connectors.CampaignDay
	for start := from; !start.After(to); start = start.AddDate(0, 0, c.cfg.ChunkDays) {
		end := start.AddDate(0, 0, c.cfg.ChunkDays-1)
		if end.After(to) {
			end = to
		}
		var chunk []connectors.CampaignDay
		for i := 0; i < len(campaigns); i += c.cfg.CampaignsPerRequest {
			group := campaigns[i:min(i+c.cfg.CampaignsPerRequest, len(campaigns))]
			els, err := c.analytics(ctx, group, start, end)
			if err != nil {
				return nil, err
			}
			for _, el := range els {
				row, err := normalise(el, accountID, acct.Currency, names)
				if err != nil {
					return nil, err
				}
				chunk = append(chunk, row)
			}
		}
		sortRows(chunk)
		out = append(out, chunk...)
	}
	return out, nil
}

func normalise(el analyticsElement, accountID, currency string, names map[string]string) (connectors.CampaignDay, error) {
	if len(el.PivotValues) != 1 || !strings.HasPrefix(el.PivotValues[0], campaignURN) {
		return connectors.CampaignDay{}, fmt.Errorf("linkedin: unexpected pivotValues %v", el.PivotValues)
	}
	id := strings.TrimPrefix(el.PivotValues[0], campaignURN)
	s := el.DateRange.Start
	d := time.Date(s.Year, time.Month(s.Month), s.Day, 0, 0, 0, 0, time.UTC)
	cost, err := connectors.DecimalToMicros(el.CostInLocalCurrency)
	if err != nil {
		return connectors.CampaignDay{}, fmt.Errorf("linkedin: campaign %s: costInLocalCurrency: %w", id, err)
	}
	rev, err := connectors.DecimalToMicros(el.ConversionValueInLocalCurrency)
	if err != nil {
		return connectors.CampaignDay{}, fmt.Errorf("linkedin: campaign %s: conversionValueInLocalCurrency: %w", id, err)
	}
	var conv float64
	if el.ExternalWebsiteConversions != "" {
		if conv, err = el.ExternalWebsiteConversions.Float64(); err != nil {
			return connectors.CampaignDay{}, fmt.Errorf("linkedin: campaign %s: conversions: %w", id, err)
		}
	}
	return connectors.CampaignDay{
		Platform: Platform, AccountID: accountID, CampaignID: id, CampaignName: names[id], Date: d,
		Impressions: el.Impressions, Clicks: el.Clicks, Conversions: conv,
		CostMicros: cost, RevenueMicros: rev, Currency: currency,
	}, nil
}

// sortRows orders by date then numeric campaign id, so reruns are identical
// whatever order the API used.
func sortRows(rows []connectors.CampaignDay) {
	less := func(a, b connectors.CampaignDay) bool {
		if !a.Date.Equal(b.Date) {
			return a.Date.Before(b.Date)
		}
		if len(a.CampaignID) != len(b.CampaignID) {
			return len(a.CampaignID) < len(b.CampaignID)
		}
		return a.CampaignID < b.CampaignID
	}
	for i := 1; i < len(rows); i++ {
		for j := i; j > 0 && less(rows[j], rows[j-1]); j-- {
			rows[j], rows[j-1] = rows[j-1], rows[j]
		}
	}
}

func day(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
