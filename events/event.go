// Package events defines Touchpoint's marketing events: their Go types, the Avro schema
// they travel in through Kafka, the JSON form accepted at the HTTP edge, and the
// validation rules both forms share. It imports nothing else of Touchpoint's.
package events

import "time"

// Type names one of the event types of the specification.
type Type string

// Campaign events report a campaign's lifecycle and the metrics observed since the
// campaign's previous event (increments, so they can be summed into windows).
const (
	CampaignLaunch       Type = "campaign_launch"
	CampaignOptimization Type = "campaign_optimization"
	CampaignTermination  Type = "campaign_termination"
)

// Customer-journey events follow one customer through one journey.
const (
	JourneyStart          Type = "journey_start"
	TouchpointInteraction Type = "touchpoint_interaction"
	ConversionEvent       Type = "conversion_event"
	JourneyStageChange    Type = "journey_stage_change"
)

// Personalization events report what a personalization engine did and how content
// variants performed.
const (
	PersonalizationTrigger Type = "personalization_trigger"
	ContentOptimization    Type = "content_optimization"
	SegmentUpdate          Type = "segment_update"
)

// AllTypes lists every event type in a stable order.
var AllTypes = []Type{
	CampaignLaunch, CampaignOptimization, CampaignTermination,
	JourneyStart, TouchpointInteraction, ConversionEvent, JourneyStageChange,
	PersonalizationTrigger, ContentOptimization, SegmentUpdate,
}

// Family groups event types by the part of the event they fill.
type Family string

// The three families of the specification.
const (
	FamilyCampaign        Family = "campaign"
	FamilyJourney         Family = "journey"
	FamilyPersonalization Family = "personalization"
)

// Family returns the family of t, or "" for an unknown type.
func (t Type) Family() Family {
	switch t {
	case CampaignLaunch, CampaignOptimization, CampaignTermination:
		return FamilyCampaign
	case JourneyStart, TouchpointInteraction, ConversionEvent, JourneyStageChange:
		return FamilyJourney
	case PersonalizationTrigger, ContentOptimization, SegmentUpdate:
		return FamilyPersonalization
	}
	return ""
}

// Channel is a marketing channel.
type Channel string

// The channels of the specification.
const (
	ChannelEmail   Channel = "email"
	ChannelSocial  Channel = "social"
	ChannelDisplay Channel = "display"
	ChannelSearch  Channel = "search"
	ChannelVideo   Channel = "video"
	ChannelNative  Channel = "native"
)

// AllChannels lists every channel in a stable order.
var AllChannels = []Channel{ChannelEmail, ChannelSocial, ChannelDisplay, ChannelSearch, ChannelVideo, ChannelNative}

// OptimizationTrigger says why a campaign was optimized.
type OptimizationTrigger string

// The optimization triggers of the specification.
const (
	TriggerPerformanceThreshold OptimizationTrigger = "performance_threshold"
	TriggerBudgetReallocation   OptimizationTrigger = "budget_reallocation"
	TriggerManual               OptimizationTrigger = "manual_trigger"
)

// Engine is the kind of personalization engine that produced an event.
type Engine string

// The personalization engines of the specification.
const (
	EngineRuleBased Engine = "rule_based"
	EngineML        Engine = "ml_powered"
	EngineRealTime  Engine = "real_time"
)

// SegmentAction says whether a customer entered or left a segment.
type SegmentAction string

// Segment actions.
const (
	SegmentEnter SegmentAction = "enter"
	SegmentExit  SegmentAction = "exit"
)

