package generator

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/touchpoint/touchpoint/events"
)

// recount rebuilds Totals from emitted events alone, following the definitions in the
// Totals docs rather than the generator's code, so the two records check each other.
type recount struct{ Totals }

func (r recount) add(e *events.Event) {
	byType := r.EventsByType[e.TenantID]
	if byType == nil {
		byType = make(map[events.Type]int64)
		r.EventsByType[e.TenantID] = byType
	}
	byType[e.EventType]++
	switch e.EventType.Family() {
	case events.FamilyCampaign:
		r.addCampaign(e)
	case events.FamilyJourney:
		r.addJourney(e)
	}
	for _, v := range e.ContentVariations {
		k := VariantKey{Tenant: e.TenantID, VariantID: v.VariantID}
		vt := r.Variants[k]
		vt.Views += v.PerformanceMetrics.Views
		vt.Clicks += v.PerformanceMetrics.Clicks
		vt.Conversions += v.PerformanceMetrics.Conversions
		vt.EngagementMicros += Micros(v.PerformanceMetrics.EngagementScore)
		vt.EngagementCount++
		r.Variants[k] = vt
	}
}

func (r recount) addCampaign(e *events.Event) {
	k := CampaignKey{Tenant: e.TenantID, CampaignID: e.CampaignID, Channel: e.Channel}
	c := r.Campaigns[k]
	if m := e.PerformanceMetrics; m != nil {
		c.Impressions += m.Impressions
		c.Clicks += m.Clicks
		c.Conversions += m.Conversions
		c.CostMicros += Micros(m.Cost)
		c.RevenueMicros += Micros(m.Revenue)
	}
	r.Campaigns[k] = c
}

func (r recount) addJourney(e *events.Event) {
	for _, tp := range e.Touchpoints {
		r.Interactions[InteractionKey{Tenant: e.TenantID, Channel: tp.Channel, InteractionType: tp.InteractionType}]++
	}
	k := ChannelKey{Tenant: e.TenantID, Channel: e.Touchpoints[len(e.Touchpoints)-1].Channel}
	c := r.Channels[k]
	switch e.EventType {
	case events.JourneyStart:
		c.JourneysStarted++
	case events.JourneyStageChange:
		c.StageChanges++
	case events.ConversionEvent:
		c.Conversions++
		if c.ConversionValueMicros == nil {
			c.ConversionValueMicros = make(map[string]int64)
		}
		c.ConversionValueMicros[e.ConversionData.Currency] += Micros(e.ConversionData.Value)
	default:
		return
	}
	r.Channels[k] = c
}

func TestTotalsMatchEmittedEvents(t *testing.T) {
	r := recount{newTotals()}
	g := each(Config{Seed: 13}, longRun, r.add)
	got := g.Totals()
	if reflect.DeepEqual(got, r.Totals) {
		return
	}
	diff(t, "Campaigns", got.Campaigns, r.Campaigns)
	diff(t, "Channels", got.Channels, r.Channels)
	diff(t, "Interactions", got.Interactions, r.Interactions)
	diff(t, "Variants", got.Variants, r.Variants)
	diff(t, "EventsByType", got.EventsByType, r.EventsByType)
}

// diff reports the first few keys on which two maps disagree.
func diff[K comparable, V any](t *testing.T, name string, got, want map[K]V) {
	t.Helper()
	var lines []string
	for k, w := range want {
		if g, ok := got[k]; !ok || !reflect.DeepEqual(g, w) {
			lines = append(lines, fmt.Sprintf("%v: generator %v, events %v", k, g, w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			lines = append(lines, fmt.Sprintf("%v: generator %v, not in events", k, g))
		}
	}
	for i, l := range lines {
		if i == 5 {
			t.Errorf("%s: %d more differences", name, len(lines)-i)
			break
		}
		t.Errorf("%s %s", name, l)
	}
}

func TestTotalsCoverEveryKind(t *testing.T) {
	g := New(Config{Seed: 13})
	for range longRun {
		g.Next()
	}
	tot := g.Totals()
	var revenue, conversionValue int64
	for _, c := range tot.Campaigns {
		revenue += c.RevenueMicros
	}
	for _, c := range tot.Channels {
		for _, v := range c.ConversionValueMicros {
			conversionValue += v
		}
	}
	// Three tenants, six channels: every pair must have journeys and conversions.
	if len(tot.Channels) != 3*len(events.AllChannels) {
		t.Errorf("%d channel keys, want %d", len(tot.Channels), 3*len(events.AllChannels))
	}
	if revenue == 0 || conversionValue == 0 || len(tot.Variants) == 0 || len(tot.Interactions) == 0 {
		t.Errorf("empty aggregates: revenue %d, conversion value %d, %d variants, %d interactions",
			revenue, conversionValue, len(tot.Variants), len(tot.Interactions))
	}
}
