// Package connectors holds what every platform client shares: the normalised
// campaign-performance record the syncs store, and the error kinds a sync workflow
// acts on. Each platform's client (and a fake server reproducing its API) lives in
// connectors/<platform>.
package connectors

import (
	"errors"
	"fmt"
	"time"
)

// CampaignDay is one campaign's performance on one day, as every connector normalises
// it. Money is in micro-units of Currency, converted exactly from the platform's
// micros, decimal strings or numbers.
type CampaignDay struct {
	Platform      string    `json:"platform"`
	AccountID     string    `json:"account_id"`
	CampaignID    string    `json:"campaign_id"`
	CampaignName  string    `json:"campaign_name"`
	Date          time.Time `json:"date"` // the day, midnight UTC
	Impressions   int64     `json:"impressions"`
	Clicks        int64     `json:"clicks"`
	Conversions   float64   `json:"conversions"` // platforms report fractional conversions
	CostMicros    int64     `json:"cost_micros"`
	RevenueMicros int64     `json:"revenue_micros"`
	Currency      string    `json:"currency"`
}

// ErrReauthorize means the platform refused the stored grant (revoked or expired
// refresh token, invalid credentials): retrying cannot help, a person must connect the
// account again.
var ErrReauthorize = errors.New("connection needs re-authorisation")

// ThrottledError says the platform asked to slow down; RetryAfter is how long it
// asked to wait, or the client's own back-off when the platform gave none.
type ThrottledError struct {
	Platform   string
	RetryAfter time.Duration
	Detail     string
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("%s: throttled, retry after %v: %s", e.Platform, e.RetryAfter, e.Detail)
}