// Event is one marketing event. The envelope (identity, tenant, time, device) is common
// to all types; the family fields are filled according to EventType and left zero
// otherwise. The same struct is the Avro record and the JSON object.
type Event struct {
	// Envelope.
	EventID   string    `avro:"event_id" json:"event_id"`
	EventType Type      `avro:"event_type" json:"event_type"`
	TenantID  string    `avro:"tenant_id" json:"tenant_id"`
	Timestamp time.Time `avro:"timestamp" json:"timestamp"`
	Device    *Device   `avro:"device" json:"device,omitempty"`

	// Campaign events.
	CampaignID          string              `avro:"campaign_id" json:"campaign_id,omitempty"`
	CampaignName        string              `avro:"campaign_name" json:"campaign_name,omitempty"`
	Channel             Channel             `avro:"channel" json:"channel,omitempty"`
	Currency            string              `avro:"currency" json:"currency,omitempty"`
	PerformanceMetrics  *CampaignMetrics    `avro:"performance_metrics" json:"performance_metrics,omitempty"`
	LaunchConfig        *LaunchConfig       `avro:"launch_config" json:"launch_config,omitempty"`
	OptimizationTrigger OptimizationTrigger `avro:"optimization_trigger" json:"optimization_trigger,omitempty"`
	ChangesMade         *Changes            `avro:"changes_made" json:"changes_made,omitempty"`
	TerminationReason   string              `avro:"termination_reason" json:"termination_reason,omitempty"`

	// Customer-journey and personalization events.
	CustomerID string `avro:"customer_id" json:"customer_id,omitempty"`

	// Customer-journey events.
	JourneyID      string          `avro:"journey_id" json:"journey_id,omitempty"`
	CurrentStage   string          `avro:"current_stage" json:"current_stage,omitempty"`
	PreviousStage  string          `avro:"previous_stage" json:"previous_stage,omitempty"`
	Touchpoints    []Touchpoint    `avro:"touchpoints" json:"touchpoints,omitempty"`
	EntryPoint     *EntryPoint     `avro:"entry_point" json:"entry_point,omitempty"`
	InitialContext *InitialContext `avro:"initial_context" json:"initial_context,omitempty"`
	ConversionData *ConversionData `avro:"conversion_data" json:"conversion_data,omitempty"`

	// Personalization events.
	PersonalizationEngine Engine             `avro:"personalization_engine" json:"personalization_engine,omitempty"`
	TriggerContext        *TriggerContext    `avro:"trigger_context" json:"trigger_context,omitempty"`
	ContentVariations     []ContentVariation `avro:"content_variations" json:"content_variations,omitempty"`
	SegmentID             string             `avro:"segment_id" json:"segment_id,omitempty"`
	SegmentAction         SegmentAction      `avro:"segment_action" json:"segment_action,omitempty"`

	// Sealed holds the personal fields encrypted under the subject's key (package
	// seal); set by Touchpoint's ingest edge, never by producers.
	Sealed *SealedIdentity `avro:"sealed" json:"sealed,omitempty"`
}

// SealedIdentity is an event's personal fields, AES-256-GCM encrypted under the key
// that Token names. Destroying that key makes them unreadable (crypto-shredding).
type SealedIdentity struct {
	Token      string `avro:"token" json:"token"`
	Nonce      []byte `avro:"nonce" json:"nonce"`
	Ciphertext []byte `avro:"ciphertext" json:"ciphertext"`
}

// Device is the device context that cross-device identity resolution works from.
type Device struct {
	DeviceID    string `avro:"device_id" json:"device_id,omitempty"`
	AnonymousID string `avro:"anonymous_id" json:"anonymous_id,omitempty"`
	// UserID is set once the customer is authenticated.
	UserID    string `avro:"user_id" json:"user_id,omitempty"`
	IP        string `avro:"ip" json:"ip,omitempty"`
	UserAgent string `avro:"user_agent" json:"user_agent,omitempty"`
	Geo       *Geo   `avro:"geo" json:"geo,omitempty"`
}

// Geo is a coarse location.
type Geo struct {
	Country   string  `avro:"country" json:"country,omitempty"`
	Region    string  `avro:"region" json:"region,omitempty"`
	City      string  `avro:"city" json:"city,omitempty"`
	Latitude  float64 `avro:"latitude" json:"latitude,omitempty"`
	Longitude float64 `avro:"longitude" json:"longitude,omitempty"`
}

