package store

import (
	"context"
	"fmt"
	"time"

	"github.com/touchpoint/touchpoint"
)

// PlatformQuery selects the campaign days the platform syncs stored for one tenant.
// Synced rows are days as the platform reports them (the account's calendar), not
// instants, so the range is of dates and inclusive at both ends.
type PlatformQuery struct {
	Tenant string
	// From and To are dates (midnight UTC); days From <= date <= To are read.
	From, To time.Time
	// Platform and CampaignID filter when set.
	Platform   string
	CampaignID string
	// Daily returns one row per day instead of totals over the range.
	Daily bool
}

// PlatformCampaignRow is one (platform, account, campaign, currency) over a range or
// on one day. Money is in micro-units of Currency, like CampaignRow, so sums are exact;
// conversions are fractional because the platforms report them so.
type PlatformCampaignRow struct {
	Date          string  `json:"date,omitempty"` // YYYY-MM-DD, only in daily rows
	Platform      string  `json:"platform"`
	AccountID     string  `json:"account_id"`
	CampaignID    string  `json:"campaign_id"`
	CampaignName  string  `json:"campaign_name"`
	Currency      string  `json:"currency"`
	Impressions   int64   `json:"impressions"`
	Clicks        int64   `json:"clicks"`
	Conversions   float64 `json:"conversions"`
	CostMicros    int64   `json:"cost_micros"`
	RevenueMicros int64   `json:"revenue_micros"`
	// Days counts the days with data in the range (1 in a daily row).
	Days int64 `json:"days"`
}

// Currency is part of the grouping so that a campaign whose account changed currency
// never gets amounts of two currencies added together. The name is the latest day's,
// as platforms let campaigns be renamed.
const (
	platformTotalsSQL = `SELECT '', platform, account_id, campaign_id, (array_agg(campaign_name ORDER BY date DESC))[1],
	currency, sum(impressions)::bigint, sum(clicks)::bigint, sum(conversions)::float8, sum(cost_micros)::bigint,
	sum(revenue_micros)::bigint, count(*)::bigint, max(synced_at)
FROM platform_campaign_days
WHERE tenant_id = $1 AND date BETWEEN $2::date AND $3::date AND ($4 = '' OR platform = $4) AND ($5 = '' OR campaign_id = $5)
GROUP BY platform, account_id, campaign_id, currency
ORDER BY platform, account_id, campaign_id, currency`

	platformDailySQL = `SELECT to_char(date, 'YYYY-MM-DD'), platform, account_id, campaign_id, campaign_name,
	currency, impressions, clicks, conversions, cost_micros, revenue_micros, 1::bigint, synced_at
FROM platform_campaign_days
WHERE tenant_id = $1 AND date BETWEEN $2::date AND $3::date AND ($4 = '' OR platform = $4) AND ($5 = '' OR campaign_id = $5)
ORDER BY date, platform, account_id, campaign_id`
)

func (q PlatformQuery) check() error {
	switch {
	case q.Tenant == "":
		return touchpoint.Errorf(touchpoint.EInvalid, "tenant is required")
	case q.From.IsZero() || q.To.IsZero():
		return touchpoint.Errorf(touchpoint.EInvalid, "from and to are required")
	case q.To.Before(q.From):
		return touchpoint.Errorf(touchpoint.EInvalid, "from (%s) must not be after to (%s)",
			q.From.Format(time.DateOnly), q.To.Format(time.DateOnly))
	}
	return nil
}

// PlatformCampaigns returns the synced campaign rows q selects — totals per platform,
// account, campaign and currency, or daily rows — and when the latest of them was
// synced (zero without rows).
func (a Aggregates) PlatformCampaigns(ctx context.Context, q PlatformQuery) ([]PlatformCampaignRow, time.Time, error) {
	if err := q.check(); err != nil {
		return nil, time.Time{}, err
	}
	sql := platformTotalsSQL
	if q.Daily {
		sql = platformDailySQL
	}
	out := []PlatformCampaignRow{}
	var r PlatformCampaignRow
	args := []any{q.Tenant, q.From.UTC().Format(time.DateOnly), q.To.UTC().Format(time.DateOnly), q.Platform, q.CampaignID}
	fresh, err := scanRows(ctx, a.DB, sql, args,
		[]any{&r.Date, &r.Platform, &r.AccountID, &r.CampaignID, &r.CampaignName, &r.Currency, &r.Impressions,
			&r.Clicks, &r.Conversions, &r.CostMicros, &r.RevenueMicros, &r.Days},
		func() { out = append(out, r) })
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("platform campaign metrics of %s: %w", q.Tenant, err)
	}
	return out, fresh, nil
}
