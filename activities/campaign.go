package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/touchpoint/touchpoint/aggregate"
	"github.com/touchpoint/touchpoint/campaign"
	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/store"
)

// ErrTypeInvalidCampaignEvent fails, without retry, an emit whose event the
// validation rules refuse: retrying would refuse it again.
const ErrTypeInvalidCampaignEvent = "InvalidCampaignEvent"

// EventPublisher writes events to Kafka and returns once they are acknowledged (the
// API's Publisher; cmd/touchpoint wires the worker's producer).
type EventPublisher interface {
	Publish(ctx context.Context, evs []events.Event) error
}

// Campaigns are the activities of a CampaignLifecycle: all its I/O.
type Campaigns struct {
	Aggregates store.Aggregates // streamed (agg_campaign, agg_variant) and synced (platform_campaign_days) metrics
	Store      store.Campaigns
	Publisher  EventPublisher
	Rules      events.Rules // zero: events.DefaultRules
}

// CampaignEventID is the id of a campaign's seq-th event: derived from the workflow
// id (stable across ContinueAsNew and retries), so a retried emit carries the same id
// and the consumer's (tenant, event_id) dedup drops the copy. Hashed to stay within
// the event id's 128 bytes whatever the tenant and campaign ids.
func CampaignEventID(workflowID string, seq int) string {
	h := sha256.Sum256([]byte(workflowID))
	return fmt.Sprintf("cmp-%s-%d", hex.EncodeToString(h[:16]), seq)
}

// EmitInput is one lifecycle event to publish, without its id.
type EmitInput struct {
	Seq   int
	Event events.Event
}

// EmitEvent names, validates and publishes one campaign event and returns its id.
// The timestamp is the publish time: the workflow's clock may be a test's skipped one.
func (a *Campaigns) EmitEvent(ctx context.Context, in EmitInput) (string, error) {
	e := in.Event
	e.EventID = CampaignEventID(activity.GetInfo(ctx).WorkflowExecution.ID, in.Seq)
	now := time.Now().UTC()
	e.Timestamp = now
	e.Normalize()
	if err := a.Rules.Validate(&e, now); err != nil {
		return "", temporal.NewNonRetryableApplicationError(fmt.Sprintf("campaign event %s: %v", e.EventType, err), ErrTypeInvalidCampaignEvent, err)
	}
	if err := a.Publisher.Publish(ctx, []events.Event{e}); err != nil {
		return "", fmt.Errorf("publish %s of campaign %s: %w", e.EventType, e.CampaignID, err)
	}
	return e.EventID, nil
}

// PerformanceInput names the campaign whose performance is read.
type PerformanceInput struct {
	Tenant     string
	CampaignID string
	Channel    events.Channel
	Currency   string
	Since      time.Time // the launch
	Creatives  []string
}

// ReadPerformance returns the campaign's delivery since launch: the platform's synced
// days when a platform reports the campaign (what it bills), else the stream's
// campaign aggregates, plus the stream's per-creative counts (content variants named
// by creative id) for the budget reallocation.
func (a *Campaigns) ReadPerformance(ctx context.Context, in PerformanceInput) (campaign.Performance, error) {
	from, to := in.Since.UTC().Truncate(24*time.Hour), time.Now().UTC().Truncate(24*time.Hour).Add(24*time.Hour)
	p := campaign.Performance{Source: campaign.SourceStreamed}
	synced, ok, err := a.synced(ctx, in, from, to)
	if err != nil {
		return p, err
	}
	if ok {
		p.Source, p.Totals = campaign.SourcePlatform, synced
	} else if p.Totals, err = a.streamed(ctx, in, from, to); err != nil {
		return p, err
	}
	p.Creatives, err = a.creatives(ctx, in, from, to)
	return p, err
}

