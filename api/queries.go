package api

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/touchpoint/touchpoint"
	"github.com/touchpoint/touchpoint/aggregate"
	"github.com/touchpoint/touchpoint/store"
)

// maxRange bounds a query's time range per level, so one request cannot ask for
// millions of rows.
var maxRange = map[aggregate.Level]time.Duration{
	aggregate.Window: 24 * time.Hour,
	aggregate.Hour:   93 * 24 * time.Hour,
	aggregate.Day:    3 * 366 * 24 * time.Hour,
	aggregate.Week:   5 * 366 * 24 * time.Hour,
}

// defaultRange is the range a query covers when it gives no from.
var defaultRange = map[aggregate.Level]time.Duration{
	aggregate.Window: time.Hour,
	aggregate.Hour:   24 * time.Hour,
	aggregate.Day:    30 * 24 * time.Hour,
	aggregate.Week:   12 * 7 * 24 * time.Hour,
}

// freshness says how current an answer is: when its rows last changed and when the
// pipeline last committed anything for any tenant.
type freshness struct {
	DataUpdatedAt *time.Time `json:"data_updated_at,omitempty"`
	AgeSeconds    *float64   `json:"age_seconds,omitempty"`
	Source        string     `json:"source"`
}

func newFreshness(at time.Time, source string, now time.Time) freshness {
	f := freshness{Source: source}
	if !at.IsZero() {
		age := now.Sub(at).Seconds()
		f.DataUpdatedAt, f.AgeSeconds = &at, &age
	}
	return f
}

type rangeResponse struct {
	Tenant    string          `json:"tenant"`
	Level     aggregate.Level `json:"level"`
	From      time.Time       `json:"from"`
	To        time.Time       `json:"to"`
	Rows      any             `json:"rows"`
	Freshness freshness       `json:"freshness"`
}

// parseQuery reads level, from, to and the filters of a range query.
func (s *Server) parseQuery(r *http.Request) (store.Query, error) {
	v := r.URL.Query()
	q := store.Query{Tenant: tenantOf(r.Context()), Level: aggregate.Level(v.Get("level")),
		CampaignID: v.Get("campaign_id"), Channel: v.Get("channel"), VariantID: v.Get("variant_id")}
	err := s.parseRange(v, &q, aggregate.Hour)
	return q, err
}

// parseRange completes q's level (def when none is given) and reads from and to,
// within the level's maxRange.
func (s *Server) parseRange(v url.Values, q *store.Query, def aggregate.Level) error {
	if q.Level == "" {
		q.Level = def
	}
	if !slices.Contains(aggregate.Levels, q.Level) {
		return touchpoint.Errorf(touchpoint.EInvalid, "level must be one of %v, got %q", aggregate.Levels, q.Level)
	}
	var err error
	if q.To, err = parseTime(v.Get("to"), s.opts.Now().Add(time.Second)); err != nil {
		return touchpoint.Errorf(touchpoint.EInvalid, "to: %v", err)
	}
	if q.From, err = parseTime(v.Get("from"), q.To.Add(-defaultRange[q.Level])); err != nil {
		return touchpoint.Errorf(touchpoint.EInvalid, "from: %v", err)
	}
	if !q.From.Before(q.To) {
		return touchpoint.Errorf(touchpoint.EInvalid, "from must be before to")
	}
	if q.To.Sub(q.From) > maxRange[q.Level] {
		return touchpoint.Errorf(touchpoint.EInvalid, "range too long for level %s: at most %v", q.Level, maxRange[q.Level])
	}
	return nil
}

// parseTime takes RFC 3339 or Unix seconds; empty gives def.
func parseTime(s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	if sec, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(sec, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

// rangeHandler serves one family of aggregates from Postgres.
func rangeHandler[R any](s *Server, query func(context.Context, store.Query) ([]R, time.Time, error), view func([]R) any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.aggregates.DB == nil {
			writeError(w, r, touchpoint.Errorf(touchpoint.EUnavailable, "aggregates are not served by this instance"))
			return
		}
		q, err := s.parseQuery(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		rows, updated, err := query(r.Context(), q)
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, rangeResponse{
			Tenant: q.Tenant, Level: q.Level, From: q.From, To: q.To, Rows: view(rows),
			Freshness: newFreshness(updated, "postgres", s.opts.Now()),
		})
	}
}

func asIs[R any](rows []R) any {
	if rows == nil {
		return []R{}
	}
	return rows
}

// campaignView adds the ratios users read first: click-through rate, cost per
// acquisition and return on ad spend (nil when undefined).
type campaignView struct {
	store.CampaignRow
	CTR  *float64 `json:"ctr"`
	CPA  *float64 `json:"cpa"`
	ROAS *float64 `json:"roas"`
}

func ratio(num, den int64) *float64 {
	if den == 0 {
		return nil
	}
	r := float64(num) / float64(den)
	return &r
}

func campaignViews(rows []store.CampaignRow) any {
	out := make([]campaignView, len(rows))
	for i, r := range rows {
		out[i] = campaignView{CampaignRow: r, CTR: ratio(r.Clicks, r.Impressions),
			CPA: ratio(r.CostMicros, r.Conversions*1e6), ROAS: ratio(r.RevenueMicros, r.CostMicros)}
	}
	return out
}

type variantView struct {
	store.VariantRow
	MeanEngagement *float64 `json:"mean_engagement_score"`
	CTR            *float64 `json:"ctr"`
}

func variantViews(rows []store.VariantRow) any {
	out := make([]variantView, len(rows))
	for i, r := range rows {
		out[i] = variantView{VariantRow: r, MeanEngagement: ratio(r.EngagementMicros, r.EngagementCount*1e6), CTR: ratio(r.Clicks, r.Views)}
	}
	return out
}
