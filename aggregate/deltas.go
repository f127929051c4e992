package aggregate

import (
	"math"

	"github.com/touchpoint/touchpoint/events"
)

// DefaultCurrency is the currency of campaign events that name none, as the event
// specification defines.
const DefaultCurrency = "USD"

// Micros converts a money amount or score to integer micro-units. Sums of micros are
// exact where sums of float64 would drift, which is what lets the rollups add up to
// the same figures at every level.
func Micros(x float64) int64 { return int64(math.Round(x * 1e6)) }

// New returns empty Deltas.
func New() *Deltas {
	return &Deltas{
		Campaigns:        make(map[CampaignKey]*CampaignDelta),
		Channels:         make(map[ChannelKey]*ChannelDelta),
		ConversionValues: make(map[ConversionValueKey]int64),
		Interactions:     make(map[InteractionKey]int64),
		Variants:         make(map[VariantKey]*VariantDelta),
		EventTypes:       make(map[EventTypeKey]int64),
	}
}

// slot is where an event lands at one level: its tenant and the bucket of its event
// time.
type slot struct {
	tenant string
	level  Level
	bucket Bucket
}

// slotsOf returns the event's slot at every level, in the order of Levels, leaving
// out the 5-second window of an event before windowsFrom (Unix seconds). Every
// metric of an event, touchpoints included, is bucketed by the event's own timestamp,
// so one event touches one bucket per level and a batch's rows stay few.
func slotsOf(e *events.Event, windowsFrom int64) (s [4]slot, n int) {
	unix := e.Timestamp.Unix()
	for _, l := range Levels {
		if l == Window && unix < windowsFrom {
			continue
		}
		s[n] = slot{tenant: e.TenantID, level: l, bucket: bucketOf(l, unix)}
		n++
	}
	return s, n
}

// Add adds e at every level. It runs for every event on the hot path, so it looks
// rows up before inserting and allocates only for a row it has not seen before.
func (d *Deltas) Add(e *events.Event) { d.AddSince(e, math.MinInt64) }

// AddSince adds e at every level, but at the 5-second level only when e happened at
// or after windowsFrom (Unix seconds). Windows are kept for a limited time (the
// window retention) and then pruned; a late event older than that would write a
// row per event that nobody can read for long, so it counts in its hour, day and
// week only. Late events scatter over buckets, which makes those rows the dearest.
func (d *Deltas) AddSince(e *events.Event, windowsFrom int64) {
	all, n := slotsOf(e, windowsFrom)
	at := all[:n]
	for _, s := range at {
		d.EventTypes[EventTypeKey{s.tenant, s.level, s.bucket, string(e.EventType)}]++
	}
	switch e.EventType.Family() {
	case events.FamilyCampaign:
		d.addCampaign(at, e)
	case events.FamilyJourney:
		d.addJourney(at, e)
	}
	if e.EventType == events.ContentOptimization {
		d.addVariants(at, e)
	}
}

// addCampaign sums a campaign event's performance_metrics; a launch carries none and
// counts as zeros, so every campaign event still has its row.
func (d *Deltas) addCampaign(at []slot, e *events.Event) {
	currency := e.Currency
	if currency == "" {
		currency = DefaultCurrency
	}
	var m events.CampaignMetrics
	if e.PerformanceMetrics != nil {
		m = *e.PerformanceMetrics
	}
	cost, revenue := Micros(m.Cost), Micros(m.Revenue)
	for _, s := range at {
		k := CampaignKey{s.tenant, s.level, s.bucket, e.CampaignID, string(e.Channel)}
		c := d.Campaigns[k]
		if c == nil {
			c = new(CampaignDelta)
			d.Campaigns[k] = c
		}
		// A campaign reports in one currency; should it ever change, the row takes the
		// latest rather than mixing two currencies' names.
		c.Currency = currency
		c.Impressions += m.Impressions
		c.Clicks += m.Clicks
		c.Conversions += m.Conversions
		c.CostMicros += cost
		c.RevenueMicros += revenue
		c.Events++
	}
}

// addJourney counts every touchpoint under its own channel, and the event itself
// (except a plain touchpoint_interaction, which only reports touchpoints) under the
// channel of its last touchpoint, the one that led to it.
func (d *Deltas) addJourney(at []slot, e *events.Event) {
	if len(e.Touchpoints) == 0 {
		return // invalid: validation requires a touchpoint, so there is no channel to count under
	}
	for i := range e.Touchpoints {
		tp := &e.Touchpoints[i]
		for _, s := range at {
			d.Interactions[InteractionKey{s.tenant, s.level, s.bucket, string(tp.Channel), tp.InteractionType}]++
		}
	}
	if e.EventType == events.TouchpointInteraction {
		return
	}
	channel := string(e.Touchpoints[len(e.Touchpoints)-1].Channel)
	for _, s := range at {
		k := ChannelKey{s.tenant, s.level, s.bucket, channel}
		c := d.Channels[k]
		if c == nil {
			c = new(ChannelDelta)
			d.Channels[k] = c
		}
		switch e.EventType {
		case events.JourneyStart:
			c.JourneysStarted++
		case events.JourneyStageChange:
			c.StageChanges++
		case events.ConversionEvent:
			c.Conversions++
		}
	}
	if cd := e.ConversionData; e.EventType == events.ConversionEvent && cd != nil {
		value := Micros(cd.Value)
		for _, s := range at {
			d.ConversionValues[ConversionValueKey{s.tenant, s.level, s.bucket, channel, cd.Currency}] += value
		}
	}
}

// addVariants sums every variation of a content_optimization event; EngagementCount
// counts the variations so the mean engagement score can be derived from the sums.
func (d *Deltas) addVariants(at []slot, e *events.Event) {
	for i := range e.ContentVariations {
		cv := &e.ContentVariations[i]
		m := &cv.PerformanceMetrics
		engagement := Micros(m.EngagementScore)
		for _, s := range at {
			k := VariantKey{s.tenant, s.level, s.bucket, cv.VariantID}
			v := d.Variants[k]
			if v == nil {
				v = new(VariantDelta)
				d.Variants[k] = v
			}
			v.Views += m.Views
			v.Clicks += m.Clicks
			v.Conversions += m.Conversions
			v.EngagementMicros += engagement
			v.EngagementCount++
		}
	}
}
