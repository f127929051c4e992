package api

import (
	"net/http"
	"slices"
	"time"

	"github.com/touchpoint/touchpoint"
	"github.com/touchpoint/touchpoint/store"
)

// maxPlatformDays bounds a synced-metrics range like a backfill's: three years of days.
const maxPlatformDays = 3 * 366

// defaultPlatformDays is the range when a request gives no from: the last 30 days.
const defaultPlatformDays = 30

// platformCampaignView adds the ratios the streamed campaigns report carries, computed
// the same way: CTR = clicks/impressions, CPA = cost per conversion in currency units,
// ROAS = revenue/cost (nil when undefined).
type platformCampaignView struct {
	store.PlatformCampaignRow
	CTR  *float64 `json:"ctr"`
	CPA  *float64 `json:"cpa"`
	ROAS *float64 `json:"roas"`
}

func ratioF(num, den float64) *float64 {
	if den == 0 {
		return nil
	}
	r := num / den
	return &r
}

func platformViews(rows []store.PlatformCampaignRow) []platformCampaignView {
	out := make([]platformCampaignView, len(rows))
	for i, r := range rows {
		out[i] = platformCampaignView{PlatformCampaignRow: r, CTR: ratio(r.Clicks, r.Impressions),
			CPA: ratioF(float64(r.CostMicros)/1e6, r.Conversions), ROAS: ratio(r.RevenueMicros, r.CostMicros)}
	}
	return out
}

type platformResponse struct {
	Tenant      string                 `json:"tenant"`
	From        string                 `json:"from"` // YYYY-MM-DD, inclusive
	To          string                 `json:"to"`   // YYYY-MM-DD, inclusive
	Granularity string                 `json:"granularity"`
	Rows        []platformCampaignView `json:"rows"`
	Freshness   freshness              `json:"freshness"`
}

// parseDate reads a YYYY-MM-DD parameter; empty gives def.
func parseDate(name, v string, def time.Time) (time.Time, error) {
	if v == "" {
		return def, nil
	}
	d, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, touchpoint.Errorf(touchpoint.EInvalid, "%s must be a date (YYYY-MM-DD), got %q", name, v)
	}
	return d, nil
}

// parsePlatformQuery reads from, to (dates, inclusive; default the last 30 days up to
// today UTC), platform, campaign_id and granularity (total or day).
func (s *Server) parsePlatformQuery(r *http.Request) (store.PlatformQuery, error) {
	v := r.URL.Query()
	q := store.PlatformQuery{Tenant: tenantOf(r.Context()), Platform: v.Get("platform"), CampaignID: v.Get("campaign_id")}
	switch v.Get("granularity") {
	case "", "total":
	case "day":
		q.Daily = true
	default:
		return q, touchpoint.Errorf(touchpoint.EInvalid, "granularity must be total or day, got %q", v.Get("granularity"))
	}
	today := s.opts.Now().UTC().Truncate(24 * time.Hour)
	var err error
	if q.To, err = parseDate("to", v.Get("to"), today); err != nil {
		return q, err
	}
	if q.From, err = parseDate("from", v.Get("from"), q.To.AddDate(0, 0, 1-defaultPlatformDays)); err != nil {
		return q, err
	}
	if q.To.Before(q.From) {
		return q, touchpoint.Errorf(touchpoint.EInvalid, "from must not be after to")
	}
	if days := int(q.To.Sub(q.From)/(24*time.Hour)) + 1; days > maxPlatformDays {
		return q, touchpoint.Errorf(touchpoint.EInvalid, "range too long: at most %d days", maxPlatformDays)
	}
	return q, nil
}

