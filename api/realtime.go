package api

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/touchpoint/touchpoint"
	"github.com/touchpoint/touchpoint/aggregate"
	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/store"
)

// metricsView is every family of one window (or of the running totals).
type metricsView struct {
	Events     int64              `json:"events"`
	EventTypes map[string]int64   `json:"event_types"`
	Campaigns  []campaignView     `json:"campaigns"`
	Channels   []store.ChannelRow `json:"channels"`
	Variants   []variantView      `json:"variants"`
}

type windowView struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	metricsView
}

type realtimeResponse struct {
	Tenant        string       `json:"tenant"`
	WindowSeconds int          `json:"window_seconds"`
	OpenWindow    windowView   `json:"open_window"`
	Windows       []windowView `json:"windows"` // the complete windows before the open one, newest first
	Totals        metricsView  `json:"totals"`
	Freshness     freshness    `json:"freshness"`
}

const maxRealtimeWindows = 720 // one hour of 5-second windows

// handleRealtime serves the open 5-second window (partial counts) and the recent ones
// from Redis, falling back to Postgres when Redis is unavailable.
func (s *Server) handleRealtime(w http.ResponseWriter, r *http.Request) {
	n := 12
	if v := r.URL.Query().Get("windows"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 0 || n > maxRealtimeWindows {
			writeError(w, r, touchpoint.Errorf(touchpoint.EInvalid, "windows must be an integer in [0, %d]", maxRealtimeWindows))
			return
		}
	}
	tenant := tenantOf(r.Context())
	if r.URL.Query().Get("view") == "summary" {
		s.handleRealtimeSummary(w, r, tenant)
		return
	}
	now := s.opts.Now()
	step := int64(aggregate.WindowSize / time.Second)
	open := aggregate.BucketStart(aggregate.Window, now)
	from := open - int64(n)*step
	windows, totals, at, source, err := s.realtimeFigures(r.Context(), tenant, from, open)
	if err != nil {
		writeError(w, r, err)
		return
	}
	resp := realtimeResponse{Tenant: tenant, WindowSeconds: int(step), Totals: viewOf(totals),
		Freshness: newFreshness(at, source, now)}
	resp.OpenWindow = windowAt(windows, open, step)
	for b := open - step; b >= from; b -= step {
		resp.Windows = append(resp.Windows, windowAt(windows, b, step))
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) realtimeFigures(ctx context.Context, tenant string, from, to aggregate.Bucket) (map[aggregate.Bucket]*aggregate.Deltas, *aggregate.Deltas, time.Time, string, error) {
	if s.realtime != nil {
		windows, totals, at, err := s.realtime.Snapshot(ctx, tenant, from, to)
		if err == nil {
			return windows, totals, at, "redis", nil
		}
		if s.aggregates.DB == nil {
			return nil, nil, time.Time{}, "", touchpoint.Errorf(touchpoint.EUnavailable, "real-time view unavailable: %v", err)
		}
	}
	if s.aggregates.DB == nil {
		return nil, nil, time.Time{}, "", touchpoint.Errorf(touchpoint.EUnavailable, "metrics are not served by this instance")
	}
	recent, err := s.aggregates.Recent(ctx, tenant, aggregate.BucketTime(from))
	if err != nil {
		return nil, nil, time.Time{}, "", err
	}
	totals, err := s.aggregates.Totals(ctx, tenant)
	if err != nil {
		return nil, nil, time.Time{}, "", err
	}
	return splitByBucket(recent), totals, time.Time{}, "postgres", nil
}

func splitByBucket(d *aggregate.Deltas) map[aggregate.Bucket]*aggregate.Deltas {
	out := map[aggregate.Bucket]*aggregate.Deltas{}
	for b := range bucketsOf(d) {
		one := aggregate.New()
		out[b] = one
	}
	for k, v := range d.Campaigns {
		out[k.Bucket].Campaigns[k] = v
	}
	for k, v := range d.Channels {
		out[k.Bucket].Channels[k] = v
	}
	for k, v := range d.ConversionValues {
		out[k.Bucket].ConversionValues[k] = v
	}
	for k, v := range d.Interactions {
		out[k.Bucket].Interactions[k] = v
	}
	for k, v := range d.Variants {
		out[k.Bucket].Variants[k] = v
	}
	for k, v := range d.EventTypes {
		out[k.Bucket].EventTypes[k] = v
	}
	return out
}

func bucketsOf(d *aggregate.Deltas) map[aggregate.Bucket]bool {
	bs := map[aggregate.Bucket]bool{}
	for k := range d.Campaigns {
		bs[k.Bucket] = true
	}
	for k := range d.Channels {
		bs[k.Bucket] = true
	}
	for k := range d.ConversionValues {
		bs[k.Bucket] = true
	}
	for k := range d.Interactions {
		bs[k.Bucket] = true
	}
	for k := range d.Variants {
		bs[k.Bucket] = true
	}
	for k := range d.EventTypes {
		bs[k.Bucket] = true
	}
	return bs
}

func windowAt(windows map[aggregate.Bucket]*aggregate.Deltas, b, step int64) windowView {
	d := windows[b]
	if d == nil {
		d = aggregate.New()
	}
	return windowView{Start: aggregate.BucketTime(b), End: aggregate.BucketTime(b + step), metricsView: viewOf(d)}
}

// viewOf renders deltas of one window (or the totals) as rows sorted by key.
func viewOf(d *aggregate.Deltas) metricsView {
	v := metricsView{EventTypes: map[string]int64{}, Campaigns: []campaignView{}, Channels: []store.ChannelRow{}, Variants: []variantView{}}
	for k, n := range d.EventTypes {
		v.EventTypes[k.EventType] += n
		v.Events += n
	}
	var campaigns []store.CampaignRow
	for k, c := range d.Campaigns {
		campaigns = append(campaigns, store.CampaignRow{CampaignID: k.CampaignID, Channel: k.Channel, Currency: c.Currency,
			Impressions: c.Impressions, Clicks: c.Clicks, Conversions: c.Conversions,
			CostMicros: c.CostMicros, RevenueMicros: c.RevenueMicros, Events: c.Events})
	}
	slices.SortFunc(campaigns, func(a, b store.CampaignRow) int {
		return strings.Compare(a.CampaignID+"|"+a.Channel, b.CampaignID+"|"+b.Channel)
	})
	v.Campaigns = campaignViews(campaigns).([]campaignView)
	v.Channels = channelRows(d)
	var variants []store.VariantRow
	for k, x := range d.Variants {
		variants = append(variants, store.VariantRow{VariantID: k.VariantID, Views: x.Views, Clicks: x.Clicks,
			Conversions: x.Conversions, EngagementMicros: x.EngagementMicros, EngagementCount: x.EngagementCount})
	}
	slices.SortFunc(variants, func(a, b store.VariantRow) int { return strings.Compare(a.VariantID, b.VariantID) })
	v.Variants = variantViews(variants).([]variantView)
	return v
}

func channelRows(d *aggregate.Deltas) []store.ChannelRow {
	byChannel := map[string]*store.ChannelRow{}
	row := func(ch string) *store.ChannelRow {
		if byChannel[ch] == nil {
			byChannel[ch] = &store.ChannelRow{Channel: ch}
		}
		return byChannel[ch]
	}
	for k, c := range d.Channels {
		r := row(k.Channel)
		r.JourneysStarted += c.JourneysStarted
		r.StageChanges += c.StageChanges
		r.Conversions += c.Conversions
	}
	for k, n := range d.ConversionValues {
		r := row(k.Channel)
		if r.ConversionValueMicros == nil {
			r.ConversionValueMicros = map[string]int64{}
		}
		r.ConversionValueMicros[k.Currency] += n
	}
	for k, n := range d.Interactions {
		r := row(k.Channel)
		if r.Interactions == nil {
			r.Interactions = map[string]int64{}
		}
		r.Interactions[k.InteractionType] += n
	}
	out := make([]store.ChannelRow, 0, len(byChannel))
	for _, r := range byChannel {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b store.ChannelRow) int { return strings.Compare(a.Channel, b.Channel) })
	return out
}

