// Package aggregatetest checks aggregates against the generator's independent record
// of exact totals, for the tests of every layer that stores or serves them.
package aggregatetest

import (
	"fmt"
	"reflect"

	"github.com/touchpoint/touchpoint/aggregate"
	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/generator"
)

// Totals sums d's rows at level l over all their buckets, in the shape of
// generator.Totals. At any one level every event counts exactly once, so the result
// must equal the generator's totals for the events that made d.
func Totals(d *aggregate.Deltas, l aggregate.Level) generator.Totals {
	t := generator.Totals{
		Campaigns:    map[generator.CampaignKey]generator.CampaignTotals{},
		Channels:     map[generator.ChannelKey]generator.ChannelTotals{},
		Interactions: map[generator.InteractionKey]int64{},
		Variants:     map[generator.VariantKey]generator.VariantTotals{},
		EventsByType: map[string]map[events.Type]int64{},
	}
	for k, v := range d.Campaigns {
		if k.Level != l {
			continue
		}
		gk := generator.CampaignKey{Tenant: k.Tenant, CampaignID: k.CampaignID, Channel: events.Channel(k.Channel)}
		c := t.Campaigns[gk]
		c.Impressions += v.Impressions
		c.Clicks += v.Clicks
		c.Conversions += v.Conversions
		c.CostMicros += v.CostMicros
		c.RevenueMicros += v.RevenueMicros
		t.Campaigns[gk] = c
	}
	for k, v := range d.Channels {
		if k.Level != l {
			continue
		}
		gk := generator.ChannelKey{Tenant: k.Tenant, Channel: events.Channel(k.Channel)}
		c := t.Channels[gk]
		c.JourneysStarted += v.JourneysStarted
		c.StageChanges += v.StageChanges
		c.Conversions += v.Conversions
		t.Channels[gk] = c
	}
	for k, v := range d.ConversionValues {
		if k.Level != l {
			continue
		}
		// A conversion always counts in Channels too, so the entry exists unless d is
		// inconsistent, which the comparison then shows.
		gk := generator.ChannelKey{Tenant: k.Tenant, Channel: events.Channel(k.Channel)}
		c := t.Channels[gk]
		if c.ConversionValueMicros == nil {
			c.ConversionValueMicros = map[string]int64{}
		}
		c.ConversionValueMicros[k.Currency] += v
		t.Channels[gk] = c
	}
	for k, v := range d.Interactions {
		if k.Level == l {
			t.Interactions[generator.InteractionKey{Tenant: k.Tenant, Channel: events.Channel(k.Channel), InteractionType: k.InteractionType}] += v
		}
	}
	for k, v := range d.Variants {
		if k.Level != l {
			continue
		}
		gk := generator.VariantKey{Tenant: k.Tenant, VariantID: k.VariantID}
		s := t.Variants[gk]
		s.Views += v.Views
		s.Clicks += v.Clicks
		s.Conversions += v.Conversions
		s.EngagementMicros += v.EngagementMicros
		s.EngagementCount += v.EngagementCount
		t.Variants[gk] = s
	}
	for k, v := range d.EventTypes {
		if k.Level != l {
			continue
		}
		byType := t.EventsByType[k.Tenant]
		if byType == nil {
			byType = map[events.Type]int64{}
			t.EventsByType[k.Tenant] = byType
		}
		byType[events.Type(k.EventType)] += v
	}
	return t
}

// Diff describes how got differs from want, map by map and key by key (a few keys
// each), or returns "" when they are equal.
func Diff(got, want generator.Totals) string {
	var out []string
	out = append(out, diffMap("campaigns", got.Campaigns, want.Campaigns)...)
	out = append(out, diffMap("channels", got.Channels, want.Channels)...)
	out = append(out, diffMap("interactions", got.Interactions, want.Interactions)...)
	out = append(out, diffMap("variants", got.Variants, want.Variants)...)
	out = append(out, diffMap("events by type", got.EventsByType, want.EventsByType)...)
	if len(out) == 0 {
		return ""
	}
	return fmt.Sprint(out)
}

// maxDiffs bounds the keys reported per map: a systematic error shows in the first few.
const maxDiffs = 3

func diffMap[K comparable, V any](name string, got, want map[K]V) []string {
	var out []string
	for k := range joinKeys(got, want) {
		g, gok := got[k]
		w, wok := want[k]
		if gok == wok && reflect.DeepEqual(g, w) {
			continue
		}
		if len(out) == maxDiffs {
			out = append(out, name+": ...")
			break
		}
		out = append(out, fmt.Sprintf("%s[%+v]: got %+v (present %t), want %+v (present %t)", name, k, g, gok, w, wok))
	}
	if len(got) != len(want) {
		out = append(out, fmt.Sprintf("%s: %d keys, want %d", name, len(got), len(want)))
	}
	return out
}

func joinKeys[K comparable, V any](a, b map[K]V) map[K]struct{} {
	keys := make(map[K]struct{}, len(a))
	for k := range a {
		keys[k] = struct{}{}
	}
	for k := range b {
		keys[k] = struct{}{}
	}
	return keys
}
