package generator

import (
	"testing"

	"github.com/touchpoint/touchpoint/events"
)

var tenantCurrency = map[string]string{"tenant-01": "USD", "tenant-02": "EUR", "tenant-03": "GBP"}

func TestCampaignLifecycle(t *testing.T) {
	type state int
	const (
		running state = iota + 1
		ended
	)
	campaigns := make(map[string]state) // tenant/campaign -> state
	var launches, terminations int
	each(Config{Seed: 17}, longRun, func(e *events.Event) {
		if e.EventType.Family() != events.FamilyCampaign {
			return
		}
		if e.Currency != tenantCurrency[e.TenantID] {
			t.Fatalf("%s: currency %q for %s", e.EventID, e.Currency, e.TenantID)
		}
		key := e.TenantID + "/" + e.CampaignID
		switch s := campaigns[key]; {
		case e.EventType == events.CampaignLaunch:
			if s != 0 {
				t.Fatalf("%s: campaign %s launched twice", e.EventID, key)
			}
			if e.LaunchConfig == nil || len(e.LaunchConfig.CreativeIDs) == 0 {
				t.Fatalf("%s: launch without config or creatives", e.EventID)
			}
			campaigns[key] = running
			launches++
		case s != running:
			t.Fatalf("%s: %s on campaign %s in state %d", e.EventID, e.EventType, key, s)
		case e.EventType == events.CampaignTermination:
			campaigns[key] = ended
			terminations++
		case e.ChangesMade == nil || e.PerformanceMetrics == nil:
			t.Fatalf("%s: optimization without changes or metrics", e.EventID)
		}
	})
	// 36 slots; a long run must recycle them with fresh campaigns.
	if terminations == 0 || launches <= 36 {
		t.Errorf("%d launches, %d terminations: campaigns are not recycled", launches, terminations)
	}
}

// TestChannelRates checks that channels keep their character: search clicks through
// several times as often as display.
func TestChannelRates(t *testing.T) {
	g := New(Config{Seed: 19})
	for range longRun {
		g.Next()
	}
	impressions := make(map[events.Channel]int64)
	clicks := make(map[events.Channel]int64)
	for k, c := range g.Totals().Campaigns {
		impressions[k.Channel] += c.Impressions
		clicks[k.Channel] += c.Clicks
	}
	ctr := func(ch events.Channel) float64 { return float64(clicks[ch]) / float64(impressions[ch]) }
	if s, d := ctr(events.ChannelSearch), ctr(events.ChannelDisplay); s < 4*d {
		t.Errorf("search CTR %.4f is not well above display CTR %.4f", s, d)
	}
}

func TestJourneyLifecycle(t *testing.T) {
	stageOf := make(map[string]string) // tenant/journey -> current stage, "" once over
	var conversions, abandonments int
	each(Config{Seed: 23}, longRun, func(e *events.Event) {
		if e.EventType.Family() != events.FamilyJourney {
			return
		}
		key := e.TenantID + "/" + e.JourneyID
		stage, seen := stageOf[key]
		switch {
		case e.EventType == events.JourneyStart:
			if seen {
				t.Fatalf("%s: journey %s started twice", e.EventID, key)
			}
			if e.EntryPoint == nil || e.InitialContext == nil || e.CurrentStage != "awareness" {
				t.Fatalf("%s: journey start without entry point, context or awareness stage", e.EventID)
			}
		case !seen || stage == "":
			t.Fatalf("%s: %s on journey %s that is not running", e.EventID, e.EventType, key)
		case e.EventType == events.JourneyStageChange && e.PreviousStage != stage:
			t.Fatalf("%s: stage change from %q, journey was in %q", e.EventID, e.PreviousStage, stage)
		case e.EventType == events.ConversionEvent:
			if stage != "purchase" {
				t.Fatalf("%s: conversion in stage %q", e.EventID, stage)
			}
			if d := e.ConversionData; d == nil || d.Currency != tenantCurrency[e.TenantID] || d.AttributionWeight != 1 || d.Value <= 0 {
				t.Fatalf("%s: bad conversion data %+v", e.EventID, d)
			}
			conversions++
			stageOf[key] = ""
			return
		}
		if e.CurrentStage == abandonStage {
			abandonments++
			stageOf[key] = ""
			return
		}
		stageOf[key] = e.CurrentStage
	})
	if conversions == 0 || abandonments == 0 {
		t.Errorf("%d conversions, %d abandonments: want both", conversions, abandonments)
	}
	t.Logf("%d journeys, %d converted, %d abandoned", len(stageOf), conversions, abandonments)
}

// TestLoginSticks checks the identity story: once a customer is seen logged in, every
// later event of theirs carries the user id, whichever device it comes from.
func TestLoginSticks(t *testing.T) {
	userOf := make(map[string]string) // tenant/customer -> user id once logged in
	devices := make(map[string]map[string]bool)
	each(Config{Seed: 29}, longRun, func(e *events.Event) {
		if e.Device == nil {
			return
		}
		key := e.TenantID + "/" + e.CustomerID
		if devices[key] == nil {
			devices[key] = make(map[string]bool)
		}
		devices[key][e.Device.DeviceID] = true
		if u := userOf[key]; u != "" && e.Device.UserID != u {
			t.Fatalf("%s: customer %s logged in as %q, event has user %q", e.EventID, key, u, e.Device.UserID)
		}
		if e.Device.UserID != "" {
			userOf[key] = e.Device.UserID
		}
		if e.Device.DeviceID == "" || e.Device.AnonymousID == "" || e.Device.IP == "" || e.Device.Geo == nil {
			t.Fatalf("%s: incomplete device %+v", e.EventID, e.Device)
		}
	})
	multi := 0
	for _, d := range devices {
		if len(d) > 1 {
			multi++
		}
	}
	if len(userOf) == 0 || multi == 0 {
		t.Errorf("%d customers logged in, %d seen on several devices: want both", len(userOf), multi)
	}
}

func TestPersonalization(t *testing.T) {
	member := make(map[string]bool) // tenant/customer/segment
	each(Config{Seed: 31}, longRun, func(e *events.Event) {
		switch e.EventType {
		case events.PersonalizationTrigger:
			if c := e.TriggerContext; c == nil || c.ConfidenceScore < 0 || c.ConfidenceScore > 1 || c.BehaviorPattern == "" {
				t.Fatalf("%s: bad trigger context %+v", e.EventID, c)
			}
		case events.ContentOptimization:
			if n := len(e.ContentVariations); n < 2 || n > 4 {
				t.Fatalf("%s: %d content variations", e.EventID, n)
			}
			seen := make(map[string]bool)
			for _, v := range e.ContentVariations {
				if seen[v.VariantID] {
					t.Fatalf("%s: variant %s twice", e.EventID, v.VariantID)
				}
				seen[v.VariantID] = true
			}
		case events.SegmentUpdate:
			key := e.TenantID + "/" + e.CustomerID + "/" + e.SegmentID
			if want := map[bool]events.SegmentAction{false: events.SegmentEnter, true: events.SegmentExit}[member[key]]; e.SegmentAction != want {
				t.Fatalf("%s: %s %s while member=%v", e.EventID, e.SegmentAction, key, member[key])
			}
			member[key] = !member[key]
		}
	})
}
