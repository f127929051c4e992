package campaign

import (
	"fmt"
	"slices"
	"time"

	"github.com/touchpoint/touchpoint/events"
)

// The events are built here, in workflow code, with an empty event id: the emitting
// activity names them from the workflow id and the event's sequence number.

func (c Config) envelope(tenant string, t events.Type, eventID string, at time.Time) events.Event {
	return events.Event{EventID: eventID, EventType: t, TenantID: tenant, Timestamp: at.UTC(),
		CampaignID: c.CampaignID, CampaignName: c.Name, Channel: c.Channel, Currency: c.currency()}
}

// LaunchEvent is the campaign_launch event of the config.
func (c Config) LaunchEvent(tenant, eventID string, at time.Time) events.Event {
	e := c.envelope(tenant, events.CampaignLaunch, eventID, at)
	e.LaunchConfig = &events.LaunchConfig{TargetAudience: c.TargetAudience, Budget: c.Budget, Duration: c.Duration,
		CreativeIDs: slices.Clone(c.CreativeIDs)}
	return e
}

// OptimizationEvent reports a decision as a campaign_optimization event and marks
// the metrics it carries as reported.
func (st *State) OptimizationEvent(d Decision, at time.Time) events.Event {
	e := st.Config.envelope(st.Tenant, events.CampaignOptimization, "", at)
	e.OptimizationTrigger = d.Trigger
	changes := d.Changes
	e.ChangesMade = &changes
	e.PerformanceMetrics = st.unreported()
	return e
}

// TerminationEvent is the campaign_termination event, with the reason the campaign
// ended and the metrics not yet reported (marking them reported).
func (st *State) TerminationEvent(at time.Time) events.Event {
	e := st.Config.envelope(st.Tenant, events.CampaignTermination, "", at)
	e.TerminationReason = st.EndReason
	e.PerformanceMetrics = st.unreported()
	if e.PerformanceMetrics == nil {
		e.PerformanceMetrics = &events.CampaignMetrics{}
	}
	return e
}

// unreported is the delivery the campaign's events have not carried yet, or nil when
// the numbers came from the stream. Campaign events' performance_metrics are
// increments the consumer adds to the campaign's aggregates: streamed numbers are
// already there, and re-reporting them would count them twice; platform-synced
// numbers are not, so the lifecycle's events carry them in, once.
func (st *State) unreported() *events.CampaignMetrics {
	if st.Source != SourcePlatform {
		return nil
	}
	m, r := st.Metrics, st.Reported
	inc := events.CampaignMetrics{Impressions: max(0, m.Impressions-r.Impressions), Clicks: max(0, m.Clicks-r.Clicks),
		Conversions: max(0, m.Conversions-r.Conversions), Cost: max(0, round4(m.Cost-r.Cost)), Revenue: max(0, round4(m.Revenue-r.Revenue))}
	st.Reported = m
	return &inc
}

// ValidateManual checks a manual optimization's changes: what the event format
// accepts, and creatives that belong to the campaign.
// now is the caller's clock (the workflow's, in a workflow).
func ValidateManual(c Config, reason string, changes events.Changes, now time.Time) error {
	st := State{Tenant: "validate", Config: c}
	e := st.OptimizationEvent(Decision{Trigger: events.TriggerManual, Changes: changes}, now)
	e.EventID = "probe"
	if err := events.DefaultRules().Validate(&e, now); err != nil {
		return err
	}
	for _, id := range changes.CreativeRotation {
		if !slices.Contains(c.CreativeIDs, id) {
			return &events.FieldError{Field: "changes.creative_rotation", Reason: fmt.Sprintf("%q is not a creative of the campaign", id)}
		}
	}
	if len(reason) > 1024 {
		return &events.FieldError{Field: "reason", Reason: "must be at most 1024 bytes"}
	}
	return nil
}