func (a *Campaigns) synced(ctx context.Context, in PerformanceInput, from, to time.Time) (events.CampaignMetrics, bool, error) {
	rows, _, err := a.Aggregates.PlatformCampaigns(ctx, store.PlatformQuery{Tenant: in.Tenant, From: from, To: to, CampaignID: in.CampaignID})
	if err != nil {
		return events.CampaignMetrics{}, false, fmt.Errorf("read synced metrics: %w", err)
	}
	var m events.CampaignMetrics
	found := false
	for _, r := range rows {
		if in.Currency != "" && r.Currency != in.Currency {
			continue // never add amounts of two currencies
		}
		found = true
		m.Impressions += r.Impressions
		m.Clicks += r.Clicks
		m.Conversions += int64(r.Conversions)
		m.Cost += float64(r.CostMicros) / 1e6
		m.Revenue += float64(r.RevenueMicros) / 1e6
	}
	return m, found, nil
}

func (a *Campaigns) streamed(ctx context.Context, in PerformanceInput, from, to time.Time) (events.CampaignMetrics, error) {
	rows, _, err := a.Aggregates.Campaigns(ctx, store.Query{Tenant: in.Tenant, Level: aggregate.Day, From: from, To: to,
		CampaignID: in.CampaignID, Channel: string(in.Channel)})
	if err != nil {
		return events.CampaignMetrics{}, fmt.Errorf("read streamed metrics: %w", err)
	}
	var m events.CampaignMetrics
	for _, r := range rows {
		m.Impressions += r.Impressions
		m.Clicks += r.Clicks
		m.Conversions += r.Conversions
		m.Cost += float64(r.CostMicros) / 1e6
		m.Revenue += float64(r.RevenueMicros) / 1e6
	}
	return m, nil
}

func (a *Campaigns) creatives(ctx context.Context, in PerformanceInput, from, to time.Time) ([]campaign.CreativeStats, error) {
	var out []campaign.CreativeStats
	for _, id := range in.Creatives {
		rows, _, err := a.Aggregates.Variants(ctx, store.Query{Tenant: in.Tenant, Level: aggregate.Day, From: from, To: to, VariantID: id})
		if err != nil {
			return nil, fmt.Errorf("read creative %s: %w", id, err)
		}
		s := campaign.CreativeStats{ID: id}
		for _, r := range rows {
			s.Impressions += r.Views
			s.Clicks += r.Clicks
			s.Conversions += r.Conversions
		}
		out = append(out, s)
	}
	return out, nil
}

// DecisionInput is a decision to apply.
type DecisionInput struct {
	Tenant     string
	CampaignID string
	Decision   campaign.Decision
}

// Applied says what applying a decision did.
type Applied struct {
	Platform string `json:"platform"`
	Note     string `json:"note"`
}

// ApplyDecision records the decision in the campaign's history and applies it. No
// connector in connectors/ can change a live campaign yet (they read reports and
// propagate erasures); this is where a platform's mutation client will be called, so
// for now the decision is recorded and the event tells downstream systems.
func (a *Campaigns) ApplyDecision(ctx context.Context, in DecisionInput) (Applied, error) {
	applied := Applied{Platform: "none", Note: "recorded; no platform mutation client exists in connectors/"}
	dec, err := json.Marshal(in.Decision)
	if err != nil {
		return applied, fmt.Errorf("encode decision: %w", err)
	}
	ap, _ := json.Marshal(applied)
	err = a.Store.AppendDecision(ctx, in.Tenant, in.CampaignID, store.CampaignDecision{Seq: in.Decision.Seq,
		DecidedAt: in.Decision.At, Trigger: string(in.Decision.Trigger), Decision: dec, Applied: ap})
	return applied, err
}

// SaveState stores the workflow's state in the campaign's row; an ended campaign's
// also records its end and final metrics.
func (a *Campaigns) SaveState(ctx context.Context, st campaign.State) error {
	raw, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode campaign state: %w", err)
	}
	u := store.CampaignUpdate{Status: string(st.Status), State: raw, EndedAt: st.EndedAt, EndReason: st.EndReason}
	if st.Status == campaign.Ended {
		if u.FinalMetrics, err = json.Marshal(st.Metrics); err != nil {
			return fmt.Errorf("encode final metrics: %w", err)
		}
	}
	return a.Store.Save(ctx, st.Tenant, st.Config.CampaignID, u)
}