func (s *Server) handlePlatformCampaigns(w http.ResponseWriter, r *http.Request) {
	if s.aggregates.DB == nil {
		writeError(w, r, touchpoint.Errorf(touchpoint.EUnavailable, "metrics are not served by this instance"))
		return
	}
	q, err := s.parsePlatformQuery(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	rows, updated, err := s.aggregates.PlatformCampaigns(r.Context(), q)
	if err != nil {
		writeError(w, r, err)
		return
	}
	gran := "total"
	if q.Daily {
		gran = "day"
	}
	writeJSON(w, http.StatusOK, platformResponse{Tenant: q.Tenant, From: q.From.Format(time.DateOnly), To: q.To.Format(time.DateOnly),
		Granularity: gran, Rows: platformViews(rows), Freshness: newFreshness(updated, "postgres", s.opts.Now())})
}

// campaignsHandler serves /v1/metrics/campaigns: the streamed report as it always
// was, or with include=synced the platforms' figures beside it. Any other include is
// refused rather than ignored, since it would silently answer another question.
func (s *Server) campaignsHandler() http.HandlerFunc {
	streamed := rangeHandler(s, s.aggregates.Campaigns, campaignViews)
	return func(w http.ResponseWriter, r *http.Request) {
		switch inc := r.URL.Query().Get("include"); inc {
		case "":
			streamed(w, r)
		case "synced":
			s.handleCampaignsWithSynced(w, r)
		default:
			writeError(w, r, touchpoint.Errorf(touchpoint.EInvalid, "include must be synced, got %q", inc))
		}
	}
}

// syncedCampaignView is a streamed campaign row with the synced totals of the same
// campaign id, one per platform account and currency. SyncedOnly marks the rows of
// campaigns that only the platforms reported: they carry no bucket and no channel.
type syncedCampaignView struct {
	campaignView
	SyncedOnly bool                   `json:"synced_only,omitempty"`
	Synced     []platformCampaignView `json:"synced"`
}

type syncedRangeResponse struct {
	rangeResponse
	// SyncedFrom and SyncedTo are the synced days read: every day the range touches.
	SyncedFrom string `json:"synced_from"`
	SyncedTo   string `json:"synced_to"`
}

// syncedDays returns the dates of the days that [from, to) touches: synced figures
// are whole days, so a range ending mid-day includes that day's totals.
func syncedDays(from, to time.Time) (time.Time, time.Time) {
	return from.UTC().Truncate(24 * time.Hour), to.UTC().Add(-time.Nanosecond).Truncate(24 * time.Hour)
}

func (s *Server) handleCampaignsWithSynced(w http.ResponseWriter, r *http.Request) {
	if s.aggregates.DB == nil {
		writeError(w, r, touchpoint.Errorf(touchpoint.EUnavailable, "aggregates are not served by this instance"))
		return
	}
	q, err := s.parseQuery(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	rows, updated, err := s.aggregates.Campaigns(r.Context(), q)
	if err != nil {
		writeError(w, r, err)
		return
	}
	from, to := syncedDays(q.From, q.To)
	synced, syncedAt, err := s.aggregates.PlatformCampaigns(r.Context(), store.PlatformQuery{Tenant: q.Tenant, From: from, To: to, CampaignID: q.CampaignID})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, syncedRangeResponse{
		rangeResponse: rangeResponse{Tenant: q.Tenant, Level: q.Level, From: q.From, To: q.To,
			Rows:      mergeSynced(rows, synced, q.Channel == ""),
			Freshness: newFreshness(slices.MaxFunc([]time.Time{updated, syncedAt}, time.Time.Compare), "postgres", s.opts.Now())},
		SyncedFrom: from.Format(time.DateOnly), SyncedTo: to.Format(time.DateOnly),
	})
}

// mergeSynced attaches to each streamed row the synced totals of its campaign id and,
// when appendOnly, appends one row per campaign only the platforms know (a channel
// filter excludes those, as synced figures have no channel).
func mergeSynced(rows []store.CampaignRow, synced []store.PlatformCampaignRow, appendOnly bool) []syncedCampaignView {
	byCampaign := map[string][]platformCampaignView{}
	for _, v := range platformViews(synced) {
		byCampaign[v.CampaignID] = append(byCampaign[v.CampaignID], v)
	}
	streamed := campaignViews(rows).([]campaignView)
	out := make([]syncedCampaignView, 0, len(rows))
	seen := map[string]bool{}
	for _, v := range streamed {
		list := byCampaign[v.CampaignID]
		if list == nil {
			list = []platformCampaignView{} // "synced": [] says none, not unknown
		}
		out = append(out, syncedCampaignView{campaignView: v, Synced: list})
		seen[v.CampaignID] = true
	}
	if !appendOnly {
		return out
	}
	ids := make([]string, 0, len(byCampaign))
	for id := range byCampaign {
		if !seen[id] {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		row := campaignView{CampaignRow: store.CampaignRow{CampaignID: id}}
		out = append(out, syncedCampaignView{campaignView: row, SyncedOnly: true, Synced: byCampaign[id]})
	}
	return out
}
