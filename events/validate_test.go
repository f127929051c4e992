package events

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

func TestExamplesAreValidAndNormalized(t *testing.T) {
	for _, typ := range AllTypes {
		e := Example(typ, "acme", testNow)
		if err := DefaultRules().Validate(&e, testNow); err != nil {
			t.Errorf("Example(%s) is invalid: %v", typ, err)
		}
		n := Example(typ, "acme", testNow)
		n.EventID = e.EventID
		n.Normalize()
		requireEqual(t, n, e)
	}
	if e := Example("no_such_type", "acme", testNow); DefaultRules().Validate(&e, testNow) == nil {
		t.Error("Example of an unknown type validates")
	}
}

var (
	long129  = strings.Repeat("a", 129)
	long1025 = strings.Repeat("a", 1025)
	badUTF8  = "caf\xe9"
	nan      = math.NaN()
	inf      = math.Inf(1)
)

func ptr[T any](v T) *T { return &v }

// manyStrings returns n distinct non-empty strings.
func manyStrings(n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprintf("id-%d", i)
	}
	return s
}

func manyEntries(n int) map[string]string {
	m := make(map[string]string, n)
	for _, k := range manyStrings(n) {
		m[k] = "v"
	}
	return m
}

// validationCase mutates a valid example of typ; field and reason (a substring) are
// the expected failure, or both empty if the mutated event is still valid.
type validationCase struct {
	name   string
	typ    Type
	mutate func(e *Event)
	field  string
	reason string
}

