package activities

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/time/rate"

	"github.com/touchpoint/touchpoint/connectors"
	"github.com/touchpoint/touchpoint/store"
)

// Platforms a connection can be to, as stored and as the API accepts them.
const (
	PlatformGoogleAds = "googleads"
	PlatformMeta      = "meta"
	PlatformLinkedIn  = "linkedin"
	PlatformGA4       = "ga4"
	PlatformPostHog   = "posthog"
)

// CampaignPlatforms are the ad and analytics platforms whose connections sync
// campaign days through SyncStream.
var CampaignPlatforms = []string{PlatformGoogleAds, PlatformMeta, PlatformLinkedIn, PlatformGA4, PlatformPostHog}

// CampaignDaysStream is the one stream the ad platforms' syncs have.
const CampaignDaysStream = "campaign_days"

// Lookback is how many days before the stored cursor a platform's incremental sync
// re-reads, because the platform restates recent days as conversions arrive.
func Lookback(platform string) int {
	switch platform {
	case PlatformMeta:
		return 28 // Airbyte's insights_lookback_window default: the 28-day click window
	case PlatformLinkedIn:
		// Airbyte's default is 0, but LinkedIn credits website conversions (and their
		// value) to the ad's day once they happen: up to 7 days later for views, 30 for
		// clicks by default. A week catches most of them and keeps the hourly sync to
		// a handful of requests; a Backfill re-reads older days when needed.
		return 7
	case PlatformGA4:
		return 2 // Airbyte's DEFAULT_LOOKBACK_WINDOW: GA4 finishes processing within ~48 h
	case PlatformPostHog:
		return 2 // events arrive late from offline clients; 2 days covers most of them
	}
	return 14 // Google Ads: Airbyte's default conversion window
}

// Error types of SyncStream's non-retryable failures.
const (
	ErrTypeReauthorize = "Reauthorize"
	ErrTypeSyncConfig  = "SyncConfiguration"
	ErrTypeThrottled   = "Throttled"
)

// Sync pulls campaign performance from the ad platforms into Postgres. The URLs
// default to the platforms' own; tests and `touchpoint dev` point them at the fakes.
type Sync struct {
	Connections store.Connections

	GoogleAdsBaseURL    string // googleads.DefaultBaseURL if empty
	GoogleAdsTokenURL   string // googleads.DefaultTokenURL if empty
	GoogleAdsAPIVersion string // googleads.DefaultAPIVersion if empty
	MetaBaseURL         string // https://graph.facebook.com if empty
	MetaAPIVersion      string // "v23.0" if empty
	LinkedInBaseURL     string // linkedin.DefaultBaseURL if empty
	LinkedInTokenURL    string // linkedin.DefaultTokenURL if empty
	LinkedInVersion     string // linkedin.DefaultVersion (LinkedIn-Version header) if empty
	GA4BaseURL          string // ga4.DefaultBaseURL if empty
	GA4TokenURL         string // ga4.DefaultTokenURL if empty
	GA4APIVersion       string // ga4.DefaultAPIVersion if empty
	PostHogBaseURL      string // posthog.DefaultBaseURL (US cloud) if empty

	HTTPClient *http.Client  // http.DefaultClient if nil
	Limiter    *rate.Limiter // nil: each platform's documented limit
	ChunkDays  int           // days fetched and stored per step; 7 if zero
}

// SyncStreamInput is one run of a connection's campaign-days stream over [From, To]
// (days, inclusive). A zero From re-reads the platform's lookback before the stored
// cursor; a zero To is today (UTC).
type SyncStreamInput struct {
	Tenant       string
	ConnectionID string
	From, To     time.Time
}

// SyncStreamResult says what a run stored.
type SyncStreamResult struct {
	From, To time.Time
	Rows     int
	// ResumedFrom is the day an attempt resumed at after an earlier one died.
	ResumedFrom time.Time
}

// syncProgress is SyncStream's heartbeat: the days up to Last are stored.
type syncProgress struct {
	Last time.Time
	Rows int
}

func utcDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// SyncStream fetches the connection's campaign days in chunks, upserting each chunk
// and advancing the cursor with it, and heartbeats the last stored day; a retried
// attempt resumes after it. A refused grant marks the connection needs_reauth and
// fails without retry; a throttle is retried after the delay the platform asked for.
func (s *Sync) SyncStream(ctx context.Context, in SyncStreamInput) (SyncStreamResult, error) {
	conn, err := s.Connections.Get(ctx, in.Tenant, in.ConnectionID)
	if errors.Is(err, store.ErrConnectionNotFound) {
		return SyncStreamResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeSyncConfig, err)
	}
	if err != nil {
		return SyncStreamResult{}, err
	}
	if conn.Status == "needs_reauth" {
		return SyncStreamResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("connection %s: %v", conn.ConnectionID, connectors.ErrReauthorize), ErrTypeReauthorize, connectors.ErrReauthorize)
	}
	fetch, err := s.client(conn)
	if err != nil {
		return SyncStreamResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeSyncConfig, err)
	}
	to := utcDay(in.To)
	if in.To.IsZero() {
		to = utcDay(time.Now())
	}
	from := utcDay(in.From)
	if in.From.IsZero() {
		cursor, ok, err := s.Connections.Cursor(ctx, in.Tenant, in.ConnectionID, CampaignDaysStream)
		if err != nil {
			return SyncStreamResult{}, err
		}
		if !ok || cursor.After(to) {
			cursor = to
		}
		from = cursor.AddDate(0, 0, -Lookback(conn.Platform))
	}
	res := SyncStreamResult{From: from, To: to}
	start := from
	var progress syncProgress
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &progress); err == nil && !progress.Last.Before(from) {
			start = progress.Last.AddDate(0, 0, 1)
			res.ResumedFrom = start
		}
	}
	chunk := s.ChunkDays
	if chunk <= 0 {
		chunk = 7
	}
	for ; !start.After(to); start = start.AddDate(0, 0, chunk) {
		end := start.AddDate(0, 0, chunk-1)
		if end.After(to) {
			end = to
		}
		// A fetch can outlast the activity's heartbeat timeout: the clients pace
		// requests with their rate limiters (LinkedIn: one a second) and wait out
		// throttles in-process (LinkedIn sends no Retry-After and backs off a minute).
		// whileHeartbeating stops before returning, so a late heartbeat of this older
		// progress cannot overwrite the next one.
		rows, err := whileHeartbeating(ctx, time.Second, progress, func() ([]connectors.CampaignDay, error) {
			return fetch(ctx, start, end)
		})
		if err != nil {
			return res, s.classify(ctx, conn, err)
		}
		if err := s.Connections.UpsertCampaignDays(ctx, in.Tenant, in.ConnectionID, CampaignDaysStream, rows, end); err != nil {
			return res, err
		}
		progress = syncProgress{Last: end, Rows: progress.Rows + len(rows)}
		activity.RecordHeartbeat(ctx, progress)
	}
	res.Rows = progress.Rows
	return res, nil
}

func (s *Sync) classify(ctx context.Context, conn store.Connection, err error) error {
	if errors.Is(err, connectors.ErrReauthorize) {
		if serr := s.Connections.SetStatus(ctx, conn.TenantID, conn.ConnectionID, "needs_reauth"); serr != nil {
			return serr
		}
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeReauthorize, err)
	}
	var te *connectors.ThrottledError
	if errors.As(err, &te) {
		return temporal.NewApplicationErrorWithOptions(te.Error(), ErrTypeThrottled,
			temporal.ApplicationErrorOptions{Cause: err, NextRetryDelay: te.RetryAfter})
	}
	return err
}
