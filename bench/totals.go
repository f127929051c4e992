package bench

import (
	"github.com/touchpoint/touchpoint/aggregate"
	"github.com/touchpoint/touchpoint/aggregate/aggregatetest"
	"github.com/touchpoint/touchpoint/generator"
	"github.com/touchpoint/touchpoint/store"
)

// Rows are one tenant's aggregate rows as the query API returns them.
type Rows struct {
	Campaigns  []store.CampaignRow
	Channels   []store.ChannelRow
	Variants   []store.VariantRow
	EventTypes []store.EventTypeRow
}

// Totals sums rows over their buckets into the generator's shape, so the API's
// answer can be compared with what the generator knows it sent.
func (r Rows) Totals(tenant string) generator.Totals {
	return aggregatetest.Totals(r.deltas(tenant), aggregate.Week)
}

// deltas turns the rows back into week-level deltas (bucket 0) of tenant.
func (r Rows) deltas(tenant string) *aggregate.Deltas {
	d := aggregate.New()
	l, b := aggregate.Week, aggregate.Bucket(0)
	for _, c := range r.Campaigns {
		d.Merge(&aggregate.Deltas{Campaigns: map[aggregate.CampaignKey]*aggregate.CampaignDelta{
			{Tenant: tenant, Level: l, Bucket: b, CampaignID: c.CampaignID, Channel: c.Channel}: {
				Currency: c.Currency, Impressions: c.Impressions, Clicks: c.Clicks, Conversions: c.Conversions,
				CostMicros: c.CostMicros, RevenueMicros: c.RevenueMicros, Events: c.Events,
			}}})
	}
	for _, c := range r.Channels {
		k := aggregate.ChannelKey{Tenant: tenant, Level: l, Bucket: b, Channel: c.Channel}
		if c.JourneysStarted != 0 || c.StageChanges != 0 || c.Conversions != 0 {
			d.Merge(&aggregate.Deltas{Channels: map[aggregate.ChannelKey]*aggregate.ChannelDelta{k: {
				JourneysStarted: c.JourneysStarted, StageChanges: c.StageChanges, Conversions: c.Conversions}}})
		}
		for cur, v := range c.ConversionValueMicros {
			d.ConversionValues[aggregate.ConversionValueKey{Tenant: tenant, Level: l, Bucket: b, Channel: c.Channel, Currency: cur}] += v
		}
		for it, n := range c.Interactions {
			d.Interactions[aggregate.InteractionKey{Tenant: tenant, Level: l, Bucket: b, Channel: c.Channel, InteractionType: it}] += n
		}
	}
	for _, v := range r.Variants {
		d.Merge(&aggregate.Deltas{Variants: map[aggregate.VariantKey]*aggregate.VariantDelta{
			{Tenant: tenant, Level: l, Bucket: b, VariantID: v.VariantID}: {
				Views: v.Views, Clicks: v.Clicks, Conversions: v.Conversions,
				EngagementMicros: v.EngagementMicros, EngagementCount: v.EngagementCount,
			}}})
	}
	for _, e := range r.EventTypes {
		d.EventTypes[aggregate.EventTypeKey{Tenant: tenant, Level: l, Bucket: b, EventType: e.EventType}] += e.Events
	}
	return d
}