func TestValidate(t *testing.T) {
	const (
		campaign = CampaignLaunch
		journey  = TouchpointInteraction
		perso    = PersonalizationTrigger
	)
	cases := []validationCase{
		// Envelope.
		{"event_id missing", journey, func(e *Event) { e.EventID = "" }, "event_id", "is required"},
		{"event_id too long", journey, func(e *Event) { e.EventID = long129 }, "event_id", "at most 128 bytes"},
		{"event_id with space", journey, func(e *Event) { e.EventID = "a b" }, "event_id", "printable ASCII"},
		{"event_id not ASCII", journey, func(e *Event) { e.EventID = "é" }, "event_id", "printable ASCII"},
		{"event_id control char", journey, func(e *Event) { e.EventID = "a\x7f" }, "event_id", "printable ASCII"},
		{"event_id 128 bytes", journey, func(e *Event) { e.EventID = long129[:128] }, "", ""},
		{"tenant_id missing", journey, func(e *Event) { e.TenantID = "" }, "tenant_id", "is required"},
		{"tenant_id upper case", journey, func(e *Event) { e.TenantID = "Acme" }, "tenant_id", "must match"},
		{"tenant_id leading dash", journey, func(e *Event) { e.TenantID = "-acme" }, "tenant_id", "must match"},
		{"tenant_id with dot", journey, func(e *Event) { e.TenantID = "acme.io" }, "tenant_id", "must match"},
		{"tenant_id 64 chars", journey, func(e *Event) { e.TenantID = long129[:64] }, "tenant_id", "must match"},
		{"tenant_id 63 chars", journey, func(e *Event) { e.TenantID = "0" + long129[:60] + "_-" }, "", ""},
		{"event_type missing", journey, func(e *Event) { e.EventType = "" }, "event_type", "is required (one of campaign_launch"},
		{"event_type unknown", journey, func(e *Event) { e.EventType = "campaign_start" }, "event_type", `segment_update, got "campaign_start"`},
		{"timestamp missing", journey, func(e *Event) { e.Timestamp = time.Time{} }, "timestamp", "is required"},
		{"timestamp in the future", journey, func(e *Event) { e.Timestamp = testNow.Add(5*time.Minute + time.Millisecond) }, "timestamp", "5m0s in the future"},
		{"timestamp at the skew limit", journey, func(e *Event) { e.Timestamp = testNow.Add(5 * time.Minute) }, "", ""},
		{"timestamp beyond retention", journey, func(e *Event) { e.Timestamp = testNow.Add(-90*24*time.Hour - time.Millisecond) }, "timestamp", "90 days retention"},
		{"timestamp at the retention limit", journey, func(e *Event) { e.Timestamp = testNow.Add(-90 * 24 * time.Hour) }, "", ""},
		{"device absent", journey, func(e *Event) { e.Device = nil }, "", ""},
		{"device.device_id too long", journey, func(e *Event) { e.Device.DeviceID = long129 }, "device.device_id", "at most 128 bytes"},
		{"device.anonymous_id bad UTF-8", journey, func(e *Event) { e.Device.AnonymousID = badUTF8 }, "device.anonymous_id", "valid UTF-8"},
		{"device.user_id too long", journey, func(e *Event) { e.Device.UserID = long129 }, "device.user_id", "at most 128 bytes"},
		{"device.ip invalid", journey, func(e *Event) { e.Device.IP = "999.1.1.1" }, "device.ip", "IPv4 or IPv6"},
		{"device.ip IPv6", journey, func(e *Event) { e.Device.IP = "2001:db8::1" }, "", ""},
		{"device.user_agent too long", journey, func(e *Event) { e.Device.UserAgent = long1025 }, "device.user_agent", "at most 1024 bytes"},
		{"device.geo absent", journey, func(e *Event) { e.Device.Geo = nil }, "", ""},
		{"device.geo.country bad UTF-8", journey, func(e *Event) { e.Device.Geo.Country = badUTF8 }, "device.geo.country", "valid UTF-8"},
		{"device.geo.region too long", journey, func(e *Event) { e.Device.Geo.Region = long1025 }, "device.geo.region", "at most 1024"},
		{"device.geo.city bad UTF-8", journey, func(e *Event) { e.Device.Geo.City = badUTF8 }, "device.geo.city", "valid UTF-8"},
		{"device.geo.latitude over 90", journey, func(e *Event) { e.Device.Geo.Latitude = 90.5 }, "device.geo.latitude", "between -90 and 90"},
		{"device.geo.latitude NaN", journey, func(e *Event) { e.Device.Geo.Latitude = nan }, "device.geo.latitude", "between -90 and 90"},
		{"device.geo.longitude under -180", journey, func(e *Event) { e.Device.Geo.Longitude = -181 }, "device.geo.longitude", "between -180 and 180"},
		{"device.geo at the poles", journey, func(e *Event) { e.Device.Geo.Latitude, e.Device.Geo.Longitude = -90, 180 }, "", ""},

		// Campaign events.
		{"campaign_id missing", campaign, func(e *Event) { e.CampaignID = "" }, "campaign_id", "is required"},
		{"campaign_id too long", campaign, func(e *Event) { e.CampaignID = long129 }, "campaign_id", "at most 128"},
		{"campaign_name missing", campaign, func(e *Event) { e.CampaignName = "" }, "campaign_name", "is required"},
		{"campaign_name too long", campaign, func(e *Event) { e.CampaignName = long1025 }, "campaign_name", "at most 1024"},
		{"channel missing", campaign, func(e *Event) { e.Channel = "" }, "channel", "is required (one of email, social, display, search, video, native)"},
		{"channel unknown", campaign, func(e *Event) { e.Channel = "print" }, "channel", `got "print"`},
		{"currency defaults", campaign, func(e *Event) { e.Currency = "" }, "", ""},
		{"currency lower case", campaign, func(e *Event) { e.Currency = "usd" }, "currency", "ISO 4217"},
		{"currency unknown", campaign, func(e *Event) { e.Currency = "XXX" }, "currency", "ISO 4217"},
		{"currency JPY", campaign, func(e *Event) { e.Currency = "JPY" }, "", ""},
		{"performance_metrics absent", campaign, func(e *Event) { e.PerformanceMetrics = nil }, "", ""},
		{"clicks without impressions", campaign, func(e *Event) { e.PerformanceMetrics = &CampaignMetrics{Clicks: 10} }, "", ""},
		{"impressions negative", campaign, func(e *Event) { e.PerformanceMetrics.Impressions = -1 }, "performance_metrics.impressions", "must not be negative"},
		{"clicks negative", campaign, func(e *Event) { e.PerformanceMetrics.Clicks = -1 }, "performance_metrics.clicks", "must not be negative"},
		{"conversions negative", campaign, func(e *Event) { e.PerformanceMetrics.Conversions = -1 }, "performance_metrics.conversions", "must not be negative"},
		{"cost negative", campaign, func(e *Event) { e.PerformanceMetrics.Cost = -0.01 }, "performance_metrics.cost", "must not be negative"},
		{"cost NaN", campaign, func(e *Event) { e.PerformanceMetrics.Cost = nan }, "performance_metrics.cost", "finite"},
		{"revenue infinite", campaign, func(e *Event) { e.PerformanceMetrics.Revenue = inf }, "performance_metrics.revenue", "finite"},
		{"launch_config missing", campaign, func(e *Event) { e.LaunchConfig = nil }, "launch_config", "is required on campaign_launch"},
		{"launch_config.target_audience bad UTF-8", campaign, func(e *Event) { e.LaunchConfig.TargetAudience = badUTF8 }, "launch_config.target_audience", "valid UTF-8"},
		{"launch_config.budget negative", campaign, func(e *Event) { e.LaunchConfig.Budget = -1 }, "launch_config.budget", "must not be negative"},
		{"launch_config.budget NaN", campaign, func(e *Event) { e.LaunchConfig.Budget = nan }, "launch_config.budget", "finite"},
		{"launch_config.budget zero", campaign, func(e *Event) { e.LaunchConfig.Budget = 0 }, "", ""},
		{"launch_config.duration missing", campaign, func(e *Event) { e.LaunchConfig.Duration = "" }, "launch_config.duration", "is required"},
		{"launch_config.duration prose", campaign, func(e *Event) { e.LaunchConfig.Duration = "30 days" }, "launch_config.duration", "ISO 8601 duration"},
		{"launch_config.duration months", campaign, func(e *Event) { e.LaunchConfig.Duration = "P1M" }, "launch_config.duration", "ambiguous"},
		{"launch_config.duration years", campaign, func(e *Event) { e.LaunchConfig.Duration = "P1Y" }, "launch_config.duration", "ambiguous"},
		{"launch_config.duration zero", campaign, func(e *Event) { e.LaunchConfig.Duration = "PT0S" }, "launch_config.duration", "longer than zero"},
		{"launch_config.duration huge", campaign, func(e *Event) { e.LaunchConfig.Duration = "P" + strings.Repeat("9", 70) + "D" }, "launch_config.duration", "ISO 8601 duration"},
		{"launch_config.duration weeks", campaign, func(e *Event) { e.LaunchConfig.Duration = "P2W" }, "", ""},
		{"launch_config.duration days and hours", campaign, func(e *Event) { e.LaunchConfig.Duration = "P1DT6H" }, "", ""},
		{"launch_config.creative_ids absent", campaign, func(e *Event) { e.LaunchConfig.CreativeIDs = nil }, "", ""},
		{"launch_config.creative_ids 100", campaign, func(e *Event) { e.LaunchConfig.CreativeIDs = manyStrings(100) }, "", ""},
		{"launch_config.creative_ids 101", campaign, func(e *Event) { e.LaunchConfig.CreativeIDs = manyStrings(101) }, "launch_config.creative_ids", "at most 100"},
		{"launch_config.creative_ids empty id", campaign, func(e *Event) { e.LaunchConfig.CreativeIDs[1] = "" }, "launch_config.creative_ids[1]", "is required"},
		{"launch_config.creative_ids long id", campaign, func(e *Event) { e.LaunchConfig.CreativeIDs[0] = long129 }, "launch_config.creative_ids[0]", "at most 128"},
		{"optimization_trigger missing", CampaignOptimization, func(e *Event) { e.OptimizationTrigger = "" }, "optimization_trigger", "is required (one of performance_threshold, budget_reallocation, manual_trigger)"},
		{"optimization_trigger unknown", CampaignOptimization, func(e *Event) { e.OptimizationTrigger = "auto" }, "optimization_trigger", "must be one of"},
		{"optimization_trigger unknown elsewhere", CampaignTermination, func(e *Event) { e.OptimizationTrigger = "auto" }, "optimization_trigger", "must be one of"},
		{"changes_made missing", CampaignOptimization, func(e *Event) { e.ChangesMade = nil }, "changes_made", "is required on campaign_optimization"},
		{"changes_made empty", CampaignOptimization, func(e *Event) { e.ChangesMade = &Changes{} }, "changes_made", "at least one change"},
		{"changes_made bid only", CampaignOptimization, func(e *Event) { e.ChangesMade = &Changes{BidAdjustment: ptr(-0.99)} }, "", ""},
		{"changes_made audience only", CampaignOptimization, func(e *Event) { e.ChangesMade = &Changes{AudienceTargeting: "all"} }, "", ""},
		{"bid_adjustment -1", CampaignOptimization, func(e *Event) { e.ChangesMade.BidAdjustment = ptr(-1.0) }, "changes_made.bid_adjustment", "greater than -1"},
		{"bid_adjustment NaN", CampaignOptimization, func(e *Event) { e.ChangesMade.BidAdjustment = ptr(nan) }, "changes_made.bid_adjustment", "finite"},
		{"bid_adjustment infinite", CampaignOptimization, func(e *Event) { e.ChangesMade.BidAdjustment = ptr(inf) }, "changes_made.bid_adjustment", "finite"},
		{"audience_targeting too long", CampaignOptimization, func(e *Event) { e.ChangesMade.AudienceTargeting = long1025 }, "changes_made.audience_targeting", "at most 1024"},
		{"budget_allocation over 1", CampaignOptimization, func(e *Event) { e.ChangesMade.BudgetAllocation["search"] = 1.5 }, `changes_made.budget_allocation["search"]`, "between 0 and 1"},
		{"budget_allocation NaN", CampaignOptimization, func(e *Event) { e.ChangesMade.BudgetAllocation["social"] = nan }, `changes_made.budget_allocation["social"]`, "between 0 and 1"},
		{"budget_allocation negative", CampaignOptimization, func(e *Event) { e.ChangesMade.BudgetAllocation["social"] = -0.1 }, `changes_made.budget_allocation["social"]`, "between 0 and 1"},
		{"budget_allocation empty key", CampaignOptimization, func(e *Event) { e.ChangesMade.BudgetAllocation[""] = 0 }, `changes_made.budget_allocation[""]`, "key is required"},
		{"creative_rotation empty id", CampaignOptimization, func(e *Event) { e.ChangesMade.CreativeRotation[0] = "" }, "changes_made.creative_rotation[0]", "is required"},
		{"termination_reason too long", CampaignTermination, func(e *Event) { e.TerminationReason = long1025 }, "termination_reason", "at most 1024"},
		{"launch_config validated elsewhere", CampaignTermination, func(e *Event) { e.LaunchConfig = &LaunchConfig{Duration: "P1M"} }, "launch_config.duration", "ambiguous"},
		{"customer_id on campaign", campaign, func(e *Event) { e.CustomerID = "c" }, "customer_id", "not allowed on campaign events"},
		{"touchpoints on campaign", campaign, func(e *Event) { e.Touchpoints = Example(journey, "acme", testNow).Touchpoints }, "touchpoints", "not allowed on campaign events"},
		{"conversion_data on campaign", campaign, func(e *Event) { e.ConversionData = &ConversionData{} }, "conversion_data", "not allowed on campaign events"},
		{"trigger_context on campaign", campaign, func(e *Event) { e.TriggerContext = &TriggerContext{} }, "trigger_context", "not allowed on campaign events"},
		{"segment_action on campaign", campaign, func(e *Event) { e.SegmentAction = SegmentEnter }, "segment_action", "not allowed on campaign events"},

		// Customer-journey events.
		{"customer_id missing", journey, func(e *Event) { e.CustomerID = "" }, "customer_id", "is required"},
		{"journey_id missing", journey, func(e *Event) { e.JourneyID = "" }, "journey_id", "is required"},
		{"journey_id too long", journey, func(e *Event) { e.JourneyID = long129 }, "journey_id", "at most 128"},
		{"current_stage missing", journey, func(e *Event) { e.CurrentStage = "" }, "current_stage", "is required"},
		{"current_stage upper case", journey, func(e *Event) { e.CurrentStage = "Consideration" }, "current_stage", "must match ^[a-z][a-z0-9_]{0,63}$"},
		{"current_stage leading digit", journey, func(e *Event) { e.CurrentStage = "1st" }, "current_stage", "must match"},
		{"current_stage 65 chars", journey, func(e *Event) { e.CurrentStage = long129[:65] }, "current_stage", "must match"},
		{"current_stage 64 chars", journey, func(e *Event) { e.CurrentStage = long129[:63] + "9" }, "", ""},
		{"previous_stage invalid elsewhere", journey, func(e *Event) { e.PreviousStage = "Bad" }, "previous_stage", "must match"},
		{"touchpoints missing", journey, func(e *Event) { e.Touchpoints = nil }, "touchpoints", "at least one touchpoint"},
		{"touchpoints 101", journey, func(e *Event) {
			for len(e.Touchpoints) <= 100 {
				e.Touchpoints = append(e.Touchpoints, e.Touchpoints[0])
			}
		}, "touchpoints", "at most 100"},
		{"touchpoint channel unknown", journey, func(e *Event) { e.Touchpoints[1].Channel = "fax" }, "touchpoints[1].channel", `must be one of email, social, display, search, video, native, got "fax"`},
		{"touchpoint channel missing", journey, func(e *Event) { e.Touchpoints[0].Channel = "" }, "touchpoints[0].channel", "is required"},
		{"touchpoint interaction_type missing", journey, func(e *Event) { e.Touchpoints[0].InteractionType = "" }, "touchpoints[0].interaction_type", "is required"},
		{"touchpoint interaction_type upper case", journey, func(e *Event) { e.Touchpoints[0].InteractionType = "Click" }, "touchpoints[0].interaction_type", "must match"},
		{"touchpoint timestamp missing", journey, func(e *Event) { e.Touchpoints[1].Timestamp = time.Time{} }, "touchpoints[1].timestamp", "is required"},
		{"touchpoint timestamp in the future", journey, func(e *Event) { e.Touchpoints[1].Timestamp = testNow.Add(time.Hour) }, "touchpoints[1].timestamp", "in the future"},
		{"touchpoint timestamp beyond retention", journey, func(e *Event) { e.Touchpoints[0].Timestamp = testNow.Add(-100 * 24 * time.Hour) }, "touchpoints[0].timestamp", "retention"},
		{"touchpoint metadata absent", journey, func(e *Event) { e.Touchpoints[0].Metadata = nil }, "", ""},
		{"touchpoint metadata 50", journey, func(e *Event) { e.Touchpoints[0].Metadata = manyEntries(50) }, "", ""},
		{"touchpoint metadata 51", journey, func(e *Event) { e.Touchpoints[0].Metadata = manyEntries(51) }, "touchpoints[0].metadata", "at most 50"},
		{"touchpoint metadata value bad UTF-8", journey, func(e *Event) { e.Touchpoints[0].Metadata["utm_source"] = badUTF8 }, `touchpoints[0].metadata["utm_source"]`, "valid UTF-8"},
		{"touchpoint metadata value too long", journey, func(e *Event) { e.Touchpoints[1].Metadata["keyword"] = long1025 }, `touchpoints[1].metadata["keyword"]`, "at most 1024"},
		{"touchpoint metadata key too long", journey, func(e *Event) { e.Touchpoints[0].Metadata[long129] = "v" }, "touchpoints[0].metadata[", "key must be at most 128"},
		{"touchpoint metadata key empty", journey, func(e *Event) { e.Touchpoints[0].Metadata[""] = "v" }, `touchpoints[0].metadata[""]`, "key is required"},
		{"entry_point missing", JourneyStart, func(e *Event) { e.EntryPoint = nil }, "entry_point", "is required on journey_start"},
		{"entry_point.source missing", JourneyStart, func(e *Event) { e.EntryPoint.Source = "" }, "entry_point.source", "is required"},
		{"entry_point.medium too long", JourneyStart, func(e *Event) { e.EntryPoint.Medium = long1025 }, "entry_point.medium", "at most 1024"},
		{"entry_point.campaign bad UTF-8", JourneyStart, func(e *Event) { e.EntryPoint.Campaign = badUTF8 }, "entry_point.campaign", "valid UTF-8"},
		{"entry_point.content too long", JourneyStart, func(e *Event) { e.EntryPoint.Content = long1025 }, "entry_point.content", "at most 1024"},
		{"entry_point.term bad UTF-8", JourneyStart, func(e *Event) { e.EntryPoint.Term = badUTF8 }, "entry_point.term", "valid UTF-8"},
		{"entry_point source only", JourneyStart, func(e *Event) { e.EntryPoint = &EntryPoint{Source: "direct"} }, "", ""},
		{"initial_context absent", JourneyStart, func(e *Event) { e.InitialContext = nil }, "", ""},
		{"initial_context.device_type too long", JourneyStart, func(e *Event) { e.InitialContext.DeviceType = long1025 }, "initial_context.device_type", "at most 1024"},
		{"initial_context.location bad UTF-8", JourneyStart, func(e *Event) { e.InitialContext.Location = badUTF8 }, "initial_context.location", "valid UTF-8"},
		{"initial_context.referral_source too long", JourneyStart, func(e *Event) { e.InitialContext.ReferralSource = long1025 }, "initial_context.referral_source", "at most 1024"},
		{"conversion_data missing", ConversionEvent, func(e *Event) { e.ConversionData = nil }, "conversion_data", "is required on conversion_event"},
		{"conversion_data.value negative", ConversionEvent, func(e *Event) { e.ConversionData.Value = -1 }, "conversion_data.value", "must not be negative"},
		{"conversion_data.value infinite", ConversionEvent, func(e *Event) { e.ConversionData.Value = inf }, "conversion_data.value", "finite"},
		{"conversion_data.currency missing", ConversionEvent, func(e *Event) { e.ConversionData.Currency = "" }, "conversion_data.currency", "is required"},
		{"conversion_data.currency unknown", ConversionEvent, func(e *Event) { e.ConversionData.Currency = "DOLLARS" }, "conversion_data.currency", "ISO 4217"},
		{"attribution_weight over 1", ConversionEvent, func(e *Event) { e.ConversionData.AttributionWeight = 1.5 }, "conversion_data.attribution_weight", "between 0 and 1"},
		{"attribution_weight negative", ConversionEvent, func(e *Event) { e.ConversionData.AttributionWeight = -0.1 }, "conversion_data.attribution_weight", "between 0 and 1"},
		{"attribution_weight bounds", ConversionEvent, func(e *Event) { e.ConversionData.AttributionWeight = 1 }, "", ""},
		{"previous_stage missing", JourneyStageChange, func(e *Event) { e.PreviousStage = "" }, "previous_stage", "is required"},
		{"previous_stage invalid", JourneyStageChange, func(e *Event) { e.PreviousStage = "Intent" }, "previous_stage", "must match"},
		{"previous_stage unchanged", JourneyStageChange, func(e *Event) { e.PreviousStage = e.CurrentStage }, "previous_stage", "must differ from current_stage"},
		{"campaign_id on journey", journey, func(e *Event) { e.CampaignID = "c" }, "campaign_id", "not allowed on journey events"},
		{"currency on journey", journey, func(e *Event) { e.Currency = "USD" }, "currency", "not allowed on journey events"},
		{"launch_config on journey", journey, func(e *Event) { e.LaunchConfig = &LaunchConfig{} }, "launch_config", "not allowed on journey events"},
		{"personalization_engine on journey", journey, func(e *Event) { e.PersonalizationEngine = EngineML }, "personalization_engine", "not allowed on journey events"},
		{"content_variations on journey", journey, func(e *Event) { e.ContentVariations = []ContentVariation{{}} }, "content_variations", "not allowed on journey events"},
		{"segment_id on journey", journey, func(e *Event) { e.SegmentID = "s" }, "segment_id", "not allowed on journey events"},

		// Personalization events.
		{"customer_id missing (personalization)", perso, func(e *Event) { e.CustomerID = "" }, "customer_id", "is required"},
		{"personalization_engine missing", perso, func(e *Event) { e.PersonalizationEngine = "" }, "personalization_engine", "is required (one of rule_based, ml_powered, real_time)"},
		{"personalization_engine unknown", perso, func(e *Event) { e.PersonalizationEngine = "neural" }, "personalization_engine", `got "neural"`},
		{"trigger_context missing", perso, func(e *Event) { e.TriggerContext = nil }, "trigger_context", "is required"},
		{"trigger_context missing on segment_update", SegmentUpdate, func(e *Event) { e.TriggerContext = nil }, "trigger_context", "is required"},
		{"behavior_pattern missing", perso, func(e *Event) { e.TriggerContext.BehaviorPattern = "" }, "trigger_context.behavior_pattern", "is required"},
		{"behavior_pattern optional elsewhere", SegmentUpdate, func(e *Event) { e.TriggerContext.BehaviorPattern = "" }, "", ""},
		{"behavior_pattern too long", perso, func(e *Event) { e.TriggerContext.BehaviorPattern = long1025 }, "trigger_context.behavior_pattern", "at most 1024"},
		{"context_data 51", perso, func(e *Event) { e.TriggerContext.ContextData = manyEntries(51) }, "trigger_context.context_data", "at most 50"},
		{"context_data value bad UTF-8", perso, func(e *Event) { e.TriggerContext.ContextData["items"] = badUTF8 }, `trigger_context.context_data["items"]`, "valid UTF-8"},
		{"context_data absent", perso, func(e *Event) { e.TriggerContext.ContextData = nil }, "", ""},
		{"confidence_score over 1", perso, func(e *Event) { e.TriggerContext.ConfidenceScore = 1.01 }, "trigger_context.confidence_score", "between 0 and 1"},
		{"confidence_score negative", perso, func(e *Event) { e.TriggerContext.ConfidenceScore = -0.5 }, "trigger_context.confidence_score", "between 0 and 1"},
		{"confidence_score NaN", perso, func(e *Event) { e.TriggerContext.ConfidenceScore = nan }, "trigger_context.confidence_score", "between 0 and 1"},
		{"content_variations missing", ContentOptimization, func(e *Event) { e.ContentVariations = nil }, "content_variations", "at least one variation"},
		{"content_variations 51", ContentOptimization, func(e *Event) {
			for len(e.ContentVariations) <= 50 {
				e.ContentVariations = append(e.ContentVariations, e.ContentVariations[0])
			}
		}, "content_variations", "at most 50"},
		{"variant_id missing", ContentOptimization, func(e *Event) { e.ContentVariations[1].VariantID = "" }, "content_variations[1].variant_id", "is required"},
		{"variant_id too long", ContentOptimization, func(e *Event) { e.ContentVariations[0].VariantID = long129 }, "content_variations[0].variant_id", "at most 128"},
		{"content_type missing", ContentOptimization, func(e *Event) { e.ContentVariations[0].ContentType = "" }, "content_variations[0].content_type", "is required"},
		{"variant views negative", ContentOptimization, func(e *Event) { e.ContentVariations[1].PerformanceMetrics.Views = -1 }, "content_variations[1].performance_metrics.views", "must not be negative"},
		{"variant clicks negative", ContentOptimization, func(e *Event) { e.ContentVariations[0].PerformanceMetrics.Clicks = -3 }, "content_variations[0].performance_metrics.clicks", "must not be negative"},
		{"variant conversions negative", ContentOptimization, func(e *Event) { e.ContentVariations[0].PerformanceMetrics.Conversions = -1 }, "content_variations[0].performance_metrics.conversions", "must not be negative"},
		{"variant engagement_score NaN", ContentOptimization, func(e *Event) { e.ContentVariations[0].PerformanceMetrics.EngagementScore = nan }, "content_variations[0].performance_metrics.engagement_score", "finite"},
		{"variant engagement_score negative", ContentOptimization, func(e *Event) { e.ContentVariations[0].PerformanceMetrics.EngagementScore = -1 }, "content_variations[0].performance_metrics.engagement_score", "must not be negative"},
		{"content_variations validated elsewhere", perso, func(e *Event) { e.ContentVariations = []ContentVariation{{ContentType: "banner"}} }, "content_variations[0].variant_id", "is required"},
		{"segment_id missing", SegmentUpdate, func(e *Event) { e.SegmentID = "" }, "segment_id", "is required"},
		{"segment_id too long", SegmentUpdate, func(e *Event) { e.SegmentID = long129 }, "segment_id", "at most 128"},
		{"segment_action missing", SegmentUpdate, func(e *Event) { e.SegmentAction = "" }, "segment_action", "is required (one of enter, exit)"},
		{"segment_action unknown", SegmentUpdate, func(e *Event) { e.SegmentAction = "join" }, "segment_action", `got "join"`},
		{"segment_action exit", SegmentUpdate, func(e *Event) { e.SegmentAction = SegmentExit }, "", ""},
		{"segment_action unknown elsewhere", perso, func(e *Event) { e.SegmentAction = "join" }, "segment_action", "must be one of"},
		{"journey_id on personalization", perso, func(e *Event) { e.JourneyID = "j" }, "journey_id", "not allowed on personalization events"},
		{"entry_point on personalization", perso, func(e *Event) { e.EntryPoint = &EntryPoint{} }, "entry_point", "not allowed on personalization events"},
		{"channel on personalization", perso, func(e *Event) { e.Channel = ChannelEmail }, "channel", "not allowed on personalization events"},
		{"performance_metrics on personalization", perso, func(e *Event) { e.PerformanceMetrics = &CampaignMetrics{} }, "performance_metrics", "not allowed on personalization events"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := Example(tc.typ, "acme", testNow)
			tc.mutate(&e)
			err := DefaultRules().Validate(&e, testNow)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate = %v, want a *FieldError for %s", err, tc.field)
			}
			if !strings.HasPrefix(fe.Field, tc.field) || (!strings.HasSuffix(tc.field, "[") && fe.Field != tc.field) ||
				!strings.Contains(fe.Reason, tc.reason) {
				t.Fatalf("Validate = %q, want field %s with reason containing %q", err, tc.field, tc.reason)
			}
			if fe.Error() != fe.Field+": "+fe.Reason {
				t.Fatalf("Error() = %q", fe.Error())
			}
		})
	}
}