type summaryResponse struct {
	Tenant     string           `json:"tenant"`
	Events     int64            `json:"events"`
	EventTypes map[string]int64 `json:"event_types"`
	Freshness  freshness        `json:"freshness"`
}

// handleRealtimeSummary answers only the running event counts, for dashboards and
// monitors that poll often.
func (s *Server) handleRealtimeSummary(w http.ResponseWriter, r *http.Request, tenant string) {
	types := make([]string, len(events.AllTypes))
	for i, t := range events.AllTypes {
		types[i] = string(t)
	}
	resp := summaryResponse{Tenant: tenant}
	var at time.Time
	var err error
	source := "redis"
	if s.realtime != nil {
		resp.EventTypes, at, err = s.realtime.EventCounts(r.Context(), tenant, types)
	}
	if s.realtime == nil || err != nil {
		source = "postgres"
		resp.EventTypes, err = s.durableEventCounts(r.Context(), tenant)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	for _, n := range resp.EventTypes {
		resp.Events += n
	}
	resp.Freshness = newFreshness(at, source, s.opts.Now())
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) durableEventCounts(ctx context.Context, tenant string) (map[string]int64, error) {
	if s.aggregates.DB == nil {
		return nil, touchpoint.Errorf(touchpoint.EUnavailable, "metrics are not served by this instance")
	}
	totals, err := s.aggregates.Totals(ctx, tenant)
	if err != nil {
		return nil, err
	}
	return viewOf(totals).EventTypes, nil
}
