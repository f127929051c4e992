package generator

import (
	"maps"
	"math"

	"github.com/touchpoint/touchpoint/events"
)

// CampaignKey identifies one campaign's aggregates.
type CampaignKey struct {
	Tenant, CampaignID string
	Channel            events.Channel
}

// CampaignTotals sums the performance_metrics of a campaign's events. Money is in
// micro-units of the tenant's currency.
type CampaignTotals struct {
	Impressions, Clicks, Conversions, CostMicros, RevenueMicros int64
}

// ChannelKey identifies one channel of one tenant.
type ChannelKey struct {
	Tenant  string
	Channel events.Channel
}

// ChannelTotals counts journey events under the channel of their last touchpoint.
// ConversionValueMicros is keyed by currency and is nil until a conversion is counted.
type ChannelTotals struct {
	JourneysStarted, StageChanges, Conversions int64
	ConversionValueMicros                      map[string]int64
}

// InteractionKey identifies one kind of touchpoint on one channel of one tenant.
type InteractionKey struct {
	Tenant          string
	Channel         events.Channel
	InteractionType string
}

// VariantKey identifies one content variant of one tenant.
type VariantKey struct {
	Tenant, VariantID string
}

// VariantTotals sums a content variant's metrics; EngagementCount is the number of
// variations summed, so EngagementMicros/EngagementCount is the mean engagement score.
type VariantTotals struct {
	Views, Clicks, Conversions, EngagementMicros, EngagementCount int64
}

// Totals are the exact aggregates of a generated stream, the figures a pipeline fed by
// the stream must reproduce. A map holds an entry only for keys some event counted under.
type Totals struct {
	// Campaigns sums every campaign event's performance_metrics (nil counts as zeros).
	Campaigns map[CampaignKey]CampaignTotals
	// Channels counts journey_start, journey_stage_change and conversion_event events.
	Channels map[ChannelKey]ChannelTotals
	// Interactions counts every touchpoint of every journey event under its own channel.
	Interactions map[InteractionKey]int64
	// Variants sums every content variation of every content_optimization event.
	Variants map[VariantKey]VariantTotals
	// EventsByType counts events: tenant -> type -> count.
	EventsByType map[string]map[events.Type]int64
}

// Micros converts a money amount or score to integer micro-units. Generated amounts have
// at most 2 decimals and scores at most 4, so the conversion is exact and sums of micros
// are exact where sums of float64 would drift.
func Micros(x float64) int64 { return int64(math.Round(x * 1e6)) }

// Events returns the number of events counted.
func (t Totals) Events() int64 {
	var n int64
	for _, byType := range t.EventsByType {
		for _, c := range byType {
			n += c
		}
	}
	return n
}

func newTotals() Totals {
	return Totals{
		Campaigns:    make(map[CampaignKey]CampaignTotals),
		Channels:     make(map[ChannelKey]ChannelTotals),
		Interactions: make(map[InteractionKey]int64),
		Variants:     make(map[VariantKey]VariantTotals),
		EventsByType: make(map[string]map[events.Type]int64),
	}
}

// clone returns a deep copy, so a caller holding Totals never sees later events.
func (t Totals) clone() Totals {
	c := Totals{
		Campaigns:    maps.Clone(t.Campaigns),
		Channels:     make(map[ChannelKey]ChannelTotals, len(t.Channels)),
		Interactions: maps.Clone(t.Interactions),
		Variants:     maps.Clone(t.Variants),
		EventsByType: make(map[string]map[events.Type]int64, len(t.EventsByType)),
	}
	for k, v := range t.Channels {
		v.ConversionValueMicros = maps.Clone(v.ConversionValueMicros)
		c.Channels[k] = v
	}
	for tenant, byType := range t.EventsByType {
		c.EventsByType[tenant] = maps.Clone(byType)
	}
	return c
}

// The add methods below take the generator's own integer figures (cents, basis points of
// a score) rather than reading them back from the event, so Totals stay an independent
// record of what was meant to be sent.

func (t Totals) countEvent(tenant string, typ events.Type) {
	byType := t.EventsByType[tenant]
	if byType == nil {
		byType = make(map[events.Type]int64, len(events.AllTypes))
		t.EventsByType[tenant] = byType
	}
	byType[typ]++
}

func (t Totals) addCampaign(k CampaignKey, m campaignFigures) {
	c := t.Campaigns[k]
	c.Impressions += m.impressions
	c.Clicks += m.clicks
	c.Conversions += m.conversions
	c.CostMicros += centsToMicros(m.costCents)
	c.RevenueMicros += centsToMicros(m.revenueCents)
	t.Campaigns[k] = c
}

// channelCount says which ChannelTotals counter a journey event increments.
type channelCount int

const (
	countNone channelCount = iota
	countJourneyStart
	countStageChange
	countConversion
)

func (t Totals) addChannel(k ChannelKey, what channelCount, currency string, valueCents int64) {
	if what == countNone {
		return
	}
	c := t.Channels[k]
	switch what {
	case countJourneyStart:
		c.JourneysStarted++
	case countStageChange:
		c.StageChanges++
	case countConversion:
		c.Conversions++
		if c.ConversionValueMicros == nil {
			c.ConversionValueMicros = make(map[string]int64, 1)
		}
		c.ConversionValueMicros[currency] += centsToMicros(valueCents)
	}
	t.Channels[k] = c
}

func (t Totals) addInteraction(k InteractionKey) { t.Interactions[k]++ }

func (t Totals) addVariant(k VariantKey, m variantFigures) {
	v := t.Variants[k]
	v.Views += m.views
	v.Clicks += m.clicks
	v.Conversions += m.conversions
	v.EngagementMicros += m.engagementBP * 100
	v.EngagementCount++
	t.Variants[k] = v
}

func centsToMicros(cents int64) int64 { return cents * 10_000 }

// ForTenant is the part of t that belongs to tenant.
func (t Totals) ForTenant(tenant string) Totals {
	out := newTotals()
	for k, v := range t.Campaigns {
		if k.Tenant == tenant {
			out.Campaigns[k] = v
		}
	}
	for k, v := range t.Channels {
		if k.Tenant == tenant {
			out.Channels[k] = v
		}
	}
	for k, v := range t.Interactions {
		if k.Tenant == tenant {
			out.Interactions[k] = v
		}
	}
	for k, v := range t.Variants {
		if k.Tenant == tenant {
			out.Variants[k] = v
		}
	}
	if m, ok := t.EventsByType[tenant]; ok {
		out.EventsByType[tenant] = m
	}
	return out
}
