// Package aggregate turns marketing events into additive metric deltas at every
// rollup level (5-second windows by event time, hours, days and ISO weeks). It is pure:
// the consumer sums one batch's events here, then writes the deltas to Postgres and
// Redis in one step each.
package aggregate

import (
	"time"
)

// Level is a rollup granularity.
type Level string

// The levels kept exactly, finest first.
const (
	Window Level = "5s"
	Hour   Level = "hour"
	Day    Level = "day"
	Week   Level = "week"
)

// Levels lists every level, finest first.
var Levels = []Level{Window, Hour, Day, Week}

// WindowSize is the width of the tumbling windows.
const WindowSize = 5 * time.Second

// Bucket is the start of a level's bucket as Unix seconds (UTC). Weeks start on
// Monday, as ISO 8601 weeks do.
type Bucket = int64

// CampaignKey identifies a campaign's bucket.
type CampaignKey struct {
	Tenant     string
	Level      Level
	Bucket     Bucket
	CampaignID string
	Channel    string
}

// CampaignDelta sums campaign events' performance_metrics; money in micro-units of
// Currency (the campaign's currency, from its events).
type CampaignDelta struct {
	Currency      string
	Impressions   int64
	Clicks        int64
	Conversions   int64
	CostMicros    int64
	RevenueMicros int64
	Events        int64
}

// ChannelKey identifies a channel's bucket for journey metrics.
type ChannelKey struct {
	Tenant  string
	Level   Level
	Bucket  Bucket
	Channel string
}

// ChannelDelta counts journey events under the channel of their last touchpoint.
type ChannelDelta struct {
	JourneysStarted int64
	StageChanges    int64
	Conversions     int64
}

// ConversionValueKey identifies conversion value by channel and currency.
type ConversionValueKey struct {
	Tenant   string
	Level    Level
	Bucket   Bucket
	Channel  string
	Currency string
}

// InteractionKey identifies touchpoint counts by channel and interaction type.
type InteractionKey struct {
	Tenant          string
	Level           Level
	Bucket          Bucket
	Channel         string
	InteractionType string
}

// VariantKey identifies a content variant's bucket.
type VariantKey struct {
	Tenant    string
	Level     Level
	Bucket    Bucket
	VariantID string
}

// VariantDelta sums content variations; the mean engagement score is
// EngagementMicros / EngagementCount / 1e6.
type VariantDelta struct {
	Views            int64
	Clicks           int64
	Conversions      int64
	EngagementMicros int64
	EngagementCount  int64
}

// EventTypeKey identifies event counts by type.
type EventTypeKey struct {
	Tenant    string
	Level     Level
	Bucket    Bucket
	EventType string
}

// Deltas are the additive changes one batch of events makes at every level.
type Deltas struct {
	Campaigns        map[CampaignKey]*CampaignDelta
	Channels         map[ChannelKey]*ChannelDelta
	ConversionValues map[ConversionValueKey]int64 // micro-units
	Interactions     map[InteractionKey]int64
	Variants         map[VariantKey]*VariantDelta
	EventTypes       map[EventTypeKey]int64
}
