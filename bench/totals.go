package bench

import (
	"github.com/touchpoint/touchpoint/events"
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
	t := generator.Totals{
		Campaigns:    map[generator.CampaignKey]generator.CampaignTotals{},
		Channels:     map[generator.ChannelKey]generator.ChannelTotals{},
		Interactions: map[generator.InteractionKey]int64{},
		Variants:     map[generator.VariantKey]generator.VariantTotals{},
		EventsByType: map[string]map[events.Type]int64{},
	}
	for _, c := range r.Campaigns {
		k := generator.CampaignKey{Tenant: tenant, CampaignID: c.CampaignID, Channel: events.Channel(c.Channel)}
		v := t.Campaigns[k]
		v.Impressions += c.Impressions
		v.Clicks += c.Clicks
		v.Conversions += c.Conversions
		v.CostMicros += c.CostMicros
		v.RevenueMicros += c.RevenueMicros
		t.Campaigns[k] = v
	}
	for _, c := range r.Channels {
		addChannel(&t, tenant, c)
	}
	for _, v := range r.Variants {
		k := generator.VariantKey{Tenant: tenant, VariantID: v.VariantID}
		x := t.Variants[k]
		x.Views += v.Views
		x.Clicks += v.Clicks
		x.Conversions += v.Conversions
		x.EngagementMicros += v.EngagementMicros
		x.EngagementCount += v.EngagementCount
		t.Variants[k] = x
	}
	for _, e := range r.EventTypes {
		if t.EventsByType[tenant] == nil {
			t.EventsByType[tenant] = map[events.Type]int64{}
		}
		t.EventsByType[tenant][events.Type(e.EventType)] += e.Events
	}
	return t
}

func addChannel(t *generator.Totals, tenant string, c store.ChannelRow) {
	ch := events.Channel(c.Channel)
	for it, n := range c.Interactions {
		t.Interactions[generator.InteractionKey{Tenant: tenant, Channel: ch, InteractionType: it}] += n
	}
	if c.JourneysStarted == 0 && c.StageChanges == 0 && c.Conversions == 0 && len(c.ConversionValueMicros) == 0 {
		return // a channel with touchpoints only: the generator keeps no channel row for it
	}
	k := generator.ChannelKey{Tenant: tenant, Channel: ch}
	v := t.Channels[k]
	v.JourneysStarted += c.JourneysStarted
	v.StageChanges += c.StageChanges
	v.Conversions += c.Conversions
	for cur, m := range c.ConversionValueMicros {
		if v.ConversionValueMicros == nil {
			v.ConversionValueMicros = map[string]int64{}
		}
		v.ConversionValueMicros[cur] += m
	}
	t.Channels[k] = v
}

// ForTenant is the part of all that belongs to tenant.
func ForTenant(all generator.Totals, tenant string) generator.Totals {
	t := generator.Totals{
		Campaigns:    map[generator.CampaignKey]generator.CampaignTotals{},
		Channels:     map[generator.ChannelKey]generator.ChannelTotals{},
		Interactions: map[generator.InteractionKey]int64{},
		Variants:     map[generator.VariantKey]generator.VariantTotals{},
		EventsByType: map[string]map[events.Type]int64{},
	}
	for k, v := range all.Campaigns {
		if k.Tenant == tenant {
			t.Campaigns[k] = v
		}
	}
	for k, v := range all.Channels {
		if k.Tenant == tenant {
			t.Channels[k] = v
		}
	}
	for k, v := range all.Interactions {
		if k.Tenant == tenant {
			t.Interactions[k] = v
		}
	}
	for k, v := range all.Variants {
		if k.Tenant == tenant {
			t.Variants[k] = v
		}
	}
	if m, ok := all.EventsByType[tenant]; ok {
		t.EventsByType[tenant] = m
	}
	return t
}
