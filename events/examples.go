package events

import "time"

// Example returns a valid event of type t for tenant at time now, with every field
// its type can carry filled in: a realistic sample for tests, documentation and load
// generation. Its EventID is a fresh NewEventID, so two examples never dedupe against
// each other; its touchpoints lie a few minutes before now. For a type not in
// AllTypes it returns just the envelope, which fails validation.
func Example(t Type, tenant string, now time.Time) Event {
	now = normalizeTime(now)
	e := Event{
		EventID:   NewEventID(),
		EventType: t,
		TenantID:  tenant,
		Timestamp: now,
		Device: &Device{
			DeviceID:    "dev-7f3a9c",
			AnonymousID: "anon-51c2e8",
			UserID:      "user-1042",
			IP:          "203.0.113.24",
			UserAgent:   "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
			Geo: &Geo{
				Country:   "US",
				Region:    "CA",
				City:      "San Francisco",
				Latitude:  37.7749,
				Longitude: -122.4194,
			},
		},
	}

	switch t.Family() {
	case FamilyCampaign:
		e.CampaignID = "cmp-spring-sale"
		e.CampaignName = "Spring Sale — Running Shoes"
		e.Channel = ChannelSearch
		e.Currency = "USD"
		e.PerformanceMetrics = &CampaignMetrics{Impressions: 12500, Clicks: 340, Conversions: 21, Cost: 182.4, Revenue: 1260}
	case FamilyJourney:
		e.CustomerID = "cust-1042"
		e.JourneyID = "jrn-8d21"
		e.CurrentStage = "consideration"
		e.Touchpoints = []Touchpoint{
			{
				Channel:         ChannelEmail,
				InteractionType: "open",
				Timestamp:       now.Add(-20 * time.Minute),
				Metadata:        map[string]string{"utm_source": "newsletter", "utm_campaign": "spring_sale"},
			},
			{
				Channel:         ChannelSearch,
				InteractionType: "click",
				Timestamp:       now.Add(-2 * time.Minute),
				Metadata:        map[string]string{"keyword": "running shoes", "position": "1"},
			},
		}
	case FamilyPersonalization:
		e.CustomerID = "cust-1042"
		e.PersonalizationEngine = EngineML
		e.TriggerContext = &TriggerContext{
			BehaviorPattern: "cart_abandonment",
			ContextData:     map[string]string{"cart_value": "129.99", "items": "2"},
			ConfidenceScore: 0.87,
		}
	}

	switch t {
	case CampaignLaunch:
		e.LaunchConfig = &LaunchConfig{
			TargetAudience: "returning_visitors_30d",
			Budget:         5000,
			Duration:       "P30D",
			CreativeIDs:    []string{"cr-hero-a", "cr-hero-b"},
		}
	case CampaignOptimization:
		bid := 0.15
		e.OptimizationTrigger = TriggerPerformanceThreshold
		e.ChangesMade = &Changes{
			BidAdjustment:     &bid,
			AudienceTargeting: "lookalike_1pct",
			BudgetAllocation:  map[string]float64{"search": 0.6, "social": 0.4},
			CreativeRotation:  []string{"cr-hero-b", "cr-hero-c"},
		}
	case CampaignTermination:
		e.TerminationReason = "budget_exhausted"
	case JourneyStart:
		e.CurrentStage = "awareness"
		e.EntryPoint = &EntryPoint{Source: "google", Medium: "cpc", Campaign: "spring_sale", Content: "hero_banner", Term: "running shoes"}
		e.InitialContext = &InitialContext{DeviceType: "mobile", Location: "San Francisco, US", ReferralSource: "google.com"}
	case ConversionEvent:
		e.CurrentStage = "purchase"
		e.ConversionData = &ConversionData{Value: 129.99, Currency: "USD", AttributionWeight: 0.5}
	case JourneyStageChange:
		e.PreviousStage = "consideration"
		e.CurrentStage = "intent"
	case ContentOptimization:
		e.ContentVariations = []ContentVariation{
			{VariantID: "hero-a", ContentType: "banner", PerformanceMetrics: VariantMetrics{Views: 1800, Clicks: 95, Conversions: 7, EngagementScore: 0.42}},
			{VariantID: "hero-b", ContentType: "banner", PerformanceMetrics: VariantMetrics{Views: 1750, Clicks: 131, Conversions: 12, EngagementScore: 0.58}},
		}
	case SegmentUpdate:
		e.SegmentID = "seg-high-intent"
		e.SegmentAction = SegmentEnter
	}
	return e
}