func TestValidateReportsTheFirstFailureInAStableOrder(t *testing.T) {
	e := Example(TouchpointInteraction, "acme", testNow)
	e.Timestamp = time.Time{}
	e.TenantID = "Bad"
	e.Touchpoints[1].Channel = "fax"
	if err := DefaultRules().Validate(&e, testNow); err == nil || err.(*FieldError).Field != "tenant_id" {
		t.Fatalf("Validate = %v, want the tenant_id failure", err)
	}

	// Among map entries, the smallest failing key, whatever the iteration order.
	e = Example(TouchpointInteraction, "acme", testNow)
	for _, k := range []string{"m", "b", "x", "d"} {
		e.Touchpoints[0].Metadata[k] = badUTF8
	}
	for range 20 {
		err := DefaultRules().Validate(&e, testNow)
		if err == nil || err.(*FieldError).Field != `touchpoints[0].metadata["b"]` {
			t.Fatalf("Validate = %v, want the entry with key b", err)
		}
	}
}

func TestValidateRules(t *testing.T) {
	e := Example(SegmentUpdate, "acme", testNow)
	e.Timestamp = testNow.Add(-2 * time.Hour)
	if err := (Rules{}).Validate(&e, testNow); err != nil {
		t.Fatalf("zero Rules (defaults) = %v", err)
	}
	err := Rules{Retention: time.Hour}.Validate(&e, testNow)
	if err == nil || !strings.Contains(err.Error(), "timestamp: must not be older than the 1h0m0s retention period") {
		t.Fatalf("Validate = %v, want the 1h retention failure", err)
	}
	e.Timestamp = testNow.Add(10 * time.Minute)
	if err := (Rules{MaxClockSkew: 15 * time.Minute}).Validate(&e, testNow); err != nil {
		t.Fatalf("15m skew = %v", err)
	}
	if got := DefaultRules(); got.Retention != 90*24*time.Hour || got.MaxClockSkew != 5*time.Minute {
		t.Fatalf("DefaultRules = %+v", got)
	}
}

func TestCurrencies(t *testing.T) {
	if n := len(currencies); n < 150 || n > 170 {
		t.Fatalf("%d currencies, want the ~160 active ISO 4217 codes", n)
	}
	for code := range currencies {
		if len(code) != 3 || strings.ToUpper(code) != code {
			t.Errorf("currency %q is not three upper-case letters", code)
		}
	}
	for _, code := range []string{"USD", "EUR", "JPY", "GBP", "CHF", "XOF", "ZWG", "VES"} {
		if !isCurrency(code) {
			t.Errorf("%s is missing", code)
		}
	}
	for _, code := range []string{"XAU", "XXX", "XTS", "BGN", "HRK", "usd", "", "US"} {
		if isCurrency(code) {
			t.Errorf("%q is accepted", code)
		}
	}
}