// CampaignMetrics are the increments a campaign event reports. Money is in Currency.
type CampaignMetrics struct {
	Impressions int64   `avro:"impressions" json:"impressions"`
	Clicks      int64   `avro:"clicks" json:"clicks"`
	Conversions int64   `avro:"conversions" json:"conversions"`
	Cost        float64 `avro:"cost" json:"cost"`
	Revenue     float64 `avro:"revenue" json:"revenue"`
}

// LaunchConfig is how a campaign was launched.
type LaunchConfig struct {
	TargetAudience string  `avro:"target_audience" json:"target_audience"`
	Budget         float64 `avro:"budget" json:"budget"`
	// Duration is an ISO 8601 duration such as "P30D" or "PT12H".
	Duration    string   `avro:"duration" json:"duration"`
	CreativeIDs []string `avro:"creative_ids" json:"creative_ids"`
}

// Changes are what a campaign optimization changed. Unset parts did not change.
type Changes struct {
	// BidAdjustment is a relative change: 0.15 raises bids by 15%.
	BidAdjustment     *float64 `avro:"bid_adjustment" json:"bid_adjustment,omitempty"`
	AudienceTargeting string   `avro:"audience_targeting" json:"audience_targeting,omitempty"`
	// BudgetAllocation maps a channel or ad set to its new share of the budget.
	BudgetAllocation map[string]float64 `avro:"budget_allocation" json:"budget_allocation,omitempty"`
	CreativeRotation []string           `avro:"creative_rotation" json:"creative_rotation,omitempty"`
}

// Touchpoint is one interaction of a customer with a channel.
type Touchpoint struct {
	Channel         Channel           `avro:"channel" json:"channel"`
	InteractionType string            `avro:"interaction_type" json:"interaction_type"`
	Timestamp       time.Time         `avro:"timestamp" json:"timestamp"`
	Metadata        map[string]string `avro:"metadata" json:"metadata,omitempty"`
}

// EntryPoint is where a journey started (UTM-style parameters).
type EntryPoint struct {
	Source   string `avro:"source" json:"source"`
	Medium   string `avro:"medium" json:"medium,omitempty"`
	Campaign string `avro:"campaign" json:"campaign,omitempty"`
	Content  string `avro:"content" json:"content,omitempty"`
	Term     string `avro:"term" json:"term,omitempty"`
}

// InitialContext is the customer's context when a journey started.
type InitialContext struct {
	DeviceType     string `avro:"device_type" json:"device_type,omitempty"`
	Location       string `avro:"location" json:"location,omitempty"`
	ReferralSource string `avro:"referral_source" json:"referral_source,omitempty"`
}

// ConversionData is the value of a conversion.
type ConversionData struct {
	Value    float64 `avro:"value" json:"value"`
	Currency string  `avro:"currency" json:"currency"`
	// AttributionWeight is the share of the conversion this event claims, in [0, 1].
	AttributionWeight float64 `avro:"attribution_weight" json:"attribution_weight"`
}

// TriggerContext is what made a personalization engine act.
type TriggerContext struct {
	BehaviorPattern string            `avro:"behavior_pattern" json:"behavior_pattern"`
	ContextData     map[string]string `avro:"context_data" json:"context_data,omitempty"`
	ConfidenceScore float64           `avro:"confidence_score" json:"confidence_score"`
}

// ContentVariation is one content variant and its performance increments.
type ContentVariation struct {
	VariantID          string         `avro:"variant_id" json:"variant_id"`
	ContentType        string         `avro:"content_type" json:"content_type"`
	PerformanceMetrics VariantMetrics `avro:"performance_metrics" json:"performance_metrics"`
}

// VariantMetrics are a content variant's performance increments.
type VariantMetrics struct {
	Views           int64   `avro:"views" json:"views"`
	Clicks          int64   `avro:"clicks" json:"clicks"`
	Conversions     int64   `avro:"conversions" json:"conversions"`
	EngagementScore float64 `avro:"engagement_score" json:"engagement_score"`
}
